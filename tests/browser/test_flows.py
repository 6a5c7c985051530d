"""The product's main flows in a real browser, one phone (390×844, touch) per person.

1. An earner submits a packet with a real video, image, PDF and reflection; two reviewer
   phones see the work arrive live and race for it (one wins, the other is told); the winner
   and a third reviewer score it; the earner's page, never reloaded, shows the feedback, the
   outcome and the badge arrive.
2. A coordinator switches a credential to high stakes; the next packet reaches an expert's
   feed and never a peer's.
3. Every page those flows visit is checked with axe-core (no serious or critical violation)
   and for sideways scrolling at 390 px; the problems of all pages are listed together when
   the test ends (the `audit` fixture), so one run shows them all.
4. The catalogue and packet pages at desktop size.

Screenshots of each step go to test-artifacts/screenshots. Data is made through the app's
actions (tests/factories.py); everything a person does is done in the browser.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import FilePayload, Locator, Page, expect

from app.models import Credential, Role, User
from tests import factories as f
from tests import media
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import axe, blocking, describe, login

PASSWORD = "factory-password-1"
# Bound for anything that waits on the server, the worker or a live event (ms).
LIVE_MS = 20_000
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# After a form post the packet page may keep an old #criterion-… fragment (see submit_packet).
PACKET_URL = re.compile(rf"/submissions/({UUID})(?:#criterion-{UUID})?$")
TASK_URL = re.compile(rf"/review/tasks/({UUID})$")
REFLECTION = (
    "I modelled a think-aloud, then pairs practised it with a new problem. Exit tickets showed "
    "that 21 of 26 students could explain their reasoning; next time I will pair differently."
)
# Levels of the factory rubric: 0 Not yet, 1 Approaching, 2 Meets (the passing level), 3 Exceeds.
MEETS, EXCEEDS = 2, 3
# WCAG 2.5.5's target size, which a rubric level ("large tap targets") must reach.
TAP_PX = 44


@dataclass(frozen=True)
class Evidence:
    kind: str
    file: FilePayload


def evidence_files() -> list[Evidence]:
    """A real (tiny) phone video, a photo and a PDF, made from bytes."""
    return [
        Evidence("video", FilePayload(name="lesson.mp4", mimeType="video/mp4", buffer=media.mp4())),
        Evidence(
            "image",
            FilePayload(name="classroom.png", mimeType="image/png", buffer=media.png((640, 360))),
        ),
        Evidence(
            "document",
            FilePayload(name="lesson-plan.pdf", mimeType="application/pdf", buffer=media.pdf()),
        ),
    ]


# --- the audit: axe-core and sideways scrolling, collected over a whole test -----------------


@dataclass
class Audit:
    """Checks each page a test visits; the problems of all of them fail the test once."""

    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    async def check(self, page: Page, where: str) -> None:
        self.visited.append(where)
        # A card sliding in is half transparent for a moment: judge colours once it has landed.
        await page.wait_for_function(
            "() => document.getAnimations().every((a) => a.playState !== 'running')"
        )
        if found := blocking(await axe(page)):
            self.problems.append(describe(found, f"{where} ({page.url})"))
        wide, screen = await page.evaluate(
            "() => [document.documentElement.scrollWidth, innerWidth]"
        )
        if wide > screen:
            self.problems.append(
                f"{where} ({page.url}) scrolls sideways: {wide} px wide on a {screen} px screen"
            )


@pytest.fixture
def audit() -> Iterator[Audit]:
    """An Audit for the test; at teardown, every page's problems in one readable failure."""
    audit = Audit()
    yield audit
    if audit.problems:
        pages = ", ".join(audit.visited)
        pytest.fail(
            f"{len(audit.problems)} problem(s) on the pages visited ({pages}):\n\n"
            + "\n\n".join(audit.problems),
            pytrace=False,
        )


@pytest.fixture
def snap(shot: Shot) -> Shot:
    """`shot`, from the top of the page: a full-page screenshot taken while scrolled down
    paints the sticky header and countdown half-way down the picture."""

    async def take(page: Page, name: str) -> Path:
        await page.evaluate("() => window.scrollTo({ top: 0, behavior: 'instant' })")
        return await shot(page, name)

    return take


