"""Recognizers' reports: who holds what and PD hours, as CSV (parsed with the csv module) and
JSON, filtered; a recognizer reads its own organisations' people only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from app.models import Role, User
from app.reports import HOLDER_COLUMNS, PD_COLUMNS
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import log_in

PASSWORD = "factory-password-1"


async def _earn(
    client: httpx.AsyncClient, runtime: Runtime, earner: User, credential: object, peers: list[str]
) -> None:
    """The earner submits and two peers pass it: a real badge."""
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)  # type: ignore[arg-type]
    for token in peers:
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        assert claim.status_code == 201, claim.text
        task_id = claim.json()["task_id"]
        version, scores = await f.scores_for(client, token, task_id, 3)
        done = await client.post(
            f"/api/v1/tasks/{task_id}/review",
            json={"lease_version": version, "scores": scores, "feedback": "Good."},
            headers=auth(token),
        )
        assert done.status_code == 201, done.text


async def _world(client: httpx.AsyncClient, runtime: Runtime) -> dict[str, object]:
    coaching = await f.credential(runtime, "coaching", title="Coaching", pd_hours="7.5")
    data = await f.credential(runtime, "data", title="Data Teams", pd_hours="3")
    for slug in ("d1", "d2"):
        await f.organisation(runtime, slug)
    alice = await f.person(runtime, "alice", [Role.earner], school="=Lincoln", org="d1")
    bob = await f.person(runtime, "bob", [Role.earner], org="d2")
    carol = await f.person(runtime, "carol")  # nobody's
    peers = [
        await f.token_for(runtime, await f.person(runtime, f"p{i}", [Role.reviewer]))
        for i in range(6)
    ]
    await _earn(client, runtime, alice, coaching, peers[0:2])
    await _earn(client, runtime, alice, data, peers[2:4])
    await _earn(client, runtime, bob, coaching, peers[4:6])
    await _earn(client, runtime, carol, data, peers[0:2])
    await f.person(runtime, "rec1", [Role.recognizer], org="d1")
    await f.person(runtime, "rec2", [Role.recognizer], org="d2")
    return {"coaching": coaching, "data": data}


def _csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return [{"__header__": ",".join(reader.fieldnames or [])}, *rows]


async def test_a_recognizer_reads_its_own_peoples_credentials_as_csv_and_json(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    made = await _world(client, runtime)
    await log_in(client, "rec1@mcx.example", PASSWORD)
    answer = await client.get("/reports/holders.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    header, *rows = _csv(answer.text)
    assert header["__header__"] == ",".join(HOLDER_COLUMNS)
    assert [(r["email"], r["credential"], r["pd_hours"]) for r in rows] == [
        ("alice@mcx.example", "Coaching", "7.50"),
        ("alice@mcx.example", "Data Teams", "3.00"),
    ]
    assert rows[0]["organisations"] == "d1" and rows[0]["issuer"] == "IPA"
    assert rows[0]["school"] == "'=Lincoln"  # never a spreadsheet formula
    assert rows[0]["badge_url"].startswith("http://")
    # Filters: one credential; a period with nothing in it.
    coaching = made["coaching"]
    only = await client.get(f"/reports/holders.json?credential={coaching.id}")  # type: ignore[attr-defined]
    assert [r["credential"] for r in only.json()["rows"]] == ["Coaching"]
    past = await client.get("/reports/holders.json?from=2020-01-01&to=2020-12-31")
    assert past.json()["rows"] == []
    today = datetime.now(UTC).date()
    window = f"from={today - timedelta(days=1)}&to={today}"
    assert len((await client.get(f"/reports/holders.json?{window}")).json()["rows"]) == 2
    # PD hours per person and month.
    pd = await client.get("/reports/pd-hours.csv")
    header, *rows = _csv(pd.text)
    assert header["__header__"] == ",".join(PD_COLUMNS)
    assert [(r["email"], r["credentials"], r["pd_hours"]) for r in rows] == [
        ("alice@mcx.example", "2", "10.50")
    ]
    assert rows[0]["period"] == today.strftime("%Y-%m")
    page = await client.get("/reports/holders")
    assert page.status_code == 200 and page.text.count('data-testid="report-row"') == 2
    assert "bob@mcx.example" not in page.text and "carol@mcx.example" not in page.text
    # Bad filters are refused with a reason.
    for bad in ("from=yesterday", "credential=nope", "from=2026-02-02&to=2026-01-01"):
        assert (await client.get(f"/reports/holders.json?{bad}")).status_code == 422, bad


async def test_another_organisations_recognizer_sees_nothing_it_should_not(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _world(client, runtime)
    await log_in(client, "rec2@mcx.example", PASSWORD)
    rows = (await client.get("/reports/holders.json")).json()["rows"]
    assert [(r["email"], r["credential"]) for r in rows] == [("bob@mcx.example", "Coaching")]
    # Asking for the other district's people: as if it did not exist.
    assert (await client.get("/reports/holders.json?organisation=d1")).status_code == 404
    assert (await client.get("/reports/pd-hours.csv?organisation=d1")).status_code == 404
    csv_rows = _csv((await client.get("/reports/holders.csv")).text)[1:]
    assert {r["email"] for r in csv_rows} == {"bob@mcx.example"}
    # The API with a token says the same; people who recognize nothing get 404.
    rec2 = await f.token_for(runtime, await _user(runtime, "rec2@mcx.example"))
    api = await client.get("/api/v1/reports/holders", headers=auth(rec2))
    assert [r["email"] for r in api.json()["rows"]] == ["bob@mcx.example"]
    await f.person(runtime, "coordinator", [Role.coordinator])
    await log_in(client, "coordinator@mcx.example", PASSWORD)
    assert (await client.get("/reports/holders.json")).status_code == 404
    assert (await client.get("/reports")).status_code == 404
    await log_in(client, "alice@mcx.example", PASSWORD)
    assert (await client.get("/reports/holders.csv")).status_code == 404


async def _user(runtime: Runtime, email: str) -> User:
    from sqlmodel import select

    async with runtime.sessions() as session:
        return (await session.exec(select(User).where(User.email == email))).one()


async def test_csv_cells_never_start_like_a_formula_tab_and_return_included(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # Issue 16: = + - @ were quoted, a leading tab or carriage return was not. The forms strip
    # them, so older or imported rows put them here.
    made = await _world(client, runtime)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET school = :s, name = :n WHERE email = 'alice@mcx.example'"),
            {"s": '\t=HYPERLINK("http://x")', "n": "\r@SUM(A1)"},
        )
        await conn.execute(
            text("UPDATE credentials SET title = :t WHERE id = :id"),
            {"t": "-2+3", "id": made["data"].id},  # type: ignore[attr-defined]
        )
    await log_in(client, "rec1@mcx.example", PASSWORD)
    for path in ("/reports/holders.csv", "/reports/pd-hours.csv"):
        _, *rows = _csv((await client.get(path)).text)
        assert rows and all(r["school"] == '\'\t=HYPERLINK("http://x")' for r in rows), path
        assert all(r["name"] == "'\r@SUM(A1)" for r in rows), path
        for row in rows:
            for column, cell in row.items():
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path, column)
    _, *holders = _csv((await client.get("/reports/holders.csv")).text)
    assert {r["credential"] for r in holders} == {"Coaching", "'-2+3"}
    # An empty cell stays empty (not a lone quote).
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET school = NULL"))
    _, *holders = _csv((await client.get("/reports/holders.csv")).text)
    assert {r["school"] for r in holders} == {""}
