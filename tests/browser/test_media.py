"""Classroom video in a real browser at phone size (390 px): the live worker prepares the
upload, a reviewer marks moments on the rendition while watching, and the earner taps a
reviewer's comment and their player jumps there. Pages are checked with axe-core."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from app.actions import media as media_actions
from app.actions.submissions import latest_version
from app.models import MediaFile, MediaState, Role, Submission, SubmissionState, User
from app.runtime import Runtime
from tests import factories as f
from tests import media
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import assert_accessible, login

PASSWORD = "factory-password-1"
WAIT_S = 60.0
CRITERIA = [
    {"title": "Classroom video", "kind": "video", "required": True},
    {"title": "Reflection", "kind": "reflection", "required": True},
]
CLIP = [(2.0, "moving", "tone"), (4.0, "moving", "silence"), (2.0, "moving", "tone")]


async def _until(runtime: Runtime, check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _packet_in_review(server: LiveServer) -> tuple[User, str, str, str]:
    """An earner's video packet, prepared by the live worker and checked into the queue."""
    runtime = server.runtime
    credential = await f.credential(runtime, "video-coaching", submission_criteria=CRITERIA)
    earner = await f.person(runtime, "earner")
    token = await f.token_for(runtime, earner)
    async with httpx.AsyncClient(base_url=server.url, headers=f.auth(token)) as api:
        started = await api.post("/api/v1/submissions", json={"credential_id": str(credential.id)})
        submission_id = started.json()["id"]
        detail = (await api.get(f"/api/v1/credentials/{credential.id}")).json()
        ids = {c["kind"]: c["criterion_id"] for c in detail["submission_criteria"]}
        uploaded = await api.post(
            f"/api/v1/submissions/{submission_id}/artifacts/{ids['video']}",
            content=media.clip(CLIP, size=(320, 240), fps=25),
            headers={"X-Filename": "lesson.mp4"},
        )
        assert uploaded.status_code == 201, uploaded.text
        artifact_id, sha = uploaded.json()["artifact_id"], uploaded.json()["sha256"]
        await api.post(
            f"/api/v1/submissions/{submission_id}/artifacts/{ids['reflection']}",
            json={"text": "Wait time after questions."},
        )

        async def prepared() -> bool:
            async with runtime.sessions() as session:
                row = await session.get(MediaFile, sha)
                assert row is None or row.state != MediaState.failed, row and row.error
                return row is not None and row.state == MediaState.ready

        await _until(runtime, prepared, "the rendition")
        assert (await api.post(f"/api/v1/submissions/{submission_id}/submit")).status_code == 202

    async def queued() -> bool:
        async with runtime.sessions() as session:
            found = await session.get(Submission, uuid.UUID(submission_id))
            return found is not None and found.state == SubmissionState.in_review

    await _until(runtime, queued, "the evidence check")
    return earner, token, submission_id, artifact_id


async def _wait_playable(page: Page) -> None:
    await page.wait_for_function(
        "() => document.querySelector('[data-media]').readyState >= 1", timeout=30_000
    )


