"""The first hour on a phone (issue 15), in Chromium on the demo's catalogue and people:

- a refused form answers with a redirect, so a reload never posts it again (item 5);
- a refused upload shows only its reason, empties the picker, and there is no Upload button to
  press when the upload starts on pick (item 7);
- the phone navigation keeps one line, the offline page offers no log-in to someone logged in,
  and every tap target on every page is at least 44x44 CSS px (item 9);
- queue health, the public badge page and the recognizers' report read as sentences (item 10);
- /favicon.ico answers (item 12);
- axe-core finds nothing (any impact) on every page at 390 px and at 1280 px, and every page is
  photographed at both sizes into test-artifacts/screenshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from playwright.async_api import FilePayload, Page, expect
from sqlmodel import select

from app.demo import load_demo
from app.models import Credential, User
from tests import factories as f
from tests import media
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import axe, describe, login

TAP_PX = 44
CREDENTIAL = "understanding-your-leadership-strengths"
EARNER = ("earner1@mcx.example", "earner-demo-1")
REVIEWER = ("reviewer1@mcx.example", "reviewer-demo-1")
NEWCOMER = ("reviewer4@mcx.example", "reviewer-demo-4")
COORDINATOR = ("coordinator@ctq.example", "ctq-coordinator-demo")
RECOGNIZER = ("recognizer@isbe.example", "recognizer-demo-1")

# Every tap target a page offers: controls, buttons, the bar's links, and links that stand
# alone (a link inside a sentence is exempt, as WCAG 2.5.5 exempts inline targets).
_SMALL_TARGETS = """() => {
  const small = [];
  const seen = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' ? r : null;
  };
  const selector = 'a[href], button, summary, select, input:not([type=hidden]), textarea';
  for (const el of document.querySelectorAll(selector)) {
    if (el.closest('.skip, [aria-hidden="true"]')) continue;
    if (el.matches('input[type=checkbox], input[type=radio]')) continue;  // the label is the target
    if (el.matches('a') && !el.closest('header') && !el.classList.contains('button')) {
      const block = el.closest('p, li, td, th, dd, dt, figcaption, label, h1, h2, h3, div');
      const words = (node) => node.textContent.replace(/\\s+/g, ' ').trim();
      if (block && words(block) !== words(el)) continue;  // inside running text
    }
    const r = seen(el);
    if (r && (r.width < 44 - 0.5 || r.height < 44 - 0.5)) {
      const name = (el.getAttribute('aria-label') || el.textContent || el.name || el.tagName)
        .replace(/\\s+/g, ' ').trim().slice(0, 40);
      const size = `${Math.round(r.width)}x${Math.round(r.height)}`;
      small.push(`${el.tagName.toLowerCase()} "${name}" ${size}`);
    }
  }
  return small;
}"""


@dataclass
class Sweep:
    """Problems found on every page visited, reported together at the end."""

    problems: list[str] = field(default_factory=list)
    pages: int = 0

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")


@dataclass
class Demo:
    server: LiveServer
    credential: Credential
    draft: str  # earner1's packet in draft, nothing attached
    award: str  # earner1's badge for CREDENTIAL


@pytest.fixture
async def demo(live_server: LiveServer) -> Demo:
    runtime = live_server.runtime
    await load_demo(runtime)
    async with runtime.sessions() as session:
        credential = (
            await session.exec(select(Credential).where(Credential.slug == CREDENTIAL))
        ).one()
        earner = (await session.exec(select(User).where(User.email == EARNER[0]))).one()
        other = (
            await session.exec(
                select(Credential).where(Credential.slug == "building-your-teacher-powered-team")
            )
        ).one()
    award = await f.award(runtime, earner, credential)
    from app.actions import submissions

    async with runtime.sessions() as session:
        draft = await submissions.start_submission(session, earner, other.id, "public")
    return Demo(live_server, credential, str(draft.id), str(award))


def _pages(demo: Demo) -> dict[tuple[str, str] | None, list[str]]:
    cid = demo.credential.id
    return {
        None: [
            "/",
            "/login",
            "/signup",
            "/catalog",
            f"/credentials/ctq/{CREDENTIAL}",
            "/verify",
            f"/badges/{demo.award}",
        ],
        EARNER: [
            "/me/submissions",
            f"/submissions/{demo.draft}",
            f"/submissions/{demo.draft}/check",
            "/wallet",
            "/notifications",
            "/growth",
            "/groups",
            "/me/reminders",
            "/account/tokens",
            "/account/security",
            "/offline",
        ],
        REVIEWER: ["/review", "/review/history", "/review/calibration", "/review/credit"],
        NEWCOMER: ["/review/calibration", f"/review/calibration/{cid}"],
        COORDINATOR: [
            "/coordinate",
            "/coordinate/health",
            "/coordinate/people",
            "/coordinate/appeals",
            "/coordinate/credentials/new",
            f"/coordinate/credentials/{cid}",
            "/coordinate/stacks",
            "/coordinate/catalogue/import",
            "/coordinate/quality",
            f"/coordinate/quality/{cid}",
            f"/coordinate/quality/{cid}/what-if",
            "/coordinate/badges",
            "/coordinate/audit",
            "/coaching",
            "/integrity",
        ],
        RECOGNIZER: ["/reports/holders", "/reports/pd-hours"],
    }


def _slug(path: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "id", path).strip("/").replace("/", "-") or "home"


async def _visit(page: Page, path: str, who: str, size: str, sweep: Sweep, shot: Shot) -> None:
    answer = await page.goto(path)
    where = f"{path} as {who} at {size}"
    if answer is None or answer.status >= 400:
        sweep.add(where, f"answered {answer.status if answer else 'nothing'}")
        return
    sweep.pages += 1
    await page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running')"
    )
    if found := await axe(page):
        sweep.add(where, describe(found, where))
    wide, screen = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    if wide > screen:
        sweep.add(where, f"scrolls sideways ({wide} px on {screen})")
    if size == "390":
        if small := await page.evaluate(_SMALL_TARGETS):
            sweep.add(where, "tap targets under 44x44 px: " + "; ".join(small))
        bar = await page.locator("header.bar").bounding_box()
        if bar and bar["height"] > 64:
            sweep.add(where, f"the navigation wraps: the bar is {bar['height']:.0f} px tall")
    await shot(page, f"{size}-{who.split('@')[0]}-{_slug(path)}")


async def test_every_page_at_phone_and_desktop_size(
    demo: Demo, phone: ContextFactory, desktop: ContextFactory, shot: Shot
) -> None:
    sweep = Sweep()
    for size, device in (("390", phone), ("1280", desktop)):
        for person, paths in _pages(demo).items():
            page = await (await device()).new_page()
            who = person[0] if person else "anonymous"
            if person:
                await login(page, *person)
            for path in paths:
                await _visit(page, path, who, size, sweep, shot)
    assert sweep.pages >= 2 * 35
    if sweep.problems:
        pytest.fail(
            f"{len(sweep.problems)} problem(s):\n\n" + "\n\n".join(sweep.problems), pytrace=False
        )


# --- 5. post/redirect/get ---------------------------------------------------------------------


async def test_a_refused_submit_is_redirected_and_a_reload_posts_nothing(
    demo: Demo, phone: ContextFactory
) -> None:
    page = await (await phone()).new_page()
    await login(page, *EARNER)
    await page.goto(f"/submissions/{demo.draft}")
    async with page.expect_navigation() as navigated:
        await page.get_by_test_id("submit-packet").click()
    answer = await navigated.value
    assert answer is not None and answer.request.method == "GET", "the refusal was not redirected"
    assert answer.request.redirected_from is not None
    assert answer.request.redirected_from.method == "POST"
    assert page.url.endswith(f"/submissions/{demo.draft}")
    await expect(page.get_by_test_id("packet-error")).to_contain_text("Add the required evidence")
    # A reload asks for the page afresh: no second post, no stale refusal.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.method))
    await page.reload()
    assert requests[0] == "GET", requests
    await expect(page.get_by_test_id("packet-error")).to_have_count(0)
    await expect(
        page.locator('[data-testid="packet-status"][data-status-key="draft"]')
    ).to_be_visible()


# --- 7. a refused upload ------------------------------------------------------------------------


async def test_a_refused_upload_shows_only_why_and_forgets_the_file(
    demo: Demo, phone: ContextFactory
) -> None:
    page = await (await phone()).new_page()
    await login(page, *EARNER)
    await page.goto(f"/submissions/{demo.draft}")
    card = page.locator('[data-testid="criterion"][data-criterion-kind="document"]').first
    await expect(card.get_by_test_id("upload-button")).to_be_hidden()  # upload starts on pick
    picker = card.get_by_test_id("upload-input")
    await picker.set_input_files(
        FilePayload(name="plan.pdf", mimeType="application/pdf", buffer=media.png((64, 64)))
    )
    await expect(card.get_by_test_id("upload-state")).to_contain_text("PNG", timeout=20_000)
    await expect(card.get_by_test_id("upload-progress")).to_be_hidden()
    assert await picker.input_value() == ""
    await expect(card.get_by_test_id("current-artifact")).to_contain_text("Not added yet")


# --- 9. the bar on a phone and the offline page --------------------------------------------------


async def test_the_offline_page_offers_no_log_in_to_a_teacher(
    demo: Demo, phone: ContextFactory
) -> None:
    page = await (await phone()).new_page()
    await login(page, *EARNER)
    await page.goto("/offline")
    header = page.locator("header.bar")
    await expect(header.get_by_role("link", name="Log in")).to_have_count(0)
    await expect(header.get_by_role("link", name="Sign up")).to_have_count(0)
    # Elsewhere a phone shows the bell and a menu holding every place, on one line.
    await page.goto("/me/submissions")
    bell = await page.locator("header .bell").bounding_box()
    assert bell and bell["width"] >= TAP_PX and bell["height"] >= TAP_PX, bell
    await page.get_by_text("Menu", exact=True).click()
    menu = page.locator("details.account .menu")
    for place in ("Catalogue", "My packets", "Badges", "Growth plan", "Log out"):
        await expect(menu.get_by_text(place, exact=True)).to_be_visible()


# --- 10. figures, badges and reports read by people ----------------------------------------------


async def test_health_badge_page_and_report_read_as_sentences(
    demo: Demo, phone: ContextFactory, desktop: ContextFactory
) -> None:
    coordinator = await (await desktop()).new_page()
    await login(coordinator, *COORDINATOR)
    await coordinator.goto("/coordinate/health?days=7")
    chart = coordinator.get_by_test_id("chart-throughput")
    days = await chart.locator("rect").count()
    await expect(
        coordinator.locator("figcaption", has_text="Reviews submitted per day")
    ).to_have_text(f"Reviews submitted per day (last {days} days)")
    width = (await chart.bounding_box() or {"width": 0})["width"]
    assert width > 600, f"the chart is {width:.0f} px wide on a 1280 px screen"
    text_height = await chart.locator("text").first.evaluate(
        "(t) => t.getBoundingClientRect().height"
    )
    assert text_height >= 14, f"chart text is {text_height:.1f} px tall"

    stranger = await (await phone()).new_page()
    await stranger.goto(f"/badges/{demo.award}")
    for alignment in await stranger.get_by_test_id("alignment").all_inner_texts():
        assert not re.search(r"\b(\w+) \1\b", alignment), alignment
    await expect(stranger.get_by_test_id("earned-by")).to_contain_text("Hannah Lindqvist")
    share = stranger.get_by_test_id("share-linkedin")
    await expect(share).to_be_visible()
    assert "linkedin.com/sharing" in (await share.get_attribute("href") or "")

    recognizer = await (await desktop()).new_page()
    await login(recognizer, *RECOGNIZER)
    await recognizer.goto("/reports/holders")
    table = recognizer.get_by_test_id("report-table")
    await expect(recognizer.get_by_test_id("report-caption")).to_have_text("1 badge")
    headings = await table.locator("th").all_inner_texts()
    assert "PD hours" in headings and "Issued on" in headings and "Badge url" not in headings
    cells = " ".join(await table.locator("td").all_inner_texts())
    assert not re.search(r"\d{4}-\d\d-\d\dT", cells), cells  # no ISO timestamps
    assert re.search(r"\b5 hours\b", cells), cells
    await recognizer.goto("/reports/pd-hours")
    await expect(recognizer.get_by_test_id("report-caption")).to_have_text("1 person-month")


# --- 12. the favicon -----------------------------------------------------------------------------


async def test_the_favicon_answers(demo: Demo, phone: ContextFactory) -> None:
    page = await (await phone()).new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    await page.goto("/catalog")
    icon = await page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
    assert (await icon.body())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    await page.wait_for_load_state("networkidle")
    assert not missing, missing