# --- people and pages -----------------------------------------------------------------------


async def phone_of(phone: ContextFactory, user: User) -> Page:
    """A phone of this person's own (a fresh browser context), logged in."""
    page = await (await phone()).new_page()
    await login(page, user.email, PASSWORD)
    return page


async def mark_page(page: Page) -> None:
    """Tag the loaded document: a reload or navigation would lose the tag."""
    await page.evaluate("() => { window.__mcxSamePage = true; }")


async def assert_not_reloaded(page: Page, what: str) -> None:
    assert await page.evaluate("() => window.__mcxSamePage === true"), (
        f"{what}: the page was reloaded or left ({page.url}); it should update live"
    )


async def press(target: Locator) -> None:
    """What a finger does on a touch screen (a tap), and a mouse click on a desktop."""
    if await target.page.evaluate("() => navigator.maxTouchPoints > 0"):
        await target.tap()
    else:
        await target.click()


def criterion_card(page: Page, kind: str) -> Locator:
    return page.locator(f'[data-testid="criterion"][data-criterion-kind="{kind}"]')


def task_card(page: Page, task_id: str) -> Locator:
    return page.locator(f'[data-testid="task-card"][data-task-id="{task_id}"]')


def status_is(page: Page, key: str) -> Locator:
    return page.locator(f'[data-testid="packet-status"][data-status-key="{key}"]')


# --- earner steps ---------------------------------------------------------------------------


async def find_and_start(
    page: Page, credential: Credential, snap: Shot, audit: Audit, prefix: str
) -> str:
    """Catalogue → search → credential page → start form; returns the new submission's id."""
    await page.goto("/catalog")
    await page.get_by_test_id("catalog-search").fill(credential.title)
    async with page.expect_navigation():
        await press(page.get_by_test_id("catalog-submit"))
    link = page.get_by_test_id("catalog-result-link").filter(has_text=credential.title)
    await expect(link).to_have_count(1)
    await audit.check(page, "catalogue")
    await snap(page, f"{prefix}-catalogue")

    async with page.expect_navigation():
        await press(link)
    assert page.url.endswith(f"/credentials/ipa/{credential.slug}"), page.url
    await expect(page.get_by_test_id("credential-title")).to_have_text(credential.title)
    await page.get_by_test_id("start-privacy").select_option("reviewers")
    await audit.check(page, "credential page")
    await snap(page, f"{prefix}-credential")

    async with page.expect_navigation():
        await press(page.get_by_test_id("start-submit"))
    found = PACKET_URL.search(page.url)
    assert found, f"starting did not open the packet: {page.url}"
    await expect(status_is(page, "draft")).to_be_visible()
    return found.group(1)


async def upload_all_evidence(page: Page, files: list[Evidence]) -> None:
    """Each file through its criterion's file input, as a phone's picker hands it over; waits
    for the progress bar to finish and the page to show what is attached."""
    for evidence in files:
        card = criterion_card(page, evidence.kind)
        await card.get_by_test_id("upload-input").set_input_files(evidence.file)
        await expect(card.get_by_test_id("upload-progress")).to_be_visible()
        name = evidence.file["name"]
        await expect(card.get_by_test_id("upload-state")).to_have_text(
            f"Uploaded {name}.", timeout=LIVE_MS
        )
        await expect(card.get_by_test_id("upload-progress")).to_have_js_property("value", 100)
        await expect(card.get_by_test_id("current-artifact")).to_contain_text(name)


async def write_reflection(page: Page, text: str) -> None:
    card = criterion_card(page, "reflection")
    await card.get_by_test_id("reflection-input").fill(text)
    async with page.expect_navigation():
        await press(card.get_by_test_id("reflection-save"))
    card = criterion_card(page, "reflection")  # the page is new
    await expect(card.get_by_test_id("reflection-input")).to_have_value(text)
    await expect(card.get_by_test_id("current-artifact")).to_contain_text("Saved.")