async def test_a_reviewer_marks_moments_and_the_earner_taps_one_to_seek(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    earner, _token, submission_id, artifact_id = await _packet_in_review(live_server)
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    reviewer_token = await f.token_for(runtime, reviewer)
    async with httpx.AsyncClient(base_url=live_server.url, headers=f.auth(reviewer_token)) as api:
        task_id = (await api.get("/api/v1/tasks")).json()["tasks"][0]["task_id"]
        assert (await api.post(f"/api/v1/tasks/{task_id}/claim")).status_code == 201

        page = await (await phone()).new_page()
        await login(page, reviewer.email, PASSWORD)
        await page.goto(f"/review/tasks/{task_id}")
        video = page.get_by_test_id("evidence-video")
        await expect(video).to_have_attribute(
            "poster", f"/api/v1/artifacts/{artifact_id}/poster.jpg"
        )
        await expect(page.locator("video source")).to_have_attribute(
            "src", f"/api/v1/artifacts/{artifact_id}/rendition"
        )
        await expect(page.get_by_test_id("observations")).to_contain_text("Speech heard for")
        await _wait_playable(page)

        # Watching: pause at 6.5 s, "mark this moment" takes the player's time.
        await page.evaluate(
            "() => { const v = document.querySelector('[data-media]');"
            " v.currentTime = 6.5; v.dispatchEvent(new Event('pause')); }"
        )
        await expect(page.get_by_test_id("mark-at")).to_have_value("0:06")
        await page.get_by_test_id("mark-criterion").select_option(label="Plans")
        await page.get_by_test_id("mark-comment").fill("You let the silence work here.")
        await page.get_by_test_id("mark-submit").tap()
        moments = page.get_by_test_id("moment")
        await expect(moments).to_have_count(1)
        await expect(moments.first).to_contain_text("0:06")
        await expect(moments.first).to_contain_text("Plans")
        # A second one typed by hand, earlier: the list stays in time order.
        await page.get_by_test_id("mark-at").fill("0:01")
        await page.get_by_test_id("mark-comment").fill("A clear opening question.")
        await page.get_by_test_id("mark-submit").tap()
        await expect(moments).to_have_count(2)
        await expect(moments.first).to_contain_text("0:01")
        await assert_accessible(page)
        await shot(page, "reviewer-moments")

        # Tapping a moment seeks the reviewer's player too.
        await moments.nth(1).get_by_test_id("moment-seek").tap()
        await page.wait_for_function(
            "() => Math.abs(document.querySelector('[data-media]').currentTime - 6) < 0.3"
        )

        task = (await api.get(f"/api/v1/tasks/{task_id}")).json()
        scores = [
            {"criterion_id": c["criterion_id"], "level_id": c["levels"][2]["level_id"]}
            for c in task["rubric"]["criteria"]
        ]
        submitted = await api.post(
            f"/api/v1/tasks/{task_id}/review",
            json={
                "lease_version": task["lease_version"],
                "scores": scores,
                "feedback": "Good wait time.",
            },
        )
        assert submitted.status_code == 201, submitted.text

    mine = await (await phone()).new_page()
    await login(mine, earner.email, PASSWORD)
    await mine.goto(f"/submissions/{submission_id}")
    # The feedback lists the moments; one tap opens the recording right there.
    linked = mine.get_by_test_id("feedback-moment")
    await expect(linked).to_have_count(2)
    await expect(mine.get_by_test_id("feedback-moments")).to_contain_text(
        "You let the silence work here."
    )
    await linked.nth(1).tap()
    await mine.wait_for_url(f"**/recordings/{artifact_id}?t=6")
    await _wait_playable(mine)
    await mine.wait_for_function(
        "() => Math.abs(document.querySelector('[data-media]').currentTime - 6) < 0.3"
    )
    # On the recording's timeline: both moments, numbered like the feedback; tap to seek.
    await expect(mine.get_by_test_id("moment")).to_have_count(2)
    await expect(mine.get_by_test_id("moment").nth(1)).to_contain_text("Review 1")
    await mine.get_by_test_id("moment-seek").first.tap()
    await mine.wait_for_function(
        "() => Math.abs(document.querySelector('[data-media]').currentTime - 1) < 0.3"
    )
    await mine.get_by_test_id("moment-seek").nth(1).tap()
    await mine.wait_for_function(
        "() => Math.abs(document.querySelector('[data-media]').currentTime - 6) < 0.3"
    )
    width = await mine.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px)"
    await assert_accessible(mine)
    await shot(mine, "earner-recording")

    async with runtime.sessions() as session:
        submission = await session.get(Submission, uuid.UUID(submission_id))
        assert submission is not None
        version = await latest_version(session, submission.id)
    assert version.number == 1


async def test_the_earner_watches_the_preparation_progress_live(
    live_server: LiveServer, phone: ContextFactory, shot: Shot, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = live_server.runtime
    monkeypatch.setattr(media_actions, "PROGRESS_EVERY", 0.1)
    credential = await f.credential(runtime, "video-live", submission_criteria=CRITERIA)
    earner = await f.person(runtime, "earner")
    token = await f.token_for(runtime, earner)
    slots = live_server.worker.ctx["media_slots"]
    await slots.acquire()  # the worker is busy with another file: this one waits its turn
    try:
        async with httpx.AsyncClient(base_url=live_server.url, headers=f.auth(token)) as api:
            started = await api.post(
                "/api/v1/submissions", json={"credential_id": str(credential.id)}
            )
            submission_id = started.json()["id"]
            detail = (await api.get(f"/api/v1/credentials/{credential.id}")).json()
            video_id = next(
                c["criterion_id"] for c in detail["submission_criteria"] if c["kind"] == "video"
            )
            uploaded = await api.post(
                f"/api/v1/submissions/{submission_id}/artifacts/{video_id}",
                content=media.clip([(90.0, "moving", "tone")], size=(320, 240), fps=25),
                headers={"X-Filename": "long-lesson.mp4"},
            )
            artifact_id = uploaded.json()["artifact_id"]
        page = await (await phone()).new_page()
        await login(page, earner.email, PASSWORD)
        await page.goto(f"/submissions/{submission_id}/recordings/{artifact_id}")
        status = page.get_by_test_id("media-status")
        await expect(status).to_contain_text("Waiting to be prepared")
        await assert_accessible(page)
    finally:
        slots.release()
    await expect(status).to_contain_text("Preparing your video:", timeout=30_000)
    await shot(page, "preparing")
    # Done: the page swaps to the phone-friendly copy by itself.
    await expect(page.locator("video source")).to_have_attribute(
        "src", f"/api/v1/artifacts/{artifact_id}/rendition", timeout=60_000
    )
    await expect(page.get_by_test_id("observations")).to_contain_text("1:30 long")
