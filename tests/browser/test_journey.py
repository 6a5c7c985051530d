"""The earner's journey (issue 10) in a real browser at phone size: a draft survives a reload
and a second device; the self-check blocks a packet missing a required artifact and names it;
a study group member comments on a draft and the owner sees it arrive live; a third "not yet"
offers coaching, live. Every page is checked with axe-core."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import Locator, Page, expect
from sqlmodel import select

from app.actions import groups, integrity
from app.actions.growth import set_goals
from app.actions.submissions import start_submission
from app.models import Credential, Role, SubmissionVersion, User
from app.runtime import Runtime
from tests import factories as f
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import assert_accessible, login
from tests.journey import decide, reviewers

PASSWORD = "factory-password-1"
LIVE_MS = 20_000
REFLECTION = (
    "We tried the think-aloud protocol in pairs. Exit tickets showed that most students could "
    "explain their reasoning; next time I will pair them differently."
)
CRITERIA = [
    {"title": "Reflection", "kind": "reflection", "required": True},
    {"title": "Lesson plan", "kind": "document", "required": True},
]


async def phone_of(phone: ContextFactory, user: User) -> Page:
    page = await (await phone()).new_page()
    await login(page, user.email, PASSWORD)
    return page


async def _packet(server: LiveServer, earner: User, credential: Credential) -> str:
    async with server.runtime.sessions() as session:
        submission = await start_submission(session, earner, credential.id)
    return str(submission.id)


def reflection_box(page: Page) -> tuple[Locator, Locator]:
    card = page.locator('[data-testid="criterion"][data-criterion-kind="reflection"]')
    return card.get_by_test_id("reflection-input"), card.get_by_test_id("save-state")


async def test_a_draft_survives_a_reload_and_a_second_device(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    credential = await f.credential(live_server.runtime, submission_criteria=CRITERIA)
    earner = await f.person(live_server.runtime, "ada")
    submission_id = await _packet(live_server, earner, credential)

    page = await phone_of(phone, earner)
    await page.goto(f"/submissions/{submission_id}")
    text, said = reflection_box(page)
    await text.fill(REFLECTION)  # typed, never a Save button
    await expect(said).to_contain_text("Saved at", timeout=LIVE_MS)
    await expect(page.get_by_test_id("reflection-count")).to_have_text(
        f"{len(REFLECTION)} of 20,000 characters"
    )
    # The page agrees it is there: no longer "still needed" (the lesson plan still is).
    await expect(page.locator('[data-missing="Reflection"]')).to_have_count(0)
    await expect(page.locator('[data-missing="Lesson plan"]')).to_have_count(1)
    await assert_accessible(page)
    await shot(page, "draft-saved")

    await page.reload()
    text, _ = reflection_box(page)
    await expect(text).to_have_value(REFLECTION)

    laptop = await phone_of(phone, earner)  # another browser: nothing shared but the account
    await laptop.goto(f"/submissions/{submission_id}")
    text, said = reflection_box(laptop)
    await expect(text).to_have_value(REFLECTION)
    # Editing there saves too, and the phone sees it on its next load.
    await text.fill(REFLECTION + " Added on the laptop.")
    await expect(said).to_contain_text("Saved at", timeout=LIVE_MS)
    await page.reload()
    await expect(reflection_box(page)[0]).to_have_value(REFLECTION + " Added on the laptop.")

    # The laptop cannot reach the server (every save fails) and the tab is closed: the typing
    # is not lost. It waits in the browser's storage for the next visit, and the closing tab
    # makes a last try that the browser delivers on its own; whichever lands first, the
    # server ends up with it.
    offline_text = REFLECTION + " Written on the train."
    context = laptop.context
    await context.route("**/drafts/**", lambda route: route.abort("internetdisconnected"))
    text, said = reflection_box(laptop)
    await text.fill(offline_text)
    await expect(said).to_contain_text("Not saved yet", timeout=LIVE_MS)
    stored = await laptop.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.startsWith('mcx:draft:'))"
    )
    assert len(stored) == 1, stored
    await laptop.close()
    await context.unroute("**/drafts/**")
    back = await context.new_page()
    await back.goto(f"/submissions/{submission_id}")
    text, said = reflection_box(back)
    await expect(text).to_have_value(offline_text)
    await expect(said).to_contain_text("Saved", timeout=LIVE_MS)
    await page.reload()
    await expect(reflection_box(page)[0]).to_have_value(offline_text)
    # Once the server has it, the browser's copy is dropped.
    await back.wait_for_function(
        "() => !Object.keys(localStorage).some((k) => k.startsWith('mcx:draft:'))"
    )


async def test_the_self_check_blocks_a_packet_missing_a_required_artifact(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    credential = await f.credential(live_server.runtime, submission_criteria=CRITERIA)
    earner = await f.person(live_server.runtime, "ada")
    submission_id = await _packet(live_server, earner, credential)
    page = await phone_of(phone, earner)
    await page.goto(f"/submissions/{submission_id}")
    text, said = reflection_box(page)
    await text.fill(REFLECTION)
    await expect(said).to_contain_text("Saved at", timeout=LIVE_MS)

    async with page.expect_navigation():
        await page.get_by_test_id("self-check-link").tap()
    blocked = page.get_by_test_id("selfcheck-blocked")
    await expect(blocked).to_be_visible()
    await expect(blocked).to_contain_text("'Lesson plan': required, and not added yet")
    await expect(page.get_by_test_id("selfcheck-submit")).to_have_count(0)
    reflection = page.locator('[data-testid="check-item"][data-criterion-title="Reflection"]')
    await expect(reflection).to_contain_text("Ready")
    await assert_accessible(page)
    await shot(page, "self-check-blocked")


async def test_a_group_members_comment_reaches_the_owner_live(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    owner = await f.person(runtime, "ada")
    member = await f.person(runtime, "ben")
    submission_id = await _packet(live_server, owner, credential)
    async with runtime.sessions() as session:
        group = await groups.create_group(
            session, owner, "Tuesday PLC", credential_id=credential.id
        )

    mine = await phone_of(phone, owner)
    await mine.goto(f"/submissions/{submission_id}")
    text, said = reflection_box(mine)
    await text.fill(REFLECTION)
    await expect(said).to_contain_text("Saved at", timeout=LIVE_MS)
    await mine.evaluate("() => { window.__mcxSamePage = true; }")

    theirs = await phone_of(phone, member)
    await theirs.goto(f"/groups/join/{group.invite_code}")
    await assert_accessible(theirs)
    async with theirs.expect_navigation():
        await theirs.get_by_test_id("group-join").tap()
    await expect(theirs.get_by_test_id("member-progress")).to_have_count(2)
    await assert_accessible(theirs)
    async with theirs.expect_navigation():
        await theirs.get_by_role("link", name="Read and comment (Ada, Credential coaching)").tap()
    await expect(theirs.get_by_text(REFLECTION)).to_be_visible()
    await assert_accessible(theirs)
    card = theirs.locator('[data-testid="criterion"][data-criterion-title="Reflection"]')
    await card.get_by_test_id("comment-input").fill("Say which pairings you will try next.")
    async with theirs.expect_navigation():
        await card.get_by_test_id("comment-send").tap()

    comment = mine.get_by_test_id("group-comment")
    await expect(comment).to_contain_text("Say which pairings you will try next.", timeout=LIVE_MS)
    await expect(comment).to_contain_text("Ben")
    assert await mine.evaluate("() => window.__mcxSamePage === true"), "the owner's page reloaded"
    await assert_accessible(mine)
    await shot(mine, "group-comment-live")


async def test_a_third_not_yet_offers_coaching(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "ada")
    await f.person(runtime, "coord", [Role.coordinator])
    token = await f.token_for(runtime, earner)
    api = f.auth(token)
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        submission_id = await f.submitted(client, runtime, token, credential)
        await decide(client, await reviewers(runtime, 2, "a"), 0)
        for prefix in ("b", "c"):
            again = await client.post(f"/api/v1/submissions/{submission_id}/resubmit", headers=api)
            assert again.status_code == 201, again.text
            sent = await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=api)
            assert sent.status_code == 202, sent.text
            peers = await reviewers(runtime, 2, prefix)
            if prefix == "c":
                page = await phone_of(phone, earner)
                await page.goto(f"/submissions/{submission_id}")
                await expect(page.get_by_test_id("coaching-offer")).to_have_count(0)
                await page.evaluate("() => { window.__mcxSamePage = true; }")
            await _wait_in_review(client, api, submission_id)
            await decide(client, peers, 0)

    offer = page.get_by_test_id("coaching-offer")
    await expect(offer).to_be_visible(timeout=LIVE_MS)  # arrived live with the outcome
    await expect(page.get_by_test_id("resubmit-button")).to_have_count(0)
    assert await page.evaluate("() => window.__mcxSamePage === true")
    await assert_accessible(page)
    await shot(page, "coaching-offer")
    await page.get_by_test_id("coaching-message").fill("Could we go through the rubric together?")
    async with page.expect_navigation():
        await page.get_by_test_id("coaching-button").tap()
    await expect(page.get_by_test_id("coaching-state")).to_contain_text(
        "a coordinator will be in touch"
    )

    coordinator = await phone_of(phone, await _user(runtime, "coord@mcx.example"))
    await coordinator.goto("/coaching")
    request = coordinator.get_by_test_id("coaching-request")
    await expect(request).to_contain_text("Could we go through the rubric together?")
    await assert_accessible(coordinator)


async def _wait_in_review(
    client: httpx.AsyncClient, api: dict[str, str], submission_id: str
) -> None:
    """The live worker checks the packet into the queue; wait (bounded) until it has."""
    async with asyncio.timeout(LIVE_MS / 1000):
        while True:
            state = (await client.get(f"/api/v1/submissions/{submission_id}", headers=api)).json()
            if state["state"] == "in_review":
                return
            await asyncio.sleep(0.1)


async def _user(runtime: Runtime, email: str) -> User:
    async with runtime.sessions() as session:
        return (await session.exec(select(User).where(User.email == email))).one()


async def test_the_journey_pages_are_accessible_at_phone_size(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    """Growth plan with its chart, study groups, reminders, and the coordinator's evidence
    flags: no serious or critical axe violation, no sideways scrolling at 390 px."""
    runtime = live_server.runtime
    aligned = [{"framework": "PSEL", "code": f"PSEL {n}", "title": f"Standard {n}"} for n in (1, 2)]
    credential = await f.credential(runtime, alignments=aligned)
    await f.credential(runtime, "second", alignments=aligned[:1])
    earner = await f.person(runtime, "ada")
    await f.person(runtime, "coord", [Role.coordinator])
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        for label in ("ann", "bob"):
            token = await f.token_for(runtime, await f.person(runtime, label))
            await f.submitted(client, runtime, token, credential)
    async with runtime.sessions() as session:
        await set_goals(session, earner, ["PSEL|PSEL 1", "PSEL|PSEL 2"], [])
        version_ids = (await session.exec(select(SubmissionVersion.id))).all()
    for version_id in version_ids:
        await integrity.scan_version(runtime, version_id)

    page = await phone_of(phone, earner)
    for path, ready in (
        ("/growth", "gap-chart"),
        ("/groups", "group-create"),
        ("/me/reminders", None),
    ):
        await page.goto(path)
        if ready:
            await expect(page.get_by_test_id(ready)).to_be_visible()
        await _fits(page)
        await assert_accessible(page)
        await shot(page, path.strip("/").replace("/", "-"))
    await page.goto("/growth")
    await expect(page.get_by_test_id("recommendation")).to_have_count(2)

    coordinator = await phone_of(phone, await _user(runtime, "coord@mcx.example"))
    await coordinator.goto("/integrity")
    row = coordinator.get_by_test_id("flag-row")
    await expect(row).to_have_count(1)
    await assert_accessible(coordinator)
    async with coordinator.expect_navigation():
        await row.get_by_role("link").tap()
    await expect(coordinator.get_by_test_id("flag-passages")).to_be_visible()
    await _fits(coordinator)
    await assert_accessible(coordinator)
    await shot(coordinator, "flag")
    await coordinator.get_by_test_id("decide-cleared").check()
    await coordinator.get_by_test_id("decide-note").fill("The same prompt; independent work.")
    async with coordinator.expect_navigation():
        await coordinator.get_by_test_id("decide-button").tap()
    await expect(coordinator.get_by_test_id("flag-state")).to_contain_text("cleared")


async def _fits(page: Page) -> None:
    wide, screen = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert wide <= screen, f"{page.url} scrolls sideways: {wide} px on a {screen} px screen"
