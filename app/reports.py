"""Reports for recognizers (districts, states, universities): who holds which credential,
PD hours per person and month, and the credit each person earned under the recognition lists
of the recognizer's organisations (app/recognition.py), for the people of the organisations
they recognize for.

A recognizer of organisation O reads the live (not revoked) credential badges of people who
are members of O, in any role; nobody else's. Reads only.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import ActionError, not_found
from app.models import Membership, Organisation, Role, User
from app.recognition import applies, rules_for

HOLDER_COLUMNS = [
    "name",
    "email",
    "school",
    "organisations",
    "credential",
    "issuer",
    "issued_at",
    "pd_hours",
    "badge_url",
]
PD_COLUMNS = ["name", "email", "school", "organisations", "period", "credentials", "pd_hours"]
CREDIT_COLUMNS = [
    "name",
    "email",
    "school",
    "organisations",
    "recognised_by",
    "credit_type",
    "credentials",
    "amount",
]

# A spreadsheet runs a cell that starts with one of these as a formula (a tab or carriage
# return first is skipped by some spreadsheets, and the formula after it still runs).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string starting like a formula gets a `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


HOLDERS_SQL = text(
    """
    SELECT u.name, u.email, coalesce(u.school, '') AS school,
           string_agg(DISTINCT mo.slug, '; ' ORDER BY mo.slug) AS organisations,
           c.title AS credential, io.name AS issuer, a.issued_at, c.pd_hours, a.id AS award_id,
           c.id AS credential_id
      FROM awards a
      JOIN users u ON u.id = a.user_id
      JOIN credentials c ON c.id = a.credential_id
      JOIN organisations io ON io.id = c.organisation_id
      JOIN memberships m ON m.user_id = u.id AND m.organisation_id = ANY(:orgs)
      JOIN organisations mo ON mo.id = m.organisation_id
     WHERE a.revoked_at IS NULL AND a.credential_id IS NOT NULL
       AND (CAST(:credential AS uuid) IS NULL OR a.credential_id = CAST(:credential AS uuid))
       AND a.issued_at >= :since AND a.issued_at < :until
     GROUP BY u.id, u.name, u.email, u.school, c.id, c.title, io.name, a.issued_at, c.pd_hours, a.id
     ORDER BY u.name, u.email, a.issued_at, a.id
    """
)


@dataclass
class Filters:
    organisations: list[uuid.UUID]
    credential: uuid.UUID | None
    since: datetime
    until: datetime

    def params(self) -> dict[str, Any]:
        return {
            "orgs": self.organisations,
            "credential": self.credential,
            "since": self.since,
            "until": self.until,
        }


async def recognized(session: AsyncSession, user: User) -> list[Organisation]:
    """The organisations this person recognizes for (404 when none: the pages do not exist)."""
    rows = await session.exec(
        select(Organisation)
        .join(Membership, col(Membership.organisation_id) == col(Organisation.id))
        .where(Membership.user_id == user.id)
        .where(Membership.role == Role.recognizer)
        .where(col(Membership.suspended_at).is_(None))
        .order_by(col(Organisation.name))
    )
    found = list(rows.all())
    if not found:
        raise not_found("That page")
    return found


def _day(raw: str, name: str) -> date | None:
    """Empty (no bound) or a YYYY-MM-DD date, exactly as the API document says."""
    if not raw:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ActionError("bad_filter", f"{name}: give a date as YYYY-MM-DD.", 422) from None


def parse_filters(query: dict[str, str], organisations: list[Organisation]) -> Filters:
    """Filters from a query string; an organisation outside `organisations` is 404."""
    wanted = query.get("organisation", "")
    if wanted:
        chosen = [o.id for o in organisations if o.slug == wanted]
        if not chosen:
            raise not_found("That organisation")
    else:
        chosen = [o.id for o in organisations]
    credential = None
    if raw := query.get("credential", ""):
        try:
            credential = uuid.UUID(raw)
            if str(credential) != raw.lower():  # braces, "urn:uuid:" or no dashes
                raise ValueError(raw)
        except ValueError:
            raise ActionError("bad_filter", "Credential: choose one from the list.", 422) from None
    since = _day(query.get("from", ""), "From")
    until = _day(query.get("to", ""), "To")
    if since and until and until < since:
        raise ActionError("bad_filter", "To: the end comes on or after the start.", 422)
    start = datetime.combine(since, time(), UTC) if since else datetime(1970, 1, 1, tzinfo=UTC)
    # "to" is inclusive: everything up to the end of that day.
    end = (
        datetime.combine(until + timedelta(days=1), time(), UTC)
        if until
        else datetime(9999, 1, 1, tzinfo=UTC)
    )
    return Filters(chosen, credential, start, end)


async def holders(session: AsyncSession, filters: Filters, base_url: str) -> list[dict[str, Any]]:
    rows = (await session.execute(HOLDERS_SQL, filters.params())).all()
    return [
        {
            "name": r.name,
            "email": r.email,
            "school": r.school,
            "organisations": r.organisations,
            "credential": r.credential,
            "issuer": r.issuer,
            "issued_at": r.issued_at.astimezone(UTC).isoformat(),
            "pd_hours": str(r.pd_hours),
            "badge_url": f"{base_url}/badges/{r.award_id}",
        }
        for r in rows
    ]


def pd_hours(holder_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PD hours per person and month (of issue), from the holders' rows."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for row in holder_rows:
        period = row["issued_at"][:7]
        key = (row["email"], period)
        entry = totals.setdefault(
            key,
            {
                "name": row["name"],
                "email": row["email"],
                "school": row["school"],
                "organisations": row["organisations"],
                "period": period,
                "credentials": 0,
                "pd_hours": Decimal(0),
            },
        )
        entry["credentials"] += 1
        entry["pd_hours"] += Decimal(row["pd_hours"])
    return [
        {**entry, "pd_hours": str(entry["pd_hours"])}
        for _, entry in sorted(totals.items(), key=lambda kv: (kv[1]["name"], kv[0]))
    ]


async def credit(
    session: AsyncSession, filters: Filters, lists: list[uuid.UUID]
) -> list[dict[str, Any]]:
    """Credit per person, recognising list and credit type: each live award counts under a
    list's rule for its credential when the rule was in effect on the day of issue."""
    rows = (await session.execute(HOLDERS_SQL, filters.params())).all()
    rules = await rules_for(session, lists)
    totals: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        issued = r.issued_at.astimezone(UTC).date()
        for rule, list_name in rules.get(r.credential_id, []):
            if not applies(rule, issued):
                continue
            entry = totals.setdefault(
                (r.email, list_name, rule.credit_type),
                {
                    "name": r.name,
                    "email": r.email,
                    "school": r.school,
                    "organisations": r.organisations,
                    "recognised_by": list_name,
                    "credit_type": rule.credit_type,
                    "credentials": 0,
                    "amount": Decimal(0),
                },
            )
            entry["credentials"] += 1
            entry["amount"] += rule.amount
    return [
        {**entry, "amount": str(entry["amount"])}
        for _, entry in sorted(totals.items(), key=lambda kv: (kv[1]["name"], kv[0]))
    ]
