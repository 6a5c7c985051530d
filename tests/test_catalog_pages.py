"""The catalogue pages through HTTP: search and filters, the credential page, drafts, escaping."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy import text as sql
from starlette.applications import Starlette

from app.actions import catalog
from app.models import Role
from app.runtime import Runtime
from app.specs import StackSpec
from tests import factories as f
from tests.helpers import log_in

TITLE = re.compile(r'data-testid="catalog-result-link">([^<]+)</a>')
PASSWORD = "factory-password-1"


def titles(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text
    return set(TITLE.findall(page.text))


async def _stack(runtime: Runtime, slug: str, title: str, members: list[str], org: str = "ipa"):
    async with runtime.sessions() as session:
        spec = StackSpec(slug=slug, organisation=org, title=title, credentials=members)
        return await catalog.create_stack(session, spec)


async def _catalogue(runtime: Runtime) -> None:
    """Five visible credentials across two organisations, and a draft and a retired one."""
    await f.credential(
        runtime,
        "coaching",
        title="Collaborative Coaching",
        topic="Effective Coaching",
        summary="Coach a teacher as a partner.",
        alignments=[{"framework": "PSEL", "code": "6"}],
    )
    await f.credential(
        runtime,
        "data",
        title="Data Inquiry",
        topic="Data Literacy",
        competency="Leads a team through student-work protocols.",
        stakes="high",
        alignments=[{"framework": "InTASC", "code": "InTASC 10"}],
    )
    await f.credential(
        runtime,
        "tech",
        title="Digital Citizenship",
        topic="Technology",
        status="pilot",
        pilot_spots=3,
        alignments=[{"framework": "ISTE", "code": "2.3"}],
    )
    await f.organisation(runtime, "ctq")
    await f.credential(
        runtime,
        "strengths",
        organisation="ctq",
        title="Leadership Strengths",
        topic="Teacher Leadership",
    )
    await f.credential(
        runtime,
        "team",
        organisation="ctq",
        title="Teacher-Powered Team",
        topic="Teacher Leadership",
    )
    await f.credential(runtime, "secret", title="Secret Draft", status="draft")
    await f.credential(runtime, "old", title="Old Retired", status="retired")
    await _stack(runtime, "leadership", "Teacher Leadership", ["strengths", "team"], org="ctq")


async def test_catalogue_lists_published_and_pilot_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _catalogue(runtime)
    everything = titles(await client.get("/catalog"))
    assert everything == {
        "Collaborative Coaching",
        "Data Inquiry",
        "Digital Citizenship",
        "Leadership Strengths",
        "Teacher-Powered Team",
    }
    page = await client.get("/catalog")
    assert "Secret Draft" not in page.text and "Old Retired" not in page.text
    assert 'data-testid="catalog-search"' in page.text and 'role="search"' in page.text


async def test_search_and_each_filter_narrow_the_results(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _catalogue(runtime)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"q": "coaching"}, {"Collaborative Coaching"}),  # title
        ({"q": "PARTNER"}, {"Collaborative Coaching"}),  # summary, any case
        ({"q": "student-work protocols"}, {"Data Inquiry"}),  # competency, every word
        ({"q": "coaching protocols"}, set()),
        ({"q": "100%"}, set()),  # LIKE wildcards are literal
        ({"topic": "Teacher Leadership"}, {"Leadership Strengths", "Teacher-Powered Team"}),
        ({"org": "ipa"}, {"Collaborative Coaching", "Data Inquiry", "Digital Citizenship"}),
        ({"stakes": "high"}, {"Data Inquiry"}),
        ({"standard": "PSEL 6"}, {"Collaborative Coaching"}),  # stored as framework + "6"
        ({"standard": "INTASC 10"}, {"Data Inquiry"}),  # stored as "InTASC 10"
        ({"standard": "ISTE"}, {"Digital Citizenship"}),  # a whole framework
        ({"standard": "PSEL 7"}, set()),
        ({"stack": "ctq/leadership"}, {"Leadership Strengths", "Teacher-Powered Team"}),
        ({"stack": "ipa/leadership"}, set()),
        ({"org": "ctq", "q": "team"}, {"Teacher-Powered Team"}),
        ({"org": "ipa", "stakes": "low", "topic": "Technology"}, {"Digital Citizenship"}),
    ]
    for params, expected in cases:
        assert titles(await client.get("/catalog", params=params)) == expected, params


async def test_filters_offer_what_exists_and_keep_the_choice(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _catalogue(runtime)
    page = (await client.get("/catalog", params={"topic": "Data Literacy", "q": "data"})).text
    assert '<option value="Data Literacy" selected>' in page
    assert 'value="data"' in page  # the search box keeps the words: results are linkable
    assert '<option value="PSEL 6">' in page and '<option value="InTASC 10">' in page
    assert '<option value="ISTE">' in page and '<option value="ctq/leadership">' in page
    assert "Secret" not in page


async def test_pilot_cards_show_spots_left(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _catalogue(runtime)
    pilot = await f.credential(runtime, "pilot2", title="Tiny Pilot", status="pilot", pilot_spots=1)
    earner = await f.person(runtime, "earner")
    await f.submitted(client, runtime, await f.token_for(runtime, earner), pilot)
    page = (await client.get("/catalog")).text
    assert "Pilot · 3 spots left" in page
    assert "Pilot · full" in page


async def test_catalogue_query_count_does_not_grow_with_results(
    app: Starlette, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await f.credential(runtime, "one", alignments=[{"framework": "PSEL", "code": "1"}])
        await f.credential(runtime, "two")
        statements.clear()
        assert len(titles(await client.get("/catalog"))) == 2
        few = len(statements)
        for i in range(8):
            await f.credential(runtime, f"more{i}", status="pilot", pilot_spots=5)
        statements.clear()
        assert len(titles(await client.get("/catalog", params={"org": "ipa"}))) == 10
        assert len(statements) == few <= 6
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_credential_page_shows_every_component_and_the_rubric(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.credential(
        runtime,
        "coaching",
        title="Collaborative Coaching",
        competency="Coaches as a partner.",
        key_method="One full cycle.",
        method_components="Set up the partnership.\nGather evidence together.",
        research_resources="Glickman (2018).\nKnight (2007).",
        pd_hours="12.5",
        status="pilot",
        pilot_spots=4,
        alignments=[{"framework": "PSEL", "code": "PSEL 6", "url": "https://www.npbea.org/psel/"}],
    )
    await f.credential(runtime, "first", title="First Step")
    await f.credential(runtime, "third", title="Third Step")
    await _stack(runtime, "coach", "Leadership Coaching", ["first", "coaching", "third"])
    page = await client.get("/credentials/ipa/coaching")
    assert page.status_code == 200
    html = page.text
    for text in ("Coaches as a partner.", "One full cycle.", "Glickman (2018).\nKnight (2007)."):
        assert text in html
    assert "Set up the partnership.\nGather evidence together." in html  # line breaks kept
    assert "Research &amp; resources" in html and "Submission criteria" in html
    assert "Reflection" in html and "Lesson plan" in html and "Optional" in html
    assert 'data-testid="rubric-table"' in html and "<caption>" in html
    for label in ("Not yet", "Approaching", "Meets", "Exceeds", "Plans", "Acts"):
        assert label in html
    assert "every criterion at “Meets” or above" in html
    assert '<a href="https://www.npbea.org/psel/" rel="noopener noreferrer">PSEL 6</a>' in html
    assert "#2 of 3 in" in html and "Leadership Coaching" in html
    assert "12.5 hours" in html and "Peer review" in html and "4 of 4" in html
    assert (
        'data-testid="login-to-start"' in html and "/login?next=/credentials/ipa/coaching" in html
    )
    assert 'data-testid="start-form"' not in html


async def test_logged_in_people_get_the_start_form(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, "coaching")
    await f.person(runtime, "teacher")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    html = (await client.get("/credentials/ipa/coaching")).text
    assert f'action="/credentials/{credential.id}/start"' in html
    assert 'name="csrf_token"' in html and 'name="privacy"' in html
    for value in ("reviewers", "organisation", "public"):
        assert f'<option value="{value}">' in html
    assert 'data-testid="login-to-start"' not in html


async def test_the_start_form_reaches_the_start_endpoint(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """GET /credentials/{org}/{slug} and POST /credentials/{id}/start share a shape: the POST
    must still reach the earner pages' endpoint, and the page then links to the packet."""
    await f.credential(runtime, "coaching")
    await f.person(runtime, "teacher")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    html = (await client.get("/credentials/ipa/coaching")).text
    action = re.search(r'action="(/credentials/[^"]+/start)"', html)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert action and token
    started = await client.post(
        action.group(1), data={"csrf_token": token.group(1), "privacy": "organisation"}
    )
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith("/submissions/")
    again = (await client.get("/credentials/ipa/coaching")).text
    assert 'data-testid="my-submission"' in again and 'data-testid="start-form"' not in again
    without_csrf = await client.post(action.group(1), data={"privacy": "public"})
    assert without_csrf.status_code == 403


