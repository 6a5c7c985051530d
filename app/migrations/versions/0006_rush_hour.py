"""rush hour: the live-claim cap held by PostgreSQL, a stored priority for open work (issue 14)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 08:40:00

- `users.live_claims` counts the tasks a person holds in state 'claimed'. A trigger on
  review_tasks keeps it exact whatever statement changes a task, and refuses (SQLSTATE MX001)
  a change that would take a reviewer past `mcx.max_live_claims` (set per connection by MCX).
  The counter row is updated inside the claiming statement, so two claims by one reviewer
  queue on its row lock and the second sees the first: the cap holds under any interleaving.
- `review_tasks.priority` (oldest first, escalations and appeals a day ahead) is kept by a
  trigger, with a partial index over open work, so "first N open tasks" walks an index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_CLAIMS_FUNCTION = """
CREATE FUNCTION mcx_count_live_claims() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cap integer := nullif(current_setting('mcx.max_live_claims', true), '')::integer;
  held integer;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'claimed' AND OLD.reviewer_id IS NOT NULL
     AND NOT (TG_OP = 'UPDATE' AND NEW.state = 'claimed'
              AND NEW.reviewer_id IS NOT DISTINCT FROM OLD.reviewer_id) THEN
    UPDATE users SET live_claims = live_claims - 1 WHERE id = OLD.reviewer_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'claimed' AND NEW.reviewer_id IS NOT NULL
     AND NOT (TG_OP = 'UPDATE' AND OLD.state = 'claimed'
              AND OLD.reviewer_id IS NOT DISTINCT FROM NEW.reviewer_id) THEN
    UPDATE users SET live_claims = live_claims + 1 WHERE id = NEW.reviewer_id
      RETURNING live_claims INTO held;
    IF cap IS NOT NULL AND held > cap THEN
      RAISE EXCEPTION 'reviewer % would hold % live claims (cap %)', NEW.reviewer_id, held, cap
        USING ERRCODE = 'MX001';
    END IF;
  END IF;
  RETURN NULL;
END $$;
"""

PRIORITY_FUNCTION = """
CREATE FUNCTION mcx_task_priority() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.priority := extract(epoch FROM NEW.created_at)
                  - CASE WHEN NEW.reason = 'initial' THEN 0 ELSE 86400 END;
  RETURN NEW;
END $$;
"""


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("live_claims", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_check_constraint("ck_user_live_claims", "users", "live_claims >= 0")
    op.execute(
        "UPDATE users u SET live_claims = held.n FROM (SELECT reviewer_id, count(*) AS n "
        "FROM review_tasks WHERE state = 'claimed' GROUP BY reviewer_id) held "
        "WHERE held.reviewer_id = u.id"
    )
    op.execute(LIVE_CLAIMS_FUNCTION)
    op.execute(
        "CREATE TRIGGER tr_task_live_claims AFTER INSERT OR DELETE OR UPDATE OF state, reviewer_id "
        "ON review_tasks FOR EACH ROW EXECUTE FUNCTION mcx_count_live_claims()"
    )
    op.add_column("review_tasks", sa.Column("priority", sa.Float(), nullable=True))
    op.execute(PRIORITY_FUNCTION)
    op.execute(
        "CREATE TRIGGER tr_task_priority BEFORE INSERT OR UPDATE OF reason, created_at "
        "ON review_tasks FOR EACH ROW EXECUTE FUNCTION mcx_task_priority()"
    )
    op.execute(
        "UPDATE review_tasks SET priority = extract(epoch FROM created_at) "
        "- CASE WHEN reason = 'initial' THEN 0 ELSE 86400 END"
    )
    op.alter_column("review_tasks", "priority", nullable=False)
    op.create_index(
        "ix_task_open_priority",
        "review_tasks",
        ["priority", "id"],
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_open_priority", table_name="review_tasks")
    op.execute("DROP TRIGGER tr_task_priority ON review_tasks")
    op.execute("DROP FUNCTION mcx_task_priority()")
    op.drop_column("review_tasks", "priority")
    op.execute("DROP TRIGGER tr_task_live_claims ON review_tasks")
    op.execute("DROP FUNCTION mcx_count_live_claims()")
    op.drop_constraint("ck_user_live_claims", "users", type_="check")
    op.drop_column("users", "live_claims")
