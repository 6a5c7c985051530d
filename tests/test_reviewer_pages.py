"""The reviewer's pages through HTTP, as a phone without JavaScript uses them: the feed, claiming,
the task page with evidence and rubric, extend/release, drafts, submit, history, blind review."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlmodel import col, select
from starlette.applications import Starlette

from app import events, queue
from app.actions import tasks
from app.actions.submissions import check_evidence
from app.auth import forget
from app.models import (
    Credential,
    Review,
    ReviewState,
    ReviewTask,
    Role,
    RubricCriterion,
    RubricLevel,
    SubmissionVersion,
    TaskState,
)
from app.runtime import Runtime
from app.views.reviewer import history
from tests import factories as f
from tests import media
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"
XSS = '<script>alert("mcx")</script>'


@pytest.fixture
async def other(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A second phone, with cookies of its own."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50001))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=False
    ) as http:
        yield http


async def _log_in(client: httpx.AsyncClient, label: str) -> str:
    """Log `label` in on `client` (a cookie session); returns the page's CSRF token."""
    response = await log_in(client, f"{label}@mcx.example", PASSWORD)
    assert response.status_code == 303, response.text
    return await csrf_from(client, "/review")


async def _reviewer(
    client: httpx.AsyncClient, runtime: Runtime, label: str = "reviewer", role: Role = Role.reviewer
) -> str:
    """A reviewer logged in on `client`; returns the page's CSRF token."""
    await f.person(runtime, label, [role])
    return await _log_in(client, label)


async def _packet(
    client: httpx.AsyncClient,
    runtime: Runtime,
    credential: Credential,
    label: str = "earnestine",
    *,
    reflection: str = "What I did, what happened, what I learned.",
    files: bool = False,
) -> uuid.UUID:
    """An earner's packet in review (a reflection, and a PDF and a photo when `files`);
    returns the id of its (first) review task."""
    token = await f.token_for(runtime, await f.person(runtime, label))
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    assert started.status_code == 201, started.text
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    by_kind = {c["kind"]: c["criterion_id"] for c in criteria["submission_criteria"]}
    base = f"/api/v1/submissions/{submission_id}/artifacts"
    attached = await client.post(
        f"{base}/{by_kind['reflection']}", json={"text": reflection}, headers=auth(token)
    )
    assert attached.status_code == 201, attached.text
    if files:
        for kind, name, body in (
            ("document", "plan.pdf", media.pdf()),
            ("image", "room.png", media.png()),
        ):
            sent = await client.post(
                f"{base}/{by_kind[kind]}",
                content=body,
                headers={
                    **auth(token),
                    "X-Filename": name,
                    "Content-Type": "application/octet-stream",
                },
            )
            assert sent.status_code == 201, sent.text
    done = await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(token))
    assert done.status_code == 202, done.text
    async with runtime.sessions() as session:
        version = (
            await session.exec(
                select(SubmissionVersion).where(
                    SubmissionVersion.submission_id == uuid.UUID(submission_id)
                )
            )
        ).one()
    assert await check_evidence(runtime, version.id) == "in_review"
    async with runtime.sessions() as session:
        return (
            await session.exec(
                select(ReviewTask.id).where(ReviewTask.submission_id == uuid.UUID(submission_id))
            )
        ).first()


async def _credential(runtime: Runtime, slug: str = "coaching", **overrides: Any) -> Credential:
    """A credential needing one peer review, so each packet makes exactly one task."""
    return await f.credential(runtime, slug, **{"peer_reviews": 1, **overrides})


async def _task(runtime: Runtime, task_id: uuid.UUID) -> ReviewTask:
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, task_id)
    assert task is not None
    return task


async def _claim(client: httpx.AsyncClient, csrf: str, task_id: uuid.UUID) -> httpx.Response:
    return await client.post(f"/review/tasks/{task_id}/claim", data={"csrf_token": csrf})


def _cards(page: str) -> list[str]:
    return re.findall(r'data-task-card data-testid="task-card" data-task-id="([0-9a-f-]+)"', page)


async def _levels(runtime: Runtime, task_id: uuid.UUID, position: int) -> dict[str, str]:
    """Form fields choosing the level at `position` for every criterion of the task's rubric."""
    async with runtime.sessions() as session:
        levels = (
            await session.exec(
                select(RubricLevel)
                .join(RubricCriterion, col(RubricCriterion.id) == col(RubricLevel.criterion_id))
                .join(
                    SubmissionVersion,
                    col(SubmissionVersion.rubric_id) == col(RubricCriterion.rubric_id),
                )
                .join(ReviewTask, col(ReviewTask.version_id) == col(SubmissionVersion.id))
                .where(ReviewTask.id == task_id)
                .where(RubricLevel.position == position)
                .order_by(col(RubricCriterion.position))
            )
        ).all()
    return {f"level-{lv.criterion_id}": str(lv.id) for lv in levels}


