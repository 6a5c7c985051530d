"""badges any verifier accepts (issue 17): random status-list positions, validity periods

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07 09:00:00

Status-list positions: until now an award took the next value of award_status_index_seq,
so its bit's position told anyone reading a status list in what order badges were issued.
From here the sequence's value is moved to a keyed pseudo-random place inside its block of
131,072 positions (a Feistel permutation: a bijection, so positions never repeat and no insert
ever retries). The key is drawn now, per database, and lives only in the function. Awards
issued before keep their positions (their credentials are out there); the sequence moves on
to the next whole block, so old and new positions never meet.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCK = 131072  # app.badges.ob3.STATUS_LIST_SIZE = 2**17

STATUS_INDEX_FUNCTION = """
CREATE FUNCTION mcx_status_index() RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
-- Input: the next value of award_status_index_seq. Output: a position in the same block of
-- 131072 (= 2^17), permuted by a 4-round Feistel network on 18 bits keyed by a per-database
-- secret, cycle-walked back under 2^17. Invariant: a bijection within each block, so two
-- awards never share a position (uq_award_status_index holds without retries).
DECLARE
  n bigint := nextval('award_status_index_seq');
  x integer := (n % 131072)::integer;
  l integer;
  r integer;
  t integer;
BEGIN
  LOOP
    l := x >> 9;
    r := x & 511;
    FOR i IN 1..4 LOOP
      t := l # (('x' || substr(md5('{key}:' || i || ':' || r), 1, 8))::bit(32)::integer & 511);
      l := r;
      r := t;
    END LOOP;
    x := (l << 9) | r;
    EXIT WHEN x < 131072;
  END LOOP;
  RETURN ((n / 131072) * 131072 + x)::integer;
END
$$
"""


def upgrade() -> None:
    op.execute(STATUS_INDEX_FUNCTION.replace("{key}", secrets.token_hex(16)))
    bind = op.get_bind()
    last, called = bind.execute(
        sa.text("SELECT last_value, is_called FROM award_status_index_seq")
    ).one()
    highest = bind.execute(sa.text("SELECT max(status_index) FROM awards")).scalar()
    if called or highest is not None:
        used = max(last, highest or 0)
        op.execute(
            sa.text("SELECT setval('award_status_index_seq', :next, false)").bindparams(
                next=(used // BLOCK + 1) * BLOCK
            )
        )
    op.alter_column("awards", "status_index", server_default=sa.text("mcx_status_index()"))

    op.add_column("credentials", sa.Column("validity_months", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "ck_credential_validity_months",
        "credentials",
        "validity_months IS NULL OR validity_months BETWEEN 1 AND 240",
    )


def downgrade() -> None:
    op.drop_constraint("ck_credential_validity_months", "credentials", type_="check")
    op.drop_column("credentials", "validity_months")
    op.alter_column(
        "awards",
        "status_index",
        server_default=sa.text("nextval('award_status_index_seq')"),
    )
    op.execute("DROP FUNCTION mcx_status_index()")
