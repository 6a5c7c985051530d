"""The catalogue's own quality (issue 18) in a real browser at phone size, axe clean: an
earner rates a credential and the catalogue ranks it top rated for InTASC 3; the issuer's
coordinator answers and hides a flagged text; a coordinator convenes a panel, experts score
alone and the credential shows the panel-certified mark; a state recognizer lists credentials
for credit, sees the credit report and the catalogue map."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Page, expect

from app.actions import ratings
from app.models import Membership, Role
from app.panels import COMPONENT_KEYS
from tests import factories as f
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import assert_accessible, login
from tests.catalogue import finished

PASSWORD = "factory-password-1"
INTASC = [{"framework": "InTASC", "code": "InTASC 3"}]


async def _check(page: Page, shot: Shot, name: str) -> None:
    await assert_accessible(page)
    await shot(page, name)


async def test_rating_a_credential_answering_and_hiding(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    rated = await f.credential(runtime, "routines", title="Classroom Routines", alignments=INTASC)
    await f.credential(runtime, "norms", title="Aardvark Norms", alignments=INTASC)
    coordinator = await f.person(runtime, "coco", [Role.coordinator])
    for i, text in enumerate(["Clear and useful.", "The reviewer was a fool."]):
        earner = await f.person(runtime, f"earlier{i}", [Role.earner])
        await finished(runtime, earner, rated)
        await ratings.rate_credential(
            runtime,
            earner,
            rated.id,
            dict.fromkeys(("clarity", "relevance", "workload", "feedback"), 5 - i),
            text,
        )
    earner = await f.person(runtime, "hana", [Role.earner])
    await finished(runtime, earner, rated)

    page = await (await phone()).new_page()
    await login(page, earner.email, PASSWORD)
    await page.goto("/credentials/ipa/routines")
    await expect(page.get_by_test_id("ratings-too-few")).to_contain_text("2 ratings so far")
    form = page.get_by_test_id("rate-credential-form")
    for key in ("clarity", "relevance", "workload", "feedback"):
        await form.get_by_test_id(f"rate-{key}-4").check()
    await form.get_by_test_id("rate-text").fill("Routines I used the next morning.")
    await _check(page, shot, "credential-rate-form")
    async with page.expect_navigation():
        await form.get_by_test_id("rate-submit").click()
    await expect(page.get_by_test_id("ratings-flash")).to_contain_text("your rating is in")
    await expect(page.get_by_test_id("ratings-overall")).to_contain_text("from 3 earners")
    await expect(page.get_by_test_id("ratings-distribution")).to_be_visible()
    await _check(page, shot, "credential-ratings")
    # Flag the abusive text as a reader.
    flagged = page.get_by_test_id("rating").filter(has_text="fool")
    await flagged.get_by_text("Report this text").click()
    await flagged.get_by_label("What is wrong with it?").fill("Insults a reviewer")
    async with page.expect_navigation():
        await flagged.get_by_role("button", name="Report").click()
    await expect(page.get_by_test_id("ratings-flash")).to_contain_text("Flagged")

    await page.goto("/catalog?standard=InTASC+3&sort=rating")
    results = page.get_by_test_id("catalog-result-link")
    await expect(results.first).to_have_text("Classroom Routines")
    await expect(page.get_by_test_id("catalog-rating").first).to_contain_text("from 3 ratings")
    await _check(page, shot, "catalog-top-rated-intasc-3")

    mine = await (await phone()).new_page()
    await login(mine, coordinator.email, PASSWORD)
    await mine.goto("/credentials/ipa/routines")
    flagged = mine.get_by_test_id("rating").filter(has_text="fool")
    await expect(flagged.get_by_test_id("rating-flag")).to_contain_text("Insults a reviewer")
    async with mine.expect_navigation():
        await flagged.get_by_test_id("hide-submit").click()
    await expect(mine.get_by_test_id("ratings-flash")).to_contain_text("Text hidden")
    first = mine.get_by_test_id("rating").filter(has_text="next morning")
    await first.get_by_test_id("answer-text").fill("Glad to hear it: see the new examples.")
    async with mine.expect_navigation():
        await first.get_by_test_id("answer-submit").click()
    await expect(mine.get_by_test_id("rating-answer").first).to_contain_text("new examples")
    await _check(mine, shot, "coordinator-ratings")
    await page.goto("/credentials/ipa/routines")
    await expect(page.get_by_text("The reviewer was a fool.")).to_have_count(0)
    await expect(page.get_by_test_id("rating-hidden")).to_have_count(1)


async def test_a_panel_certifies_a_credential(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    await f.credential(runtime, "routines", title="Classroom Routines", alignments=INTASC)
    coordinator = await f.person(runtime, "coco", [Role.coordinator])
    experts = [await f.person(runtime, name, [Role.expert]) for name in ("ada", "ben")]

    page = await (await phone()).new_page()
    await login(page, coordinator.email, PASSWORD)
    await page.goto("/panels")
    form = page.get_by_test_id("convene-form")
    await form.get_by_test_id("convene-name").fill("Design panel")
    await form.get_by_test_id("convene-panellists").fill("\n".join(e.email for e in experts))
    await _check(page, shot, "panels-convene")
    async with page.expect_navigation():
        await form.get_by_test_id("convene-submit").click()
    await expect(page.get_by_test_id("panel-name")).to_have_text("Design panel")
    panel_url = page.url

    for i, expert in enumerate(experts):
        mine = await (await phone()).new_page()
        await login(mine, expert.email, PASSWORD)
        await mine.goto(panel_url)
        for key in COMPONENT_KEYS:
            await mine.get_by_test_id(f"level-{key}-{2 + (i if key == 'rubric' else 0)}").check()
        if i == 0:
            await _check(mine, shot, "panel-scoring")
        async with mine.expect_navigation():
            await mine.get_by_test_id("panel-submit").click()
    await expect(mine.get_by_test_id("panel-outcome")).to_contain_text("Certified")
    await expect(mine.get_by_test_id("panel-alpha")).to_contain_text("alpha")
    await _check(mine, shot, "panel-outcome")
    await page.goto("/credentials/ipa/routines")
    await expect(page.get_by_test_id("panel-mark")).to_contain_text("Panel-certified")
    await expect(page.get_by_test_id("panel-mark")).to_contain_text("Design panel")
    await _check(page, shot, "credential-certified")
    await page.goto("/quality-rubric")
    await expect(page.get_by_test_id("quality-rubric")).to_contain_text(
        "A rubric that discriminates"
    )
    await _check(page, shot, "quality-rubric")


async def test_a_state_recognises_credentials_and_sees_the_map(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(
        runtime, "routines", title="Classroom Routines", alignments=INTASC
    )
    recognizer = await f.person(runtime, "dana", [Role.recognizer])
    state = await f.organisation(runtime, "isbe")
    async with runtime.sessions() as session:
        session.add(
            Membership(user_id=recognizer.id, organisation_id=state.id, role=Role.recognizer)
        )
        await session.commit()
    teacher = await f.person(runtime, "teacher", [Role.earner])
    await f.award(runtime, teacher, credential, issued_at=datetime(2026, 10, 1, tzinfo=UTC))

    page = await (await phone()).new_page()
    await login(page, recognizer.email, PASSWORD)
    await page.goto("/recognition")
    form = page.get_by_test_id("recognition-form").last
    await form.get_by_test_id("recognition-type").select_option("licence_renewal")
    await form.get_by_test_id("recognition-amount").fill("6")
    await form.get_by_test_id("recognition-from").fill("2026-09-01")
    async with page.expect_navigation():
        await form.get_by_test_id("recognition-save").click()
    await expect(page.get_by_test_id("recognition-notice")).to_be_visible()
    await expect(page.get_by_test_id("recognition-row")).to_contain_text("Classroom Routines")
    await _check(page, shot, "recognition-list")
    await page.goto("/credentials/ipa/routines")
    await expect(page.get_by_test_id("recognition")).to_contain_text("6 licence-renewal hours")
    await page.goto("/reports/credit")
    await expect(page.get_by_test_id("report-row")).to_contain_text("licence_renewal")
    await _check(page, shot, "report-credit")
    await page.goto("/catalogue-map")
    await expect(page.get_by_test_id("coverage-chart")).to_be_visible()
    await _check(page, shot, "catalogue-map")
