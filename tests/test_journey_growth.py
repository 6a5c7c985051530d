"""The growth plan (issue 10): goals picked on the page, the gap per standard as a chart, and
recommendations that follow stack order, open standards and what peers earned next."""

from __future__ import annotations

import html
import re

import httpx
from starlette.applications import Starlette

from app.actions import catalog
from app.runtime import Runtime
from app.specs import StackSpec
from tests import factories as f
from tests.journey import decide, reviewers, sign_in, start


def _aligned(*codes: str) -> list[dict[str, str]]:
    return [{"framework": "PSEL", "code": code, "title": f"Standard {code}"} for code in codes]


async def _earn(
    client: httpx.AsyncClient, runtime: Runtime, token: str, credential: object, n: int
) -> None:
    await f.submitted(client, runtime, token, credential)  # type: ignore[arg-type]
    await decide(client, await reviewers(runtime, 2, f"r{n}-"), 3)


async def test_recommendations_follow_stack_order_open_standards_and_peers(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    made = {}
    for slug, extra in (
        ("tl1", {}),
        ("tl2", {}),
        ("tl3", {"alignments": _aligned("PSEL 1")}),
        ("tl4", {}),
        ("broad", {"alignments": _aligned("PSEL 1", "PSEL 2")}),
        ("retired", {"alignments": _aligned("PSEL 2"), "status": "retired"}),
        ("done", {"alignments": _aligned("PSEL 3")}),
        ("also3", {"alignments": _aligned("PSEL 3")}),
    ):
        made[slug] = await f.credential(runtime, slug, title=f"Credential {slug}", **extra)
    async with runtime.sessions() as session:
        stack = await catalog.create_stack(
            session,
            StackSpec(
                slug="tl",
                organisation="ipa",
                title="Teacher Leadership",
                credentials=["tl1", "tl2", "tl3", "tl4"],
            ),
        )
    ada = await f.token_for(runtime, await f.person(runtime, "ada"))
    peer = await f.token_for(runtime, await f.person(runtime, "pia"))
    await _earn(client, runtime, ada, made["tl1"], 1)
    await _earn(client, runtime, ada, made["done"], 2)
    await _earn(client, runtime, peer, made["tl1"], 3)
    await _earn(client, runtime, peer, made["tl4"], 4)

    token = await sign_in(client, "ada@mcx.example")
    await start(client, token, made["tl2"])  # in progress
    before = await client.get("/growth")  # no goals yet: only what peers earned next
    assert re.findall(r'data-source="(\w+)"', before.text) == ["peers"]
    saved = await client.post(
        "/growth",
        data={
            "csrf_token": token,
            "stack": str(stack.id),
            "standard": ["PSEL|PSEL 1", "PSEL|PSEL 2", "PSEL|PSEL 3"],
        },
    )
    assert saved.status_code == 303, saved.text
    page = await client.get("/growth")
    found = re.findall(
        r'data-testid="recommendation" data-source="(\w+)"><a href="[^"]+">([^<]+)</a>'
        r' <span class="meta">([^<]+)</span>',
        page.text,
    )
    assert [(source, title) for source, title, _ in found] == [
        ("stack", "Credential tl3"),  # #1 earned, #2 started: #3 is next
        ("standard", "Credential broad"),  # covers both open standards
        ("peers", "Credential tl4"),  # earned after tl1 by a peer
    ]
    assert html.unescape(found[0][2]) == "Next in Teacher Leadership (#3)"
    assert html.unescape(found[1][2]) == "Aligned to PSEL 1, PSEL 2"
    # The gap: PSEL 3 earned (not open); PSEL 1 and 2 not started; as a chart and a table.
    row = r'data-standard="([^"]+)"><th scope="row">[^<]+</th><td>(\d+)</td>'
    rows = dict(re.findall(row, page.text))
    assert rows == {"PSEL 1": "0", "PSEL 2": "0", "PSEL 3": "1"}
    assert 'data-testid="gap-chart"' in page.text
    assert 'data-segment="earned" data-count="1"' in page.text


async def test_unknown_goals_are_refused_and_change_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.credential(runtime, "one", alignments=_aligned("PSEL 1"))
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    ok = await client.post("/growth", data={"csrf_token": token, "standard": "PSEL|PSEL 1"})
    assert ok.status_code == 303
    for data in (
        {"standard": "PSEL|PSEL 99"},
        {"stack": "not-a-uuid"},
        {"stack": "00000000-0000-0000-0000-000000000001"},
    ):
        refused = await client.post("/growth", data={"csrf_token": token, **data})
        assert refused.status_code == 422
    page = await client.get("/growth")
    assert 'data-standard="PSEL 1"' in page.text