async def test_drafts_and_retired_are_hidden_except_from_the_issuers_coordinators(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.credential(runtime, "draft", title="Draft One", status="draft")
    await f.credential(runtime, "old", title="Retired One", status="retired")
    await f.organisation(runtime, "ctq")
    await f.person(runtime, "teacher", [Role.reviewer])
    await f.person(runtime, "other", [Role.coordinator], org="ctq")
    await f.person(runtime, "coord", [Role.coordinator])
    for slug in ("draft", "old"):
        assert (await client.get(f"/credentials/ipa/{slug}")).status_code == 404
    assert (await client.get("/credentials/ipa/nothing")).status_code == 404
    assert (await client.get("/credentials/ctq/draft")).status_code == 404
    for who in ("teacher", "other"):
        await log_in(client, f"{who}@mcx.example", PASSWORD)
        assert (await client.get("/credentials/ipa/draft")).status_code == 404
    await log_in(client, "coord@mcx.example", PASSWORD)
    preview = await client.get("/credentials/ipa/draft")
    assert preview.status_code == 200 and 'data-testid="credential-preview"' in preview.text
    assert 'data-testid="start-form"' not in preview.text
    assert "Draft One" not in (await client.get("/catalog")).text


async def test_credential_texts_are_escaped(client: httpx.AsyncClient, runtime: Runtime) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await f.credential(
        runtime,
        "xss",
        title=f"T {attack}",
        summary=attack,
        topic="Topic <b>",
        competency=attack,
        key_method=attack,
        method_components=attack,
        research_resources=attack,
        submission_criteria=[{"title": f"R {attack}", "kind": "reflection", "description": attack}],
        rubric={
            "criteria": [
                {
                    "title": attack,
                    "levels": [
                        {"label": "<i>no</i>", "points": 0, "descriptor": attack},
                        {"label": "yes", "points": 1, "descriptor": attack},
                    ],
                }
            ]
        },
        alignments=[{"framework": "PSEL", "code": "1", "url": "https://example.org/psel/1"}],
    )
    # Specs refuse such links now; the page must still never link one stored before that.
    async with runtime.engine.begin() as conn:
        await conn.execute(sql("UPDATE alignments SET url = 'javascript:alert(1)'"))
    for path in ("/credentials/ipa/xss", "/catalog", "/catalog?q=%3Cscript%3E"):
        html = (await client.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "<b>" not in html and "<i>no</i>" not in html
    html = (await client.get("/credentials/ipa/xss")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "javascript:" not in html
