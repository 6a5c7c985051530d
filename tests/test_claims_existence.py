"""Another reviewer's claim answers exactly as a task that does not exist (404: missing and
forbidden look the same); only the reviewer whose own claim was lost hears it is gone (409)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import func, select

from app.actions import tasks
from app.models import Review, ReviewMoment, ReviewTask, Role, TaskState
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth


async def _world(client: httpx.AsyncClient, runtime: Runtime) -> tuple[str, dict[str, str]]:
    """One open task, and three eligible reviewers' tokens: holder, other, third."""
    credential = await f.credential(runtime, peer_reviews=1)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    tokens = {
        name: await f.token_for(runtime, await f.person(runtime, name, [Role.reviewer]))
        for name in ("holder", "other", "third")
    }
    async with runtime.sessions() as session:
        task_id = str((await session.exec(select(ReviewTask.id))).one())
    return task_id, tokens


def _api(task: str, version: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every API write under a claim on `task`, naming lease_version `version`."""
    claim = {"lease_version": version}
    review = {"lease_version": version, "scores": [], "feedback": "Mine now."}
    moment = {
        "lease_version": version,
        "artifact_id": str(uuid.uuid4()),
        "at_seconds": 5.0,
        "comment": "Mine now.",
    }
    return [
        ("POST", f"/api/v1/tasks/{task}/extend", claim),
        ("POST", f"/api/v1/tasks/{task}/release", claim),
        ("PUT", f"/api/v1/tasks/{task}/review", review),
        ("POST", f"/api/v1/tasks/{task}/review", review),
        ("POST", f"/api/v1/tasks/{task}/moments", moment),
        ("DELETE", f"/api/v1/tasks/{task}/moments/{uuid.uuid4()}", claim),
    ]


def _pages(task: str, version: int) -> list[tuple[str, dict[str, str]]]:
    """Every page form posted under a claim on `task`."""
    form = {"lease_version": str(version), "feedback": "Mine now."}
    moment = {"lease_version": str(version), "artifact_id": str(uuid.uuid4()), "at": "0:05"}
    return [
        (f"/review/tasks/{task}/extend", form),
        (f"/review/tasks/{task}/release", form),
        (f"/review/tasks/{task}/draft", form),
        (f"/review/tasks/{task}/submit", form),
        (f"/review/tasks/{task}/moments", {**moment, "comment": "Mine now."}),
        (f"/review/tasks/{task}/moments/{uuid.uuid4()}/delete", form),
    ]


async def _api_answers(
    client: httpx.AsyncClient, token: str, task: str, version: int
) -> list[tuple[int, Any]]:
    answers = []
    for method, path, body in _api(task, version):
        answer = await client.request(method, path, json=body, headers=auth(token))
        answers.append((answer.status_code, answer.json()))
    return answers


async def _page_answers(
    client: httpx.AsyncClient, token: str, task: str, version: int
) -> list[tuple[int, str]]:
    answers = []
    for path, form in _pages(task, version):
        answer = await client.post(path, data=form, headers=auth(token))
        answers.append((answer.status_code, answer.text))
    return answers


NOT_FOUND = (404, {"error": "not_found", "detail": "That task was not found."})
GONE_CODE = "claim_gone"


async def test_another_reviewers_claim_answers_as_a_task_that_does_not_exist(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    task, tokens = await _world(client, runtime)
    claimed = await client.post(f"/api/v1/tasks/{task}/claim", headers=auth(tokens["holder"]))
    assert claimed.status_code == 201
    version = claimed.json()["lease_version"]
    missing = str(uuid.uuid4())

    nowhere = await _api_answers(client, tokens["other"], missing, version)
    assert nowhere == [NOT_FOUND] * len(nowhere)
    # The other reviewer is eligible for this credential, names the right lease_version, and
    # still learns nothing: every answer is the missing task's, to the byte.
    assert await _api_answers(client, tokens["other"], task, version) == nowhere
    assert await _api_answers(client, tokens["other"], task, version + 1) == nowhere

    # Pages: the same 404 page as for a task that is not there.
    pages_nowhere = await _page_answers(client, tokens["other"], missing, version)
    pages_here = await _page_answers(client, tokens["other"], task, version)
    assert [status for status, _ in pages_here] == [404] * len(pages_here)
    for (_, here), (_, there) in zip(pages_here, pages_nowhere, strict=True):
        assert "That task was not found." in here
        assert here.replace(task, missing) == there

    # Nothing changed: still the holder's, at the same version, with nothing written.
    async with runtime.sessions() as session:
        row = await session.get(ReviewTask, uuid.UUID(task))
        assert row is not None
        assert (row.state, row.lease_version, row.extended) == (TaskState.claimed, version, False)
        assert (await session.exec(select(func.count()).select_from(Review))).one() == 0
        assert (await session.exec(select(func.count()).select_from(ReviewMoment))).one() == 0
    own = await client.get(f"/api/v1/tasks/{task}", headers=auth(tokens["holder"]))
    assert own.status_code == 200 and own.json()["lease_version"] == version


async def _expire(runtime: Runtime) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE review_tasks SET lease_expires_at = now() - interval '1 second'")
        )


def _all_gone(answers: list[tuple[int, Any]]) -> bool:
    return all(status == 409 and body["error"] == GONE_CODE for status, body in answers)


async def test_my_own_lost_claim_is_still_gone_not_missing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    task, tokens = await _world(client, runtime)
    claimed = await client.post(f"/api/v1/tasks/{task}/claim", headers=auth(tokens["holder"]))
    version = claimed.json()["lease_version"]

    # Run out, before the sweeper: still mine in the row, so 409 (extend says so too).
    await _expire(runtime)
    late = await client.post(
        f"/api/v1/tasks/{task}/review",
        json={"lease_version": version, "scores": [], "feedback": "late"},
        headers=auth(tokens["holder"]),
    )
    assert late.status_code == 409 and late.json()["error"] == GONE_CODE

    # Swept back to open: the row names nobody, but the holder held it (409) ...
    assert await tasks.expire_leases(runtime) == 1
    answers = await _api_answers(client, tokens["holder"], task, version)
    assert _all_gone(answers), answers
    pages = await _page_answers(client, tokens["holder"], task, version)
    assert [status for status, _ in pages[:4]] == [409] * 4  # the "claim is over" page
    assert all("no longer yours" in body for _, body in pages[:4])
    # (the moment forms go back to the task page, which then says it is not there)
    assert [status for status, _ in pages[4:]] == [303, 303]
    # ... and someone who never held it finds no task.
    assert await _api_answers(client, tokens["other"], task, version) == [NOT_FOUND] * 6

    # Taken by another reviewer since: the first holder's claim is still gone, not missing;
    # a third reviewer finds nothing; the new holder's stale version is their own claim (409).
    retaken = await client.post(f"/api/v1/tasks/{task}/claim", headers=auth(tokens["other"]))
    assert retaken.status_code == 201
    new_version = retaken.json()["lease_version"]
    assert new_version > version
    assert _all_gone(await _api_answers(client, tokens["holder"], task, version))
    assert _all_gone(await _api_answers(client, tokens["holder"], task, new_version))
    assert await _api_answers(client, tokens["third"], task, new_version) == [NOT_FOUND] * 6
    stale = await client.post(
        f"/api/v1/tasks/{task}/release",
        json={"lease_version": version},
        headers=auth(tokens["other"]),
    )
    assert stale.status_code == 409 and stale.json()["error"] == GONE_CODE
    async with runtime.sessions() as session:
        row = await session.get(ReviewTask, uuid.UUID(task))
        assert row is not None and row.state == TaskState.claimed
        assert row.lease_version == new_version


async def test_a_released_claim_is_gone_for_its_holder_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    task, tokens = await _world(client, runtime)
    claimed = await client.post(f"/api/v1/tasks/{task}/claim", headers=auth(tokens["holder"]))
    version = claimed.json()["lease_version"]
    released = await client.post(
        f"/api/v1/tasks/{task}/release",
        json={"lease_version": version},
        headers=auth(tokens["holder"]),
    )
    assert released.status_code == 200
    assert _all_gone(await _api_answers(client, tokens["holder"], task, version))
    assert await _api_answers(client, tokens["other"], task, version) == [NOT_FOUND] * 6