async def test_feed_shows_eligible_work_and_never_the_earner(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    low = await _credential(runtime, "low", title="Coaching Conversations")
    high = await _credential(runtime, "high", title="High Stakes Leadership", stakes="high")
    await f.organisation(runtime, "ctq")
    foreign = await _credential(runtime, "other-org", organisation="ctq", title="Foreign Work")
    mine = await _credential(runtime, "mine", title="My Own Packet")
    older = await _packet(client, runtime, low)
    newer = await _packet(client, runtime, low, "earner4")
    await _packet(client, runtime, high, "earner2")
    await _packet(client, runtime, foreign, "earner3")
    reviewer = await f.person(runtime, "reviewer", [Role.reviewer])
    # The reviewer's own packet (they are its earner): never theirs to review.
    await f.submitted(client, runtime, await f.token_for(runtime, reviewer), mine)
    csrf = await _log_in(client, "reviewer")

    page = await client.get("/review")
    assert page.status_code == 200
    assert _cards(page.text) == [str(older), str(newer)]  # oldest first
    assert "Coaching Conversations" in page.text and "Peer review" in page.text
    assert 'Evidence: <span data-slot="evidence">Reflection</span>' in page.text
    assert "waiting under a minute" in page.text
    for absent in ("High Stakes Leadership", "Foreign Work", "My Own Packet"):
        assert absent not in page.text
    assert "Earnestine" not in page.text and "earnestine@" not in page.text
    assert csrf in page.text

    feed = (await client.get("/review/feed.json")).json()
    assert [card["task_id"] for card in feed["tasks"]] == [str(older), str(newer)]
    assert feed["tasks"][0]["evidence"] == ["Reflection"] and feed["claim"] is None
    assert "earnestine" not in str(feed).lower()

    # An escalation is marked as one, and goes ahead of older work.
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE review_tasks SET reason = 'escalation' WHERE id = :id"), {"id": newer}
        )
    # Changed behind MCX's back: the live queue catches up as it does after any outage.
    await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)
    escalated = (await client.get("/review")).text
    assert "Escalation: the peers need an expert" in escalated
    assert _cards(escalated) == [str(newer), str(older)]


async def test_claim_opens_the_task_with_evidence_and_rubric(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential, files=True)
    csrf = await _reviewer(client, runtime)
    claimed = await _claim(client, csrf, task_id)
    assert claimed.status_code == 303 and claimed.headers["location"] == f"/review/tasks/{task_id}"
    page = await client.get(f"/review/tasks/{task_id}")
    assert page.status_code == 200
    html = page.text
    assert 'type="application/pdf"' in html and 'data-testid="evidence-pdf"' in html
    assert 'data-testid="evidence-image"' in html
    assert "What I did, what happened, what I learned." in html
    assert html.count('data-testid="rubric-level"') == 8  # two criteria, four levels
    assert "<legend>Plans</legend>" in html and "<legend>Acts</legend>" in html
    for testid in ("countdown", "extend-button", "release-button", "feedback", "save-status"):
        assert f'data-testid="{testid}"' in html
    assert "Earnestine" not in html and "earnestine@" not in html
    artifact = re.search(r'<object data="(/api/v1/artifacts/[0-9a-f-]+)"', html)
    assert artifact is not None
    served = await client.get(artifact.group(1))
    assert served.status_code == 200 and served.content.startswith(b"%PDF")
    # My claim is pinned on the feed, with the way back.
    feed = await client.get("/review")
    assert f'href="/review/tasks/{task_id}"' in feed.text and "Your claim" in feed.text
    assert str(task_id) not in _cards(feed.text)