async def submit_packet(page: Page) -> None:
    """Submit; returns once the browser shows the submitted (no longer editable) packet page.

    Not `expect_navigation`: the page being left hears "checking" over its websocket and may
    reload itself (static/earner.js, apply(): editable changed), which aborts the form's own
    navigation (net::ERR_ABORTED) and keeps the old #criterion-… fragment. Either way the
    browser ends on the packet page; a reload after this point is caught by
    assert_not_reloaded."""
    await expect(page.get_by_test_id("missing-list")).to_have_count(0)
    await press(page.get_by_test_id("submit-packet"))
    submitted = page.locator('[data-testid="packet-status"]:not([data-status-key="draft"])')
    await expect(submitted).to_be_visible(timeout=LIVE_MS)
    await expect(page.get_by_test_id("submit-packet")).to_have_count(0)
    await page.wait_for_load_state()
    assert PACKET_URL.search(page.url), page.url


# --- reviewer steps -------------------------------------------------------------------------


async def open_feed(page: Page) -> None:
    await page.goto("/review")
    await expect(page.get_by_test_id("feed-list")).to_be_attached()
    await expect(page.get_by_test_id("task-card")).to_have_count(0)
    await expect(page.get_by_test_id("feed-empty")).to_be_visible()
    await mark_page(page)


async def see_the_evidence(page: Page, files: list[Evidence], reflection: str) -> None:
    """The task page shows every artifact in its viewer, served to this reviewer."""
    video = page.get_by_test_id("evidence-video")
    await expect(video).to_be_visible()
    image = page.get_by_test_id("evidence-image")
    await image.scroll_into_view_if_needed()  # loading="lazy"
    await expect(image).to_be_visible()
    await expect(image).to_have_js_property("naturalWidth", 640)  # decoded, not a broken icon
    pdf = page.get_by_test_id("evidence-pdf")
    await expect(pdf).to_be_attached()
    await expect(page.get_by_test_id("evidence-reflection")).to_have_text(reflection)

    sources = {
        # The player streams a rendition (issue 19); the original is one tap away.
        "video": await page.get_by_test_id("evidence-original").get_attribute("href"),
        "image": await image.get_attribute("src"),
        "document": await pdf.get_attribute("data"),
    }
    for evidence in files:
        src = sources[evidence.kind]
        assert src, f"no address for the {evidence.kind}"
        answer = await page.request.get(src)
        assert answer.ok, f"{evidence.kind} at {src}: {answer.status}"
        assert answer.headers["content-type"].startswith(evidence.file["mimeType"]), (
            evidence.kind,
            answer.headers["content-type"],
        )
        assert await answer.body() == evidence.file["buffer"], f"{evidence.kind} is not the upload"


async def score_everything(page: Page, position: int, comment: str, feedback: str) -> None:
    """Tap the level at `position` on every rubric criterion (each a large tap target), comment
    on each, write the overall feedback, and wait for the draft autosave to say "Saved"."""
    criteria = page.locator('fieldset[data-testid="criterion"]')
    count = await criteria.count()
    assert count > 0, "the task page shows no rubric criteria"
    for index in range(count):
        criterion = criteria.nth(index)
        target = criterion.locator(f'label.level:has([data-position="{position}"])')
        box = await target.bounding_box()
        assert box is not None, "a rubric level is not on screen"
        assert box["height"] >= TAP_PX and box["width"] >= TAP_PX, (
            f"rubric level tap target is {box['width']:.0f}×{box['height']:.0f} px"
        )
        await press(target)
        level = criterion.locator(f'[data-testid="rubric-level"][data-position="{position}"]')
        await expect(level).to_be_checked()
        await criterion.get_by_test_id("rubric-comment").fill(f"{comment} ({index + 1})")
    await page.get_by_test_id("feedback").fill(feedback)
    await expect(page.get_by_test_id("recommendation")).to_contain_text("Pass")
    await expect(page.get_by_test_id("save-status")).to_have_text("Saved", timeout=LIVE_MS)


