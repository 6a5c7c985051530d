"""A principal checks badges on a phone: the verification page for a valid badge (by link and
by its baked image), a revoked one and an expired one, each said in plain words, accessibly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from app.actions.awards import revoke_award
from app.models import Role
from tests import factories
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import assert_accessible


async def _fits_the_screen(page: Page) -> None:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide on a {widths[1]} px screen"


async def _check_by_link(page: Page, link: str) -> None:
    await page.goto("/verify")
    await page.get_by_label("Badge link or id").fill(link)
    await page.get_by_role("button", name="Verify link").click()


async def test_verification_page_for_valid_revoked_and_expired_badges(
    live_server: LiveServer, phone: ContextFactory, shot: Shot, tmp_path: Path
) -> None:
    runtime = live_server.runtime
    await factories.issuer(runtime)
    credential = await factories.credential(runtime, title="Data-Driven Coaching")
    coordinator = await factories.person(runtime, "coord", [Role.coordinator])
    valid = await factories.award(runtime, await factories.person(runtime, "ada"), credential)
    revoked = await factories.award(runtime, await factories.person(runtime, "bo"), credential)
    await revoke_award(runtime, coordinator, revoked, "Evidence was not the earner's own.")
    long_ago = datetime.now(UTC) - timedelta(days=800)
    expired = await factories.award(
        runtime,
        await factories.person(runtime, "cy"),
        credential,
        issued_at=long_ago,
        expires_at=long_ago + timedelta(days=365),
    )
    page = await (await phone()).new_page()

    # The shared page a principal opens first, then its "check" link.
    await page.goto(f"/badges/{valid}")
    await expect(page.get_by_role("heading", name="Data-Driven Coaching")).to_be_visible()
    await expect(page.get_by_test_id("download-png")).to_be_visible()
    await expect(page.get_by_test_id("copy-link")).to_be_visible()  # badges.js ran
    await _fits_the_screen(page)
    await assert_accessible(page)
    await shot(page, "award-page")

    await _check_by_link(page, f"{live_server.url}/badges/{valid}")
    verdict = page.get_by_test_id("verdict")
    await expect(verdict).to_have_attribute("data-result", "valid")
    await expect(page.get_by_role("heading", name="Valid badge")).to_be_visible()
    await expect(page.get_by_test_id("summary")).to_contain_text(
        "This badge is genuine: it was issued by IPA Association"
    )
    await expect(verdict).to_contain_text("Data-Driven Coaching")
    await _fits_the_screen(page)
    await assert_accessible(page)
    await shot(page, "valid")

    # The same badge from its baked image, as a recognizer would receive it.
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        image = (await http.get(f"/badges/{valid}/baked.png")).content
    baked = tmp_path / "badge.png"
    baked.write_bytes(image)
    await page.goto("/verify")
    await page.get_by_label("Baked badge image (PNG or SVG)").set_input_files(str(baked))
    await page.get_by_role("button", name="Verify", exact=True).click()
    await expect(page.get_by_test_id("verdict")).to_have_attribute("data-result", "valid")

    await _check_by_link(page, str(revoked))
    await expect(page.get_by_role("heading", name="Revoked badge")).to_be_visible()
    await expect(page.get_by_test_id("summary")).to_contain_text(
        "Evidence was not the earner's own."
    )
    await _fits_the_screen(page)
    await assert_accessible(page)
    await shot(page, "revoked")

    await _check_by_link(page, str(expired))
    await expect(page.get_by_role("heading", name="Expired badge")).to_be_visible()
    await expect(page.get_by_test_id("summary")).to_contain_text("expired on")
    await expect(page.get_by_test_id("summary")).not_to_contain_text("revoked")
    await _fits_the_screen(page)
    await assert_accessible(page)
    await shot(page, "expired")