async def test_a_lost_claim_says_so_and_the_card_is_gone(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    await _reviewer(other, runtime, "quicker")
    other_csrf = await csrf_from(other, "/review")
    assert (await _claim(other, other_csrf, task_id)).status_code == 303
    lost = await _claim(client, csrf, task_id)
    assert lost.status_code == 409
    assert "Someone else just took this one." in lost.text
    assert str(task_id) not in _cards(lost.text)
    assert (await client.get(f"/review/tasks/{task_id}")).status_code == 404


async def test_claim_next_takes_the_best_and_says_when_there_is_none(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    csrf = await _reviewer(client, runtime)
    none = await client.post("/review/claim-next", data={"csrf_token": csrf})
    assert none.status_code == 404 and "There is no open work for you right now." in none.text
    assert 'data-testid="feed-empty"' in none.text
    task_id = await _packet(client, runtime, credential)
    won = await client.post("/review/claim-next", data={"csrf_token": csrf})
    assert won.status_code == 303 and won.headers["location"] == f"/review/tasks/{task_id}"


async def test_extend_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    await _claim(client, csrf, task_id)
    before = await _task(runtime, task_id)
    form = {"csrf_token": csrf, "lease_version": str(before.lease_version)}
    extended = await client.post(f"/review/tasks/{task_id}/extend", data=form)
    assert extended.status_code == 303
    after = await _task(runtime, task_id)
    assert after.extended and after.lease_expires_at > before.lease_expires_at  # type: ignore[operator]
    page = await client.get(extended.headers["location"])
    assert "Extended once already" in page.text and 'data-testid="extend-button"' not in page.text
    again = await client.post(f"/review/tasks/{task_id}/extend", data=form)
    assert again.status_code == 409 and "A claim can be extended only once." in again.text
    assert (await _task(runtime, task_id)).lease_expires_at == after.lease_expires_at


async def test_release_returns_the_work_to_the_feed(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    await _reviewer(other, runtime, "colleague")
    await _claim(client, csrf, task_id)
    assert str(task_id) not in _cards((await other.get("/review")).text)
    version = (await _task(runtime, task_id)).lease_version
    released = await client.post(
        f"/review/tasks/{task_id}/release", data={"csrf_token": csrf, "lease_version": str(version)}
    )
    assert released.status_code == 303 and released.headers["location"] == "/review?done=released"
    feed = await client.get(released.headers["location"])
    assert "back in the queue" in feed.text
    assert str(task_id) in _cards((await other.get("/review")).text)
    assert (await _task(runtime, task_id)).state == TaskState.open
    # The old lease_version names no claim any more.
    stale = await client.post(
        f"/review/tasks/{task_id}/release", data={"csrf_token": csrf, "lease_version": str(version)}
    )
    assert stale.status_code == 409 and "This review is no longer yours" in stale.text


async def test_a_saved_draft_is_there_after_a_reload(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    await _claim(client, csrf, task_id)
    version = (await _task(runtime, task_id)).lease_version
    levels = await _levels(runtime, task_id, 3)
    first, second = list(levels)
    criterion = first.removeprefix("level-")
    other_criterion = second.removeprefix("level-")
    saved = await client.post(
        f"/review/tasks/{task_id}/draft",
        data={
            "csrf_token": csrf,
            "lease_version": str(version),
            first: levels[first],
            f"comment-{criterion}": "Clear plan & goals",
            f"comment-{other_criterion}": "kept only with a level",
            "feedback": "Half way there.",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=partial")
    page = await client.get(saved.headers["location"])
    assert "A comment is kept once its criterion has a level." in page.text
    assert re.search(rf'value="{levels[first]}" required[^>]*\bchecked', page.text)
    assert "Clear plan &amp; goals</textarea>" in page.text
    assert "Half way there.</textarea>" in page.text
    assert "Draft saved at" in (await client.get(f"/review/tasks/{task_id}")).text


async def _submit(
    client: httpx.AsyncClient, runtime: Runtime, csrf: str, task_id: uuid.UUID, feedback: str
) -> httpx.Response:
    """Claim and submit a passing review through the forms."""
    await _claim(client, csrf, task_id)
    version = (await _task(runtime, task_id)).lease_version
    form = {"csrf_token": csrf, "lease_version": str(version), "feedback": feedback}
    return await client.post(
        f"/review/tasks/{task_id}/submit", data={**form, **await _levels(runtime, task_id, 2)}
    )


async def test_submit_completes_once_and_says_thank_you(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    done = await _submit(client, runtime, csrf, task_id, "Strong, well-evidenced coaching.")
    assert done.status_code == 303 and done.headers["location"] == f"/review/tasks/{task_id}/done"
    thanks = await client.get(done.headers["location"])
    assert thanks.status_code == 200 and 'data-testid="done-recommendation">Pass<' in thanks.text
    # A double tap lands on the same thank-you page, and nothing is written twice.
    twice = await _submit(client, runtime, csrf, task_id, "Strong, well-evidenced coaching.")
    assert twice.status_code == 303 and twice.headers["location"].endswith("/done")
    async with runtime.sessions() as session:
        reviews = (await session.exec(select(Review))).all()
    assert len(reviews) == 1 and reviews[0].state == ReviewState.submitted
    assert reviews[0].recommendation == "pass"
    assert (await _task(runtime, task_id)).state == TaskState.completed
    assert (await client.get(f"/review/tasks/{task_id}")).status_code == 404


async def test_an_incomplete_submit_comes_back_as_typed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    await _claim(client, csrf, task_id)
    version = (await _task(runtime, task_id)).lease_version
    first = next(iter((await _levels(runtime, task_id, 1)).items()))  # "Plans" only
    refused = await client.post(
        f"/review/tasks/{task_id}/submit",
        data={
            "csrf_token": csrf,
            "lease_version": str(version),
            first[0]: first[1],
            "feedback": "Typed on a bus.",
        },
    )
    assert refused.status_code == 422
    assert "Score every criterion first: Acts." in refused.text
    assert "Typed on a bus.</textarea>" in refused.text
    assert re.search(rf'value="{first[1]}" required[^>]*\bchecked', refused.text)
    async with runtime.sessions() as session:
        assert (await session.exec(select(Review))).all() == []
    forged = await client.post(
        f"/review/tasks/{task_id}/draft",
        data={"csrf_token": csrf, "lease_version": str(version), first[0]: "not-a-uuid"},
    )
    assert forged.status_code == 422 and "not in this rubric" in forged.text


async def test_history_lists_my_reviews_newest_first_a_page_at_a_time(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = await _credential(runtime, "older", title="Older Credential")
    newer = await _credential(runtime, "newer", title="Newer Credential")
    first = await _packet(client, runtime, older)
    second = await _packet(client, runtime, newer, "earner2")
    csrf = await _reviewer(client, runtime)
    assert "You have not submitted a review yet." in (await client.get("/review/history")).text
    await _submit(client, runtime, csrf, first, "Feedback on the older one.")
    await _submit(client, runtime, csrf, second, "Feedback on the newer one.")
    listed = (await client.get("/review/history")).text
    assert listed.index("Newer Credential") < listed.index("Older Credential")
    assert "Feedback on the older one." in listed and ">Pass<" in listed
    assert "Earnestine" not in listed
    monkeypatch.setattr(history, "PAGE_SIZE", 1)
    page1 = (await client.get("/review/history")).text
    assert "Newer Credential" in page1 and "Older Credential" not in page1
    assert 'href="/review/history?page=2"' in page1
    page2 = (await client.get("/review/history?page=2")).text
    assert "Older Credential" in page2 and 'data-testid="history-next"' not in page2
    assert 'href="/review/history?page=1"' in page2
    assert (await client.get("/review/history?page=x")).status_code == 200


async def test_a_submit_after_the_lease_ended_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    await _claim(client, csrf, task_id)
    version = (await _task(runtime, task_id)).lease_version
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE review_tasks SET lease_expires_at = now() - interval '1 minute' "
                "WHERE id = :id"
            ),
            {"id": task_id},
        )
    form = {
        "csrf_token": csrf,
        "lease_version": str(version),
        "feedback": "Too late, sadly.",
        **await _levels(runtime, task_id, 2),
    }
    for action in ("submit", "draft"):
        late = await client.post(f"/review/tasks/{task_id}/{action}", data=form)
        assert late.status_code == 409
        assert "This review is no longer yours" in late.text
        assert "Too late, sadly.</textarea>" in late.text  # handed back to copy
    async with runtime.sessions() as session:
        assert (await session.exec(select(Review))).all() == []
    assert (await _task(runtime, task_id)).state == TaskState.claimed
    page = await client.get(f"/review/tasks/{task_id}")
    assert page.status_code == 410 and "This review is no longer yours" in page.text
    assert "What I did" not in page.text


async def test_someone_elses_task_is_not_found(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    other_csrf = await _reviewer(other, runtime, "holder")
    await _claim(other, other_csrf, task_id)
    for path in (f"/review/tasks/{task_id}", f"/review/tasks/{uuid.uuid4()}", "/review/tasks/x"):
        assert (await client.get(path)).status_code == 404, path
    version = (await _task(runtime, task_id)).lease_version
    forged = {"csrf_token": csrf, "lease_version": str(version), "feedback": "mine now"}
    for action in ("submit", "draft", "release", "extend"):
        response = await client.post(f"/review/tasks/{task_id}/{action}", data=forged)
        assert response.status_code in (404, 409), action
    task = await _task(runtime, task_id)
    assert task.state == TaskState.claimed and task.lease_version == version and not task.extended
    async with runtime.sessions() as session:
        assert (await session.exec(select(Review))).all() == []
    done = await _submit(other, runtime, other_csrf, task_id, "Done by the holder.")
    assert done.status_code == 303
    assert (await client.get(f"/review/tasks/{task_id}/done")).status_code == 404


async def test_user_text_is_escaped_everywhere(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await _credential(runtime, title=f"Title {XSS}")
    task_id = await _packet(client, runtime, credential, reflection=f"Reflection {XSS}")
    csrf = await _reviewer(client, runtime)
    pages = [(await client.get("/review")).text]
    await _claim(client, csrf, task_id)
    pages.append((await client.get(f"/review/tasks/{task_id}")).text)
    await _submit(client, runtime, csrf, task_id, f"Feedback {XSS}")
    pages.append((await client.get(f"/review/tasks/{task_id}/done")).text)
    pages.append((await client.get("/review/history")).text)
    for page in pages:
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert" in page
    assert "Reflection &lt;script&gt;" in pages[1] and "Feedback &lt;script&gt;" in pages[3]


async def test_forms_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    task_id = await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    for path in (f"/review/tasks/{task_id}/claim", "/review/claim-next"):
        assert (await client.post(path, data={})).status_code == 403
        assert (await client.post(path, data={"csrf_token": "forged"})).status_code == 403
    assert (await _task(runtime, task_id)).state == TaskState.open
    await _claim(client, csrf, task_id)
    version = str((await _task(runtime, task_id)).lease_version)
    for action in ("extend", "release", "draft", "submit"):
        response = await client.post(
            f"/review/tasks/{task_id}/{action}", data={"lease_version": version, "feedback": "x"}
        )
        assert response.status_code == 403, action
    task = await _task(runtime, task_id)
    assert task.state == TaskState.claimed and not task.extended
    async with runtime.sessions() as session:
        assert (await session.exec(select(Review))).all() == []


async def test_logged_out_and_outside_any_pool(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await f.organisation(runtime)
    page = await client.get("/review")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/review"
    assert (await client.get("/review/feed.json")).status_code == 401
    await f.person(runtime, "teacher")
    await log_in(client, "teacher@mcx.example", PASSWORD)
    page = await client.get("/review")
    assert page.status_code == 200 and 'data-testid="not-in-pool"' in page.text
    assert 'data-testid="feed-empty"' in page.text


async def test_the_feed_costs_the_same_queries_for_one_task_or_many(
    app: Starlette, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await _credential(runtime)
    await _packet(client, runtime, credential)
    await _reviewer(client, runtime)
    engine = app.state.runtime.engine.sync_engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def measure() -> int:
        # From cold caches each time (who is asking, their pools, the drawn page), so a cache that
        # happens to expire between the two cannot decide the comparison.
        forget()
        await queue.eligibility_changed(runtime)
        events.feed_changed()
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert (await client.get("/review")).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    one = await measure()
    for i in range(4):
        await _packet(client, runtime, credential, f"more{i}")
    many = await measure()
    assert len(_cards((await client.get("/review")).text)) == 5
    assert many == one <= 6


async def test_one_card_per_packet_and_its_claim_takes_whichever_task_is_left(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Two peer tasks of one packet are one card ("2 reviewers needed"); when someone was
    quicker to the card's task, the same tap claims the packet's other one."""
    credential = await _credential(runtime, peer_reviews=2)
    await _packet(client, runtime, credential)
    csrf = await _reviewer(client, runtime)
    page = (await client.get("/review")).text
    [card] = _cards(page)
    first = uuid.UUID(card)
    assert "2 reviewers needed" in page
    also = re.findall(r'name="also" value="([0-9a-f-]+)"', page)
    assert len(also) == 1 and also[0] != str(first)
    rival = await f.person(runtime, "rival", [Role.reviewer])
    await tasks.claim_task(runtime, rival, first)
    tapped = await client.post(
        f"/review/tasks/{first}/claim", data={"csrf_token": csrf, "also": also[0]}
    )
    assert tapped.status_code == 303
    assert tapped.headers["location"] == f"/review/tasks/{also[0]}"
    # Nothing is left for this reviewer: the packet's other task is theirs now.
    assert _cards((await client.get("/review")).text) == []
