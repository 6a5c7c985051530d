"""Classroom video through the app and a real (burst) worker: preparation on upload, the
recording's JSON, range requests on the rendition, refusal of a broken video at the
evidence check, timestamped review comments (fenced by the claim, seen by the earner once
the review is in), coordinators' switches, and the feed card's summary."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.actions.submissions import check_evidence
from app.media.summary import evidence_summary
from app.models import Artifact, MediaFile, Role, SubmissionState
from app.runtime import Runtime
from app.settings import Settings
from tests import factories as f
from tests import media
from tests.factories import auth
from tests.helpers import csrf_from, log_in
from workers.main import build_worker

PASSWORD = "factory-password-1"  # tests/factories.py
CRITERIA = [
    {"title": "Classroom video", "kind": "video", "required": True},
    {"title": "Reflection", "kind": "reflection", "required": True},
]
# 0-2 s talk, 2-6 s silence, 6-8 s talk.
CLIP = [(2.0, "moving", "tone"), (4.0, "moving", "silence"), (2.0, "moving", "tone")]


async def _work(settings: Settings) -> None:
    worker = build_worker(settings, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def _criteria(client: httpx.AsyncClient, credential_id: uuid.UUID) -> dict[str, str]:
    detail = (await client.get(f"/api/v1/credentials/{credential_id}")).json()
    return {c["kind"]: c["criterion_id"] for c in detail["submission_criteria"]}


async def _packet(
    client: httpx.AsyncClient, runtime: Runtime, *, video: bytes | None = None
) -> dict[str, Any]:
    """An earner's packet with a video and a reflection (not submitted)."""
    credential = await f.credential(runtime, "teaching-video", submission_criteria=CRITERIA)
    earner = await f.person(runtime, "earner")
    token = await f.token_for(runtime, earner)
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    submission_id = started.json()["id"]
    criteria = await _criteria(client, credential.id)
    uploaded = await client.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{criteria['video']}",
        content=video if video is not None else media.clip(CLIP, size=(160, 120)),
        headers=auth(token) | {"X-Filename": "lesson.mp4"},
    )
    assert uploaded.status_code == 201, uploaded.text
    written = await client.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{criteria['reflection']}",
        json={"text": "What happened in the lesson."},
        headers=auth(token),
    )
    assert written.status_code == 201, written.text
    return {
        "credential": credential,
        "earner": earner,
        "token": token,
        "submission_id": submission_id,
        "artifact_id": uploaded.json()["artifact_id"],
        "sha256": uploaded.json()["sha256"],
        "criteria": criteria,
    }


async def _in_review(client: httpx.AsyncClient, runtime: Runtime, packet: dict[str, Any]) -> None:
    done = await client.post(
        f"/api/v1/submissions/{packet['submission_id']}/submit", headers=auth(packet["token"])
    )
    assert done.status_code == 202, done.text
    version_id = await f.latest_version_id(runtime, packet["submission_id"])
    assert await check_evidence(runtime, version_id) == SubmissionState.in_review


async def _claim(client: httpx.AsyncClient, runtime: Runtime, label: str = "rev") -> dict[str, Any]:
    reviewer = await f.person(runtime, label, [Role.reviewer])
    token = await f.token_for(runtime, reviewer)
    open_work = (await client.get("/api/v1/tasks", headers=auth(token))).json()["tasks"]
    task_id = open_work[0]["task_id"]
    claimed = await client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(token))
    assert claimed.status_code == 201, claimed.text
    task = (await client.get(f"/api/v1/tasks/{task_id}", headers=auth(token))).json()
    return {"token": token, "task_id": task_id, "task": task, "reviewer": reviewer}


