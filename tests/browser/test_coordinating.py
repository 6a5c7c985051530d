"""A coordinator runs a programme from a phone: authors a credential with a rubric from
scratch, publishes it, opens a 3-spot pilot; three earners fill it and a fourth joins the
waitlist; the queue health dashboard shows the figures this test reads from the database.
Every page is checked with axe-core and for sideways scrolling (the `audit` fixture)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import text
from sqlmodel import select

from app.models import Credential, Role
from tests import factories as f
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.test_flows import (  # noqa: F401
    Audit,
    assert_not_reloaded,
    audit,
    mark_page,
    phone_of,
    press,
    snap,
)

LEVEL_WORDS = ["Not yet", "Approaching", "Meets", "Exceeds"]


async def fill_rubric_row(page: Page, row: int, title: str) -> None:
    await page.locator(f"#rubric-{row}-title").fill(title)
    for level, word in enumerate(LEVEL_WORDS):
        # The builder offers the usual four-level scale; the descriptors are the author's.
        await expect(page.locator(f"#rubric-{row}-levels-{level}-label")).to_have_value(word)
        await page.locator(f"#rubric-{row}-levels-{level}-descriptor").fill(
            f"{title}: {word.lower()} the standard."
        )


async def test_a_coordinator_authors_publishes_and_pilots_and_the_fourth_earner_waits(
    live_server: LiveServer,
    phone: ContextFactory,
    snap: Shot,  # noqa: F811
    audit: Audit,  # noqa: F811
) -> None:
    runtime = live_server.runtime
    await f.organisation(runtime)
    coordinator = await f.person(runtime, "cora", [Role.coordinator])
    desk = await phone_of(phone, coordinator)

    # Author from scratch.
    await desk.goto("/coordinate")
    await audit.check(desk, "coordinate overview (empty)")
    async with desk.expect_navigation():
        await press(desk.get_by_test_id("new-credential"))
    await desk.locator("#title").fill("Restorative Circles")
    await desk.get_by_label("Short name (slug)").fill("restorative-circles")
    await desk.get_by_label("PD credit hours").fill("6")
    await desk.get_by_label("Competency").fill("Leads restorative circles after conflict.")
    await desk.get_by_label("Key method").fill("Circle process.")
    await desk.get_by_label("Method components").fill("Prepare, convene, agree, follow up.")
    await desk.get_by_label("Research and resources").fill("Costello, Wachtel & Wachtel (2010).")
    await desk.locator("#criteria-0-title").fill("Reflection on a circle")
    await desk.locator("#criteria-0-kind").select_option("reflection")
    await expect(desk.locator("#criteria-0-required")).to_be_checked()
    await desk.locator("#alignments-0-framework").fill("PSEL")
    await desk.locator("#alignments-0-code").fill("5")
    await fill_rubric_row(desk, 0, "Preparation")
    await audit.check(desk, "new credential form")
    async with desk.expect_navigation():
        await press(desk.get_by_test_id("add-rubric"))
    # The page came back with what was typed, and a second rubric row.
    await expect(desk.locator("#rubric-0-title")).to_have_value("Preparation")
    await fill_rubric_row(desk, 1, "Follow-up")
    await desk.locator("#rubric-min_level").select_option("3")
    await snap(desk, "01-builder")
    async with desk.expect_navigation():
        await press(desk.get_by_test_id("author-save"))
    await expect(desk.get_by_test_id("settings-saved")).to_contain_text("Created as a draft")
    await audit.check(desk, "settings of the new draft")
    async with runtime.sessions() as session:
        credential = (
            await session.exec(select(Credential).where(Credential.slug == "restorative-circles"))
        ).one()
    assert credential.status == "draft"

    # Publish it, then open a 3-spot pilot.
    await desk.get_by_test_id("setting-status").select_option("published")
    async with desk.expect_navigation():
        await press(desk.get_by_test_id("settings-save"))
    await expect(desk.get_by_test_id("settings-saved")).to_contain_text("Status")
    await desk.get_by_test_id("setting-status").select_option("pilot")
    await desk.get_by_test_id("setting-pilot-spots").fill("3")
    async with desk.expect_navigation():
        await press(desk.get_by_test_id("settings-save"))
    await expect(desk.get_by_test_id("settings-saved")).to_contain_text("Pilot spots")
    await snap(desk, "02-pilot-open")

    # Three earners take the three spots (through the API, as their phones would).
    earners: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as client:
        for label in ("ana", "ben", "cai"):
            token = await f.token_for(runtime, await f.person(runtime, label))
            earners.append((token, await f.submitted(client, runtime, token, credential)))

    # The fourth finds the pilot full and joins the waitlist on her phone.
    fourth = await phone_of(phone, await f.person(runtime, "dee"))
    await fourth.goto("/credentials/ipa/restorative-circles")
    await expect(fourth.get_by_test_id("pilot-full")).to_be_visible()
    await expect(fourth.get_by_test_id("credential-spots")).to_have_text("0 of 3")
    await audit.check(fourth, "credential page (pilot full)")
    async with fourth.expect_navigation():
        await press(fourth.get_by_test_id("waitlist-join"))
    await expect(fourth.get_by_test_id("waitlist-place")).to_contain_text("number 1")
    await audit.check(fourth, "credential page (on the waitlist)")
    await snap(fourth, "03-waitlisted")

    # The coordinator sees one waiting, and the dashboard's figures match the tables.
    await desk.reload()
    await expect(desk.get_by_test_id("waitlist-count")).to_have_text(", 1 waiting")
    async with runtime.engine.connect() as conn:
        open_tasks = (
            await conn.execute(text("SELECT count(*) FROM review_tasks WHERE state = 'open'"))
        ).scalar_one()
        claimed = (
            await conn.execute(text("SELECT count(*) FROM review_tasks WHERE state = 'claimed'"))
        ).scalar_one()
    assert open_tasks == 6  # three packets, two peer reviews each
    await desk.goto("/coordinate/health")
    await expect(desk.get_by_test_id("fig-open")).to_have_text(str(open_tasks))
    await expect(desk.get_by_test_id("fig-claimed")).to_have_text(str(claimed))
    await expect(desk.get_by_test_id("pool-row")).to_have_count(1)
    await expect(desk.get_by_test_id("chart-open")).to_be_visible()
    await audit.check(desk, "queue health")
    await snap(desk, "04-health")

    # Ana withdraws: her spot frees, Dee (first in line) is told on her phone, and the
    # dashboard, never reloaded, shows two fewer open tasks when it next refreshes.
    await mark_page(desk)
    await fourth.goto("/notifications")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as client:
        token, submission_id = earners[0]
        withdrawn = await client.post(
            f"/api/v1/submissions/{submission_id}/withdraw", headers=f.auth(token)
        )
        assert withdrawn.status_code == 200, withdrawn.text
    await fourth.reload()
    told = fourth.get_by_text("A spot is free in the pilot of Restorative Circles")
    await expect(told).to_be_visible()
    await audit.check(fourth, "notifications (a spot is free)")
    async with fourth.expect_navigation():
        await press(fourth.get_by_role("link", name="A spot is free", exact=False).first)
    await expect(fourth.get_by_test_id("start-form")).to_be_visible()
    await snap(fourth, "05-spot-free")
    # Coming back to the tab refreshes at once (otherwise every 15 s).
    await desk.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    await expect(desk.get_by_test_id("fig-open")).to_have_text(str(open_tasks - 2))
    await assert_not_reloaded(desk, "the dashboard")