async def submit_review(page: Page) -> None:
    async with page.expect_navigation(timeout=LIVE_MS):
        await press(page.get_by_test_id("submit-review"))
    await expect(page.get_by_test_id("review-done")).to_be_visible()
    assert page.url.endswith("/done"), page.url


# --- 1. earner → two racing reviewers + a third → outcome live ------------------------------


async def test_a_packet_goes_from_an_earners_phone_to_two_reviewers_and_back_live(
    live_server: LiveServer, phone: ContextFactory, snap: Shot, audit: Audit
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(
        runtime,
        "think-alouds",
        title="Think-alouds in maths",
        peer_reviews=2,
        submission_criteria=[
            {"title": "Lesson video", "kind": "video", "required": True},
            {"title": "Photo of student work", "kind": "image", "required": True},
            {"title": "Lesson plan", "kind": "document", "required": True},
            {"title": "Reflection", "kind": "reflection", "required": True},
        ],
    )
    earner = await f.person(runtime, "nkechi", school="Lincoln Elementary")
    amara, bo, cy = [
        await f.person(runtime, name, [Role.reviewer]) for name in ("amara", "bo", "cy")
    ]
    files = evidence_files()

    # The two reviewers have their feeds open before anything is submitted.
    first = await phone_of(phone, amara)
    second = await phone_of(phone, bo)
    await open_feed(first)
    await open_feed(second)
    await audit.check(first, "reviewer feed (empty)")
    await snap(first, "01-feed-empty")

    # The earner finds the credential, starts, adds the evidence and submits.
    mine = await phone_of(phone, earner)
    submission_id = await find_and_start(mine, credential, snap, audit, "02")
    await audit.check(mine, "packet page (draft)")
    await snap(mine, "03-packet-draft")
    await upload_all_evidence(mine, files)
    await snap(mine, "04-packet-uploaded")
    await write_reflection(mine, REFLECTION)
    await snap(mine, "05-packet-complete")
    await submit_packet(mine)
    await mark_page(mine)
    await snap(mine, "06-packet-submitted")
    # The worker checks the evidence; the open page follows without a reload.
    await expect(status_is(mine, "waiting")).to_be_visible(timeout=LIVE_MS)
    await audit.check(mine, "packet page (waiting)")
    await snap(mine, "07-packet-waiting")

    # Both feeds get the work live: one card for the packet, which needs two reviewers.
    for feed in (first, second):
        await expect(feed.get_by_test_id("task-card")).to_have_count(1, timeout=LIVE_MS)
        await expect(feed.get_by_test_id("task-needed")).to_have_text("2 reviewers needed")
        await assert_not_reloaded(feed, "reviewer feed")
    await expect(first.get_by_test_id("task-card").first).to_contain_text(credential.title)
    await audit.check(first, "reviewer feed (work)")
    await snap(first, "08-feed-live-first")
    await snap(second, "08-feed-live-second")
    # A third reviewer watches the same feed.
    third = await phone_of(phone, cy)
    await third.goto("/review")
    await expect(third.get_by_test_id("task-card")).to_have_count(1)
    await mark_page(third)

    # Both tap Claim on the card at the same moment: each gets one of the packet's two tasks
    # (whoever was second to the card's first task is given its other one).
    task_id = await first.get_by_test_id("task-card").first.get_attribute("data-task-id")
    assert task_id
    await asyncio.gather(
        task_card(first, task_id).get_by_test_id("claim-button").tap(),
        task_card(second, task_id).get_by_test_id("claim-button").tap(),
    )
    claimed = {}
    for reviewer in (first, second):
        await expect(reviewer).to_have_url(TASK_URL, timeout=LIVE_MS)
        found = TASK_URL.search(reviewer.url)
        assert found, reviewer.url
        claimed[reviewer] = found.group(1)
    assert len(set(claimed.values())) == 2, claimed  # never two reviewers on one task
    assert task_id in claimed.values()
    winner, other = (first, second) if claimed[first] == task_id else (second, first)
    # Nothing is left for the third reviewer: the card goes away without a reload.
    await expect(third.get_by_test_id("task-card")).to_have_count(0, timeout=LIVE_MS)
    await assert_not_reloaded(third, "the third reviewer's feed")
    await snap(third, "09-claimed-by-others")

    # The winner reviews: the evidence in its viewers, blind (no earner name), the rubric.
    await expect(winner.get_by_test_id("countdown")).to_contain_text("left")
    await see_the_evidence(winner, files, REFLECTION)
    body = await winner.locator("body").inner_text()
    assert earner.name not in body and earner.email not in body, "blind review shows the earner"
    await audit.check(winner, "review task page")
    await snap(winner, "10-task-evidence")
    # Meanwhile the earner's page has moved on by itself.
    await expect(status_is(mine, "under_review")).to_be_visible(timeout=LIVE_MS)

    await score_everything(winner, EXCEEDS, "Clear modelling", "Strong think-aloud; keep it up.")
    await audit.check(winner, "review task page (scored)")
    await snap(winner, "11-task-scored")
    await submit_review(winner)
    await audit.check(winner, "review done page")
    await snap(winner, "12-review-done")

    # The first review reaches the earner's open page.
    await expect(mine.get_by_test_id("feedback-review")).to_have_count(1, timeout=LIVE_MS)
    await expect(mine.get_by_test_id("feedback")).to_contain_text("Strong think-aloud")
    await snap(mine, "13-packet-one-review")

    # The other reviewer reviews the packet's other task.
    await see_the_evidence(other, files, REFLECTION)
    await score_everything(other, MEETS, "Meets the bar", "Good evidence; vary the pairs.")
    await snap(other, "14-second-scored")
    await submit_review(other)

    # The earner's page, open all along, shows the outcome, both reviews and the badge.
    await expect(status_is(mine, "passed")).to_be_visible(timeout=LIVE_MS)
    await expect(mine.get_by_test_id("badge-link")).to_be_visible(timeout=LIVE_MS)
    await expect(mine.get_by_test_id("outcome")).to_contain_text("Passed")
    await expect(mine.get_by_test_id("feedback-review")).to_have_count(2, timeout=LIVE_MS)
    await expect(mine.get_by_test_id("feedback")).to_contain_text("vary the pairs")
    await assert_not_reloaded(mine, "the earner's packet page")
    found = PACKET_URL.search(mine.url)
    assert found and found.group(1) == submission_id, mine.url
    await audit.check(mine, "packet page (passed)")
    await snap(mine, "15-packet-passed")

    # Where the earner goes next: the badge, the wallet, my packets, notifications.
    async with mine.expect_navigation():
        await press(mine.get_by_test_id("badge-link"))
    await expect(mine.get_by_role("heading", level=1)).to_be_visible()
    await audit.check(mine, "badge page")
    await snap(mine, "16-badge")
    await mine.goto("/wallet")
    await expect(mine.get_by_test_id("wallet-badge")).to_have_count(1)
    await audit.check(mine, "wallet")
    await snap(mine, "17-wallet")
    await mine.goto("/me/submissions")
    await expect(mine.get_by_test_id("packet-state")).to_have_text("Passed")
    await audit.check(mine, "my packets")
    await snap(mine, "18-my-packets")
    await mine.goto("/notifications")
    await expect(mine.get_by_test_id("notification").first).to_be_visible()
    await audit.check(mine, "notifications (earner)")
    await snap(mine, "19-notifications")

    await winner.goto("/review/history")
    await expect(winner.get_by_test_id("history-item")).to_have_count(1)
    await audit.check(winner, "review history")
    await snap(winner, "20-review-history")


# --- 2. a coordinator switches to high stakes: experts only ---------------------------------


async def test_a_high_stakes_packet_reaches_an_expert_and_never_a_peer(
    live_server: LiveServer, phone: ContextFactory, snap: Shot, audit: Audit
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(
        runtime,
        "school-culture",
        title="Leading school culture",
        submission_criteria=[{"title": "Reflection", "kind": "reflection", "required": True}],
    )
    coordinator = await f.person(runtime, "coco", [Role.coordinator])
    expert = await f.person(runtime, "esme", [Role.expert])
    peer = await f.person(runtime, "pete", [Role.reviewer])
    earner = await f.person(runtime, "nia")

    # The coordinator switches the credential to high stakes.
    desk = await phone_of(phone, coordinator)
    await desk.goto(f"/coordinate/credentials/{credential.id}")
    await expect(desk.get_by_test_id("settings-form")).to_be_visible()
    await expect(desk.get_by_test_id("setting-stakes-low")).to_be_checked()
    await audit.check(desk, "coordinator settings")
    await snap(desk, "01-settings-low")
    await desk.get_by_test_id("setting-stakes-high").check()
    async with desk.expect_navigation():
        await press(desk.get_by_test_id("settings-save"))
    await expect(desk.get_by_test_id("settings-saved")).to_be_visible()
    await expect(desk.get_by_test_id("setting-stakes-high")).to_be_checked()  # as stored
    await audit.check(desk, "coordinator settings (saved)")
    await snap(desk, "02-settings-high")

    # Expert and peer watch their feeds before the packet comes in.
    expert_feed = await phone_of(phone, expert)
    peer_feed = await phone_of(phone, peer)
    await open_feed(expert_feed)
    await open_feed(peer_feed)

    mine = await phone_of(phone, earner)
    await find_and_start(mine, credential, snap, audit, "03")
    await write_reflection(mine, REFLECTION)
    await submit_packet(mine)
    await expect(status_is(mine, "waiting")).to_be_visible(timeout=LIVE_MS)
    await snap(mine, "04-packet-waiting")

    # The expert's feed gets it live, as expert work...
    card = expert_feed.get_by_test_id("task-card")
    await expect(card).to_have_count(1, timeout=LIVE_MS)
    await expect(card).to_contain_text(credential.title)
    await expect(card).to_contain_text("Expert review")
    await assert_not_reloaded(expert_feed, "the expert's feed")
    await audit.check(expert_feed, "reviewer feed (expert)")
    await snap(expert_feed, "05-expert-feed")

    # ...and now that it has certainly been published, the peer's feed has nothing, live or
    # freshly loaded from the server.
    await expect(peer_feed.get_by_test_id("task-card")).to_have_count(0)
    await expect(peer_feed.get_by_test_id("feed-empty")).to_be_visible()
    await assert_not_reloaded(peer_feed, "the peer's feed")
    await peer_feed.reload()
    await expect(peer_feed.get_by_test_id("feed-list")).to_be_attached()
    await expect(peer_feed.get_by_test_id("task-card")).to_have_count(0)
    await snap(peer_feed, "06-peer-feed-empty")


# --- 4. the same pages at desktop size ------------------------------------------------------


async def test_the_catalogue_and_packet_pages_at_desktop_size(
    live_server: LiveServer, desktop: ContextFactory, snap: Shot, audit: Audit
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(
        runtime,
        "exit-tickets",
        title="Exit tickets that drive the next lesson",
        summary="Use a two-question exit ticket to plan tomorrow's groups.",
        submission_criteria=[
            {"title": "Photo of exit tickets", "kind": "image", "required": True},
            {"title": "Lesson plan", "kind": "document", "required": False},
            {"title": "Reflection", "kind": "reflection", "required": True},
        ],
    )
    await f.credential(runtime, "wait-time", title="Wait time after questions")
    earner = await f.person(runtime, "dana")

    page = await (await desktop()).new_page()
    await login(page, earner.email, PASSWORD)
    await page.goto("/catalog")
    await expect(page.get_by_test_id("catalog-result")).to_have_count(2)
    await audit.check(page, "catalogue (desktop)")
    await snap(page, "01-catalogue")

    await find_and_start(page, credential, snap, audit, "02")
    files = [e for e in evidence_files() if e.kind in ("image", "document")]
    await upload_all_evidence(page, files)
    await write_reflection(page, REFLECTION)
    await audit.check(page, "packet page (desktop, draft)")
    await snap(page, "03-packet-draft")
    await submit_packet(page)
    await expect(status_is(page, "waiting")).to_be_visible(timeout=LIVE_MS)
    await audit.check(page, "packet page (desktop, waiting)")
    await snap(page, "04-packet-waiting")