async def test_an_uploaded_video_is_prepared_and_streams_with_range_requests(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    packet = await _packet(client, runtime)
    url = f"/api/v1/artifacts/{packet['artifact_id']}"
    before = (await client.get(f"{url}/media", headers=auth(packet["token"]))).json()
    assert before["state"] == "pending" and before["src"] == url  # the original meanwhile
    assert (await client.get(f"{url}/rendition", headers=auth(packet["token"]))).status_code == 404

    await _work(settings)

    ready = (await client.get(f"{url}/media", headers=auth(packet["token"]))).json()
    assert ready["state"] == "ready" and ready["progress"] == 100
    assert ready["src"] == f"{url}/rendition" and ready["src_type"] == "video/mp4"
    assert ready["probe"]["video_codec"] == "h264" and abs(ready["probe"]["duration"] - 8) < 0.1
    assert ready["poster"] == f"{url}/poster.jpg" and len(ready["thumbnails"]) == 4
    speech = ready["speech"]
    assert len(speech) == 2 and abs(speech[0][1] - 2) <= 0.5 and abs(speech[1][0] - 6) <= 0.5
    assert {o["key"] for o in ready["observations"]} >= {"duration", "speech", "pauses"}

    whole = await client.get(f"{url}/rendition", headers=auth(packet["token"]))
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    first = await client.get(
        f"{url}/rendition", headers=auth(packet["token"]) | {"Range": "bytes=0-99"}
    )
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.content == whole.content[:100]
    tail = await client.get(
        f"{url}/rendition", headers=auth(packet["token"]) | {"Range": f"bytes={size - 10}-"}
    )
    assert tail.status_code == 206 and tail.headers["content-range"] == (
        f"bytes {size - 10}-{size - 1}/{size}"
    )
    assert tail.content == whole.content[-10:]
    beyond = await client.get(
        f"{url}/rendition", headers=auth(packet["token"]) | {"Range": f"bytes={size + 5}-"}
    )
    assert beyond.status_code == 416

    poster = await client.get(f"{url}/poster.jpg", headers=auth(packet["token"]))
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    thumb = await client.get(f"{url}/thumbnails/4.jpg", headers=auth(packet["token"]))
    assert thumb.status_code == 200
    assert (
        await client.get(f"{url}/thumbnails/5.jpg", headers=auth(packet["token"]))
    ).status_code == 404
    # Someone else: exactly like a missing file.
    stranger = await f.token_for(runtime, await f.person(runtime, "stranger"))
    for path in ("media", "rendition", "poster.jpg"):
        assert (await client.get(f"{url}/{path}", headers=auth(stranger))).status_code == 404
    # Prepared once: a second upload of the same bytes reuses it.
    async with runtime.sessions() as session:
        rows = (await session.exec(select(MediaFile))).all()
    assert [row.sha256 for row in rows] == [packet["sha256"]]


async def test_a_video_that_does_not_decode_goes_back_with_the_reason(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    broken = media.mp4(moov=False)  # an MP4 whose recording stopped before its index
    packet = await _packet(client, runtime, video=broken)
    done = await client.post(
        f"/api/v1/submissions/{packet['submission_id']}/submit", headers=auth(packet["token"])
    )
    if done.status_code == 202:  # the self-check may already refuse it; else the worker does
        version_id = await f.latest_version_id(runtime, packet["submission_id"])
        assert await check_evidence(runtime, version_id) == SubmissionState.returned
        shown = (
            await client.get(
                f"/api/v1/submissions/{packet['submission_id']}", headers=auth(packet["token"])
            )
        ).text
        assert "lesson.mp4: the video does not open" in shown
    else:
        assert done.status_code == 422 and "the video does not open" in done.text
    await _work(settings)
    failed = (
        await client.get(
            f"/api/v1/artifacts/{packet['artifact_id']}/media", headers=auth(packet["token"])
        )
    ).json()
    assert failed["state"] == "failed" and failed["error"].startswith("the video does not open")
    assert failed["status"].startswith("This video could not be prepared: the video does not open")


async def test_timestamped_comments_are_part_of_the_fenced_review(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    packet = await _packet(client, runtime)
    await _work(settings)
    await _in_review(client, runtime, packet)
    claim = await _claim(client, runtime)
    token, task_id, task = claim["token"], claim["task_id"], claim["task"]
    lease = task["lease_version"]
    criterion = task["rubric"]["criteria"][0]["criterion_id"]
    moments = f"/api/v1/tasks/{task_id}/moments"
    body = {
        "lease_version": lease,
        "artifact_id": packet["artifact_id"],
        "at_seconds": 6.5,
        "criterion_id": criterion,
        "comment": "Wait time: you let the silence work here.",
    }
    made = await client.post(moments, json=body, headers=auth(token))
    assert made.status_code == 201, made.text
    assert made.json()["at_seconds"] == 6.5 and made.json()["criterion"] == "Plans"
    second = await client.post(
        moments,
        json=body | {"at_seconds": 1, "criterion_id": None, "comment": "Clear start."},
        headers=auth(token),
    )
    assert second.status_code == 201
    listed = (await client.get(moments, headers=auth(token))).json()["moments"]
    assert [m["at_seconds"] for m in listed] == [1.0, 6.5]  # in time order

    refusals = [
        ({"lease_version": lease + 1}, 409),  # a claim that is not (or no longer) mine
        ({"at_seconds": 60}, 422),  # after the 8 s recording ends
        ({"artifact_id": str(uuid.uuid4())}, 422),  # not in this packet
        ({"criterion_id": str(uuid.uuid4())}, 422),  # not in this rubric
        ({"comment": "   "}, 422),
        ({"comment": "x" * 2001}, 422),
        ({"at_seconds": -1}, 422),
    ]
    for change, status in refusals:
        refused = await client.post(moments, json=body | change, headers=auth(token))
        assert refused.status_code == status, (change, refused.text)
    assert len((await client.get(moments, headers=auth(token))).json()["moments"]) == 2

    # The earner sees nothing before the review is in.
    media_url = f"/api/v1/artifacts/{packet['artifact_id']}/media"
    mine = (await client.get(media_url, headers=auth(packet["token"]))).json()
    assert mine["moments"] == []
    # The reviewer sees their own beside the evidence.
    theirs = (await client.get(media_url, headers=auth(token))).json()
    assert [m["comment"] for m in theirs["moments"]] == ["Clear start.", body["comment"]]

    removed = await client.request(
        "DELETE",
        f"{moments}/{second.json()['moment_id']}",
        json={"lease_version": lease},
        headers=auth(token),
    )
    assert removed.status_code == 200
    scores = [
        {"criterion_id": c["criterion_id"], "level_id": c["levels"][2]["level_id"]}
        for c in task["rubric"]["criteria"]
    ]
    submitted = await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": lease, "scores": scores, "feedback": "Good wait time."},
        headers=auth(token),
    )
    assert submitted.status_code == 201, submitted.text

    # Fenced: the review is in, its moments cannot change any more.
    late = await client.post(moments, json=body, headers=auth(token))
    assert late.status_code == 409
    mine = (await client.get(media_url, headers=auth(packet["token"]))).json()
    assert [
        (m["at_seconds"], m["comment"], m["review"], m["criterion"]) for m in mine["moments"]
    ] == [(6.5, body["comment"], 1, "Plans")]
    assert "reviewer" not in str(mine["moments"]).lower()  # blind both ways


async def test_the_reviewer_page_plays_the_rendition_and_takes_moments_without_javascript(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    packet = await _packet(client, runtime)
    await _work(settings)
    await _in_review(client, runtime, packet)
    claim = await _claim(client, runtime)
    assert (await log_in(client, "rev@mcx.example", PASSWORD)).status_code == 303
    page = await client.get(f"/review/tasks/{claim['task_id']}")
    assert page.status_code == 200
    url = f"/api/v1/artifacts/{packet['artifact_id']}"
    assert f'src="{url}/rendition"' in page.text and f'poster="{url}/poster.jpg"' in page.text
    assert 'data-testid="observations"' in page.text and "Speech heard for" in page.text
    assert "How it is measured, and its limits" in page.text
    csrf = await csrf_from(client, f"/review/tasks/{claim['task_id']}")
    posted = await client.post(
        f"/review/tasks/{claim['task_id']}/moments",
        data={
            "csrf_token": csrf,
            "lease_version": str(claim["task"]["lease_version"]),
            "artifact_id": packet["artifact_id"],
            "at": "0:07",
            "criterion_id": "",
            "comment": "Students answer here.",
        },
    )
    assert posted.status_code == 303
    again = await client.get(f"/review/tasks/{claim['task_id']}")
    assert 'data-seek="7.0"' in again.text and "Students answer here." in again.text
    bad = await client.post(
        f"/review/tasks/{claim['task_id']}/moments",
        data={
            "csrf_token": csrf,
            "lease_version": str(claim["task"]["lease_version"]),
            "artifact_id": packet["artifact_id"],
            "at": "soon",
            "comment": "x",
        },
    )
    assert bad.status_code == 303 and "moment_error=bad_moment" in bad.headers["location"]
    shown = await client.get(bad.headers["location"])
    assert "That moment could not be added" in shown.text


async def test_the_earner_sees_progress_then_observations_in_the_self_check(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    packet = await _packet(client, runtime)
    assert (await log_in(client, "earner@mcx.example", PASSWORD)).status_code == 303
    page = await client.get(
        f"/submissions/{packet['submission_id']}/recordings/{packet['artifact_id']}"
    )
    assert page.status_code == 200 and "Waiting to be prepared" in page.text
    async with runtime.sessions() as session:
        row = await session.get(MediaFile, packet["sha256"])
        assert row is not None
        row.state, row.progress = "working", 40
        session.add(row)
        await session.commit()
    page = await client.get(
        f"/submissions/{packet['submission_id']}/recordings/{packet['artifact_id']}"
    )
    assert "Preparing your video: 40 %" in page.text
    async with runtime.sessions() as session:
        row = await session.get(MediaFile, packet["sha256"])
        assert row is not None
        row.state = "pending"
        session.add(row)
        await session.commit()
    await _work(settings)
    check = await client.get(f"/submissions/{packet['submission_id']}/check")
    assert check.status_code == 200 and 'data-testid="selfcheck-recordings"' in check.text
    assert "Speech heard for" in check.text and "0:08 long" in check.text
    # The earner heard it was ready.
    notes = (await client.get("/api/v1/notifications", headers=auth(packet["token"]))).json()
    assert "media.ready" in str(notes)
    other = await f.token_for(runtime, await f.person(runtime, "other"))
    assert (
        await client.get(f"/api/v1/artifacts/{packet['artifact_id']}/media", headers=auth(other))
    ).status_code == 404


async def test_coordinators_set_the_stated_length_and_switch_observations(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    packet = await _packet(client, runtime)
    await _work(settings)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    token = await f.token_for(runtime, coordinator)
    criterion = packet["criteria"]["video"]
    url = f"/api/v1/criteria/{criterion}/media"
    body = {"min_seconds": 300, "max_seconds": 900, "observations_off": ["pauses", "frozen"]}
    saved = await client.put(url, json=body, headers=auth(token))
    assert saved.status_code == 200, saved.text
    assert saved.json()["observations_off"] == ["frozen", "pauses"]
    seen = (
        await client.get(
            f"/api/v1/artifacts/{packet['artifact_id']}/media", headers=auth(packet["token"])
        )
    ).json()
    keys = [o["key"] for o in seen["observations"]]
    assert "pauses" not in keys and "frozen" not in keys and "speech" in keys
    duration = next(o for o in seen["observations"] if o["key"] == "duration")
    assert duration["notable"] and "shorter than the 5 minutes to 15 minutes" in duration["finding"]

    refused = [
        ({"observations_off": ["mood"]}, 422),
        ({"min_seconds": 900, "max_seconds": 300}, 422),
        ({"min_seconds": -1}, 422),
    ]
    for change, status in refused:
        answer = await client.put(url, json=body | change, headers=auth(token))
        assert answer.status_code == status, (change, answer.text)
    reflection = packet["criteria"]["reflection"]
    not_media = await client.put(
        f"/api/v1/criteria/{reflection}/media", json=body, headers=auth(token)
    )
    assert not_media.status_code == 422
    # Anyone but the credential's coordinators: 404.
    assert (await client.put(url, json=body, headers=auth(packet["token"]))).status_code == 404
    # The page form does the same, linked from the credential's settings page.
    assert (await log_in(client, "coord@mcx.example", PASSWORD)).status_code == 303
    settings_page = await client.get(f"/coordinate/credentials/{packet['credential'].id}")
    assert f'href="/coordinate/criteria/{criterion}/observations"' in settings_page.text
    form_url = f"/coordinate/criteria/{criterion}/observations"
    csrf = await csrf_from(client, form_url)
    posted = await client.post(
        form_url,
        data={"csrf_token": csrf, "min_minutes": "1", "max_minutes": "2", "on-speech": "on"},
    )
    assert posted.status_code == 303
    async with runtime.sessions() as session:
        from app.models import SubmissionCriterion

        stored = await session.get(SubmissionCriterion, uuid.UUID(criterion))
        assert stored is not None
        assert (stored.min_seconds, stored.max_seconds) == (60, 120)
        assert "speech" not in stored.observations_off and "pauses" in stored.observations_off


async def test_the_feed_card_summary_of_a_version(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    packet = await _packet(client, runtime)
    version_id = await f.latest_version_id(runtime, packet["submission_id"])
    async with runtime.sessions() as session:
        assert await evidence_summary(session, version_id) == "video, reflection"
    await _work(settings)
    async with runtime.sessions() as session:
        assert await evidence_summary(session, version_id) == "video 8 s, reflection"
        kinds = (await session.exec(select(Artifact.kind))).all()
    assert sorted(kinds) == ["reflection", "video"]


@pytest.mark.parametrize("transcodes", [1])
async def test_the_worker_prepares_one_file_at_a_time_by_default(
    settings: Settings, transcodes: int
) -> None:
    from workers.main import worker_settings

    built = worker_settings(settings, settings.redis_url or "")
    ctx: dict[str, Any] = {}
    await built["on_startup"](ctx)
    try:
        assert ctx["media_slots"]._value == transcodes == settings.media_transcodes
        prepare = next(f for f in built["functions"] if getattr(f, "name", "") == "prepare_media")
        assert prepare.timeout_s == settings.media_job_timeout_seconds
    finally:
        await built["on_shutdown"](ctx)


async def test_progress_reaches_the_earner_live_without_filling_the_bell(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import events
    from app.actions import media as media_actions
    from app.models import Notification

    monkeypatch.setattr(media_actions, "PROGRESS_EVERY", 0.02)
    long_clip = media.clip([(30.0, "moving", "tone")], size=(320, 240), fps=25)
    packet = await _packet(client, runtime, video=long_clip)
    pubsub = runtime.redis.pubsub()
    await pubsub.subscribe(events.user_channel(settings))
    try:
        await _work(settings)
        heard = []
        quiet = 0
        for _ in range(10_000):  # bounded; ends after a second with nothing more
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is None:
                quiet += 1
                if quiet >= 2:
                    break
                continue
            heard.append(json.loads(message["data"]))
    finally:
        await pubsub.aclose()
    progress = [m for m in heard if m["notification"]["kind"] == "media.progress"]
    assert progress, heard
    figures = [m["notification"]["payload"]["progress"] for m in progress]
    assert figures == sorted(figures) and all(0 <= p < 100 for p in figures)
    first = progress[0]
    assert first["user_id"] == str(packet["earner"].id)
    assert first["notification"]["transient"] and first["notification"]["read"]
    assert first["notification"]["payload"]["artifact_id"] == packet["artifact_id"]
    assert any(m["notification"]["kind"] == "media.ready" for m in heard)
    async with runtime.sessions() as session:
        kinds = (await session.exec(select(Notification.kind))).all()
    assert "media.progress" not in kinds and "media.ready" in kinds


async def test_an_unexpected_failure_ends_in_a_reason_not_an_endless_preparing(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from app.actions import media as media_actions
    from app.media import renditions

    packet = await _packet(client, runtime)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an encoder fell over")

    monkeypatch.setattr(renditions, "make", broken)
    state = await media_actions.prepare_media(runtime, packet["sha256"], asyncio.Semaphore(1))
    assert state == "failed"
    seen = (
        await client.get(
            f"/api/v1/artifacts/{packet['artifact_id']}/media", headers=auth(packet["token"])
        )
    ).json()
    assert seen["state"] == "failed" and seen["error"] == "the file could not be converted"
    # Done once: running the job again leaves it as it is.
    assert await media_actions.prepare_media(runtime, packet["sha256"], asyncio.Semaphore(1)) == (
        "failed"
    )
