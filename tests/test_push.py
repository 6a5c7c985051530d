"""Web Push (issue 20) through the real pieces: devices subscribe over HTTP as push.js does,
actions make notifications, the outbox scans PostgreSQL, and a real arq worker (burst) sends
to a push-service stand-in on 127.0.0.1, which checks the VAPID JWT and decrypts each push
with the device's own keys."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from app.models import PushMessage, PushState, PushSubscription, ReviewTask, Role, TaskState
from app.push import keys, outbox, work
from app.runtime import Runtime
from app.settings import Settings
from tests import factories as f
from tests.factories import auth
from tests.journey import browser, decide, sign_in
from tests.pushkit import Device, PushService, push_service, vapid_claims
from workers.main import build_worker

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[PushService]:
    settings.push_private_endpoints = True  # the stand-in lives on 127.0.0.1, over http
    settings.push_contact = "mailto:ops@mcx.example"
    async with push_service() as running:
        yield running


async def _server_key(client: httpx.AsyncClient) -> str:
    page = await client.get("/me/push")
    assert page.status_code == 200, page.text
    return re.search(r'data-server-key="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


async def _subscribe(client: httpx.AsyncClient, csrf: str, device: Device) -> httpx.Response:
    return await client.post(
        "/me/push/subscriptions",
        json=device.subscription(await _server_key(client)),
        headers={"X-CSRF-Token": csrf, "User-Agent": PHONE_UA},
    )


async def _opt_in(client: httpx.AsyncClient, email: str, device: Device) -> str:
    csrf = await sign_in(client, email)
    subscribed = await _subscribe(client, csrf, device)
    assert subscribed.status_code == 201, subscribed.text
    assert subscribed.json()["browser"] == "Chrome on Android"
    return csrf


async def _work(settings: Settings) -> None:
    """A real arq worker, in burst mode: runs the queued deliveries (retries included)."""
    worker = build_worker(settings, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def _messages(runtime: Runtime) -> list[PushMessage]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(PushMessage))).all())


async def _current_key(runtime: Runtime) -> str:
    async with runtime.sessions() as session:
        return (await keys.current_key(session, runtime.settings.secret_key)).public_key


async def test_feedback_reaches_the_earners_phone_signed_and_encrypted(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "earner")
    phone = Device(service.endpoint("earner-phone"))
    await _opt_in(client, "earner@mcx.example", phone)
    await outbox.scan(runtime)  # the deployment's first scan starts the cursor: no history
    submission_id = await f.submitted(
        client, runtime, await f.token_for(runtime, earner), credential
    )
    await decide(client, await _reviewers(runtime, 2), 3)

    made = await outbox.scan(runtime)
    before = time.time()
    await _work(settings)

    published = await _current_key(runtime)
    pushes = service.to("earner-phone")
    assert len(pushes) == len(made.queued) >= 3
    opened = []
    for push in pushes:
        claims = vapid_claims(push, published)
        assert claims["aud"] == service.origin
        assert before < claims["exp"] <= time.time() + 24 * 3600
        assert claims["sub"] == "mailto:ops@mcx.example"
        assert push.headers["Content-Encoding"] == "aes128gcm"
        assert int(push.headers["TTL"]) > 0 and push.headers["Urgency"] in ("normal", "high")
        opened.append(phone.decrypt(push.body))
    kinds = sorted(p["kind"] for p in opened)
    # "A reviewer started" is off by default; the reviews, the decision and the badge are on.
    assert kinds == ["badge.awarded", "review.received", "review.received", "submission.decided"]
    received = next(p for p in opened if p["kind"] == "review.received")
    assert received["title"] == "New feedback"
    assert credential.title in received["body"]
    assert received["url"] == f"/push/open/{received['id']}"
    # The tap lands on the packet.
    landing = await client.get(received["url"])
    assert (landing.status_code, landing.headers["location"]) == (
        303,
        f"/submissions/{submission_id}",
    )
    assert all(m.state == PushState.sent and m.attempts == 1 for m in await _messages(runtime))
    # Scanning again sends nothing twice.
    assert (await outbox.scan(runtime)).queued == []


async def _reviewers(runtime: Runtime, count: int, prefix: str = "peer") -> list[str]:
    tokens = []
    for i in range(count):
        tokens.append(
            await f.token_for(runtime, await f.person(runtime, f"{prefix}{i}", [Role.reviewer]))
        )
    return tokens


async def test_new_work_is_batched_per_pool_and_never_names_the_earner(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    service: PushService,
    app: object,
) -> None:
    credential = await f.credential(runtime, title="Teacher Leadership")
    await f.person(runtime, "reviewer", [Role.reviewer])
    phone = Device(service.endpoint("reviewer-phone"))
    await _opt_in(client, "reviewer@mcx.example", phone)
    zelda = await f.person(runtime, "zeldaearner", school="Hidden Valley School")
    await f.submitted(client, runtime, await f.token_for(runtime, zelda), credential)
    for label in ("other1", "other2"):
        other = await f.token_for(runtime, await f.person(runtime, label))
        await f.submitted(client, runtime, other, credential)

    now = datetime.now(UTC)
    made = outbox.Made()
    assert await work.new_work(runtime, now, made) == 1
    await outbox.enqueue(runtime, made.queued)
    # Within the batch window, more new work waits for the next batch.
    late = await f.token_for(runtime, await f.person(runtime, "late"))
    await f.submitted(client, runtime, late, credential)
    later = outbox.Made()
    assert await work.new_work(runtime, now + timedelta(minutes=3), later) == 0
    assert later.queued == []
    await _work(settings)
    first = service.to("reviewer-phone")
    assert len(first) == 1
    push = phone.decrypt(first[0].body)
    assert push["title"] == "3 new reviews waiting"  # three packets (two tasks each)
    assert push["body"] == "Peer review: Teacher Leadership"
    raw = str(push)
    assert "Zelda" not in raw and "Hidden Valley" not in raw and "zeldaearner" not in raw
    assert first[0].headers["Topic"] and first[0].headers["TTL"] == "900"

    batch = outbox.Made()
    assert (
        await work.new_work(
            runtime, now + timedelta(minutes=settings.push_batch_minutes + 1), batch
        )
        == 1
    )
    await outbox.enqueue(runtime, batch.queued)
    await _work(settings)
    second = service.to("reviewer-phone")[1:]
    assert [phone.decrypt(p.body)["title"] for p in second] == ["1 new review waiting"]
    # Same pool, same topic: a phone that was off gets only the newest batch.
    assert second[0].headers["Topic"] == first[0].headers["Topic"]


async def test_a_tap_on_work_that_was_taken_says_so(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    await f.person(runtime, "reviewer", [Role.reviewer])
    await _opt_in(client, "reviewer@mcx.example", Device(service.endpoint("r")))
    await f.submitted(
        client, runtime, await f.token_for(runtime, await f.person(runtime, "e")), credential
    )
    made = outbox.Made()
    await work.new_work(runtime, datetime.now(UTC), made)
    (message_id,) = made.queued
    still_open = await client.get(f"/push/open/{message_id}")
    assert (still_open.status_code, still_open.headers["location"]) == (303, "/review")
    rival = (await _reviewers(runtime, 1, "rival"))[0]
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(rival))).status_code == 201
    taken = await client.get(f"/push/open/{message_id}")
    assert taken.status_code == 200
    assert "Already taken" in taken.text and "claimed by other reviewers" in taken.text
    # Another person's push is missing to everyone else.
    async with browser(client._transport.app, 2) as stranger:  # type: ignore[attr-defined]
        await f.person(runtime, "stranger")
        await sign_in(stranger, "stranger@mcx.example")
        assert (await stranger.get(f"/push/open/{message_id}")).status_code == 404


async def test_quiet_hours_hold_news_and_skip_new_work(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.person(runtime, "earner")
    await f.person(runtime, "reviewer", [Role.reviewer])
    earner_phone, reviewer_phone = Device(service.endpoint("e")), Device(service.endpoint("r"))
    csrf = await _opt_in(client, "earner@mcx.example", earner_phone)
    hour = datetime.now(UTC).hour  # quiet from this hour for two hours
    quiet = {
        "csrf_token": csrf,
        "in_app": "yes",
        "quiet_start": str(hour),
        "quiet_end": str((hour + 2) % 24),
        "timezone": "UTC",
    }
    assert (await client.post("/me/reminders", data=quiet)).status_code == 303
    client.cookies.clear()
    csrf = await _opt_in(client, "reviewer@mcx.example", reviewer_phone)
    assert (
        await client.post("/me/reminders", data={**quiet, "csrf_token": csrf})
    ).status_code == 303
    await outbox.scan(runtime)
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)

    night = datetime.now(UTC) + timedelta(minutes=1)
    announced = outbox.Made()
    await work.new_work(runtime, night, announced)
    assert (announced.queued, announced.skipped_quiet) == ([], 1)  # perishable: skipped, not held
    told = await outbox.scan(runtime, night)  # "submission.queued" is not pushed; none yet
    await decide(client, [(await _reviewers(runtime, 1))[0]], 3)
    held = await outbox.scan(runtime, night)
    assert held.queued == [] and held.held >= 2 and told.queued == []
    await _work(settings)
    assert service.received == []
    assert {m.state for m in await _messages(runtime)} == {PushState.held}

    morning = night + timedelta(hours=3)
    released = await outbox.scan(runtime, morning)
    assert len(released.queued) == held.held
    await _work(settings)
    titles = sorted(earner_phone.decrypt(p.body)["title"] for p in service.to("e"))
    assert "New feedback" in titles and service.to("r") == []
    # Held past its time to live: too late, recorded as such, never sent.
    async with runtime.sessions() as session:
        for message in (await session.exec(select(PushMessage))).all():
            message.state = PushState.held
            session.add(message)
        await session.commit()
    await outbox.scan(runtime, morning + timedelta(days=8))
    assert {m.state for m in await _messages(runtime)} == {PushState.expired}


async def test_what_a_person_turned_off_is_not_pushed(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.person(runtime, "earner")
    phone = Device(service.endpoint("e"))
    csrf = await _opt_in(client, "earner@mcx.example", phone)
    page = await client.get("/me/push")
    assert "new work I may claim" not in page.text  # an earner is not offered reviewer kinds
    assert "As a reviewer" not in page.text and "About my packets" in page.text
    saved = await client.post(
        "/me/push/choices", data={"csrf_token": csrf, "on_decision": "yes", "on_claimed": "yes"}
    )
    assert saved.status_code == 303
    await outbox.scan(runtime)
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    await decide(client, await _reviewers(runtime, 1), 3)
    await outbox.scan(runtime)
    await _work(settings)
    kinds = sorted(phone.decrypt(p.body)["kind"] for p in service.to("e"))
    assert kinds == ["submission.claimed", "submission.decided"]  # no feedback, no badge
    refused = await client.post("/me/push/choices", data={"csrf_token": csrf, "on_bogus": "yes"})
    assert refused.status_code == 303  # unknown boxes are ignored; nothing else changes


async def test_a_gone_device_is_forgotten_and_a_busy_service_is_tried_again(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.person(runtime, "earner")
    old, busy, broken = (Device(service.endpoint(n)) for n in ("old", "busy", "broken"))
    csrf = await _opt_in(client, "earner@mcx.example", old)
    for device in (busy, broken):
        assert (await _subscribe(client, csrf, device)).status_code == 201
    # Only feedback, so each device gets exactly one push and its answers are its own.
    only = {"csrf_token": csrf, "on_feedback": "yes"}
    assert (await client.post("/me/push/choices", data=only)).status_code == 303
    service.script["/push/old"] = [(410, {})]
    service.script["/push/busy"] = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "0"})]
    service.script["/push/broken"] = [(500, {"Retry-After": "0"})] * 5
    await outbox.scan(runtime)
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    await decide(client, await _reviewers(runtime, 1), 1)
    made = await outbox.scan(runtime)
    assert len(made.queued) == 3  # one push, three devices
    await _work(settings)

    assert len(service.to("old")) == 1
    busy_tries = service.to("busy")
    assert len(busy_tries) == 3  # 429, then 503, then taken
    assert busy_tries[1].at - busy_tries[0].at >= 0.9  # Retry-After: 1 was honoured
    assert busy.decrypt(busy_tries[2].body)["title"] == "New feedback"
    assert len(service.to("broken")) == 5  # five tries, then given up
    async with runtime.sessions() as session:
        devices = {s.endpoint for s in (await session.exec(select(PushSubscription))).all()}
    assert devices == {busy.endpoint, broken.endpoint}  # the 410 forgot the old device
    by_state = {(m.state, m.attempts, m.last_status) for m in await _messages(runtime)}
    assert by_state == {("gone", 1, 410), ("sent", 3, 201), ("failed", 5, 500)}
    # The settings page lists what is left, and the record.
    page = await client.get("/me/push")
    assert page.text.count("Chrome on Android") >= 2 and "not delivered" in page.text


async def test_an_ending_claim_is_pushed_once_per_lease(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    await f.submitted(
        client, runtime, await f.token_for(runtime, await f.person(runtime, "e")), credential
    )
    reviewer = await f.person(runtime, "reviewer", [Role.reviewer])
    phone = Device(service.endpoint("r"))
    await _opt_in(client, "reviewer@mcx.example", phone)
    reviewer_token = await f.token_for(runtime, reviewer)
    claimed = await client.post("/api/v1/tasks/claim-next", headers=auth(reviewer_token))
    assert claimed.status_code == 201
    async with runtime.sessions() as session:
        task = (
            await session.exec(select(ReviewTask).where(ReviewTask.state == TaskState.claimed))
        ).one()
    assert task.lease_expires_at is not None
    soon = task.lease_expires_at - timedelta(minutes=3, seconds=30)
    for moment in (
        task.lease_expires_at - timedelta(minutes=20),
        soon,
        soon + timedelta(minutes=1),
    ):
        await outbox.scan(runtime, moment)
    await _work(settings)
    (push,) = service.to("r")
    opened = phone.decrypt(push.body)
    assert opened["title"] == "Your claim ends in 4 min"
    assert push.headers["Urgency"] == "high" and 0 < int(push.headers["TTL"]) <= 240
    landing = await client.get(opened["url"])
    assert landing.headers["location"] == f"/review/tasks/{task.id}"
    # Released meanwhile: the tap says the claim ended instead of opening a task not theirs.
    released = await client.post(
        f"/api/v1/tasks/{task.id}/release",
        json={"lease_version": task.lease_version},
        headers=auth(reviewer_token),
    )
    assert released.status_code == 200, released.text
    ended = await client.get(opened["url"])
    assert ended.status_code == 200 and "Claim ended" in ended.text


async def test_subscriptions_are_validated_and_each_persons_own(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    await f.organisation(runtime)
    await f.person(runtime, "ada")
    csrf = await sign_in(client, "ada@mcx.example")
    key = await _server_key(client)
    good = Device(service.endpoint("ada")).subscription(key)
    for broken, code in (
        ({**good, "keys": {**good["keys"], "p256dh": "not*base64"}}, "bad_subscription"),
        ({**good, "keys": {**good["keys"], "p256dh": "AAAA"}}, "bad_subscription"),
        ({**good, "keys": {**good["keys"], "auth": "AAAA"}}, "bad_subscription"),
        ({**good, "endpoint": "javascript:alert(1)"}, "bad_subscription"),
        (
            {**good, "server_key": key[:10] + ("A" if key[10] != "A" else "B") + key[11:]},
            "stale_key",
        ),
        ({"endpoint": good["endpoint"]}, "invalid"),
    ):
        refused = await client.post(
            "/me/push/subscriptions", json=broken, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code in (409, 422), refused.text
        assert refused.json()["error"] == code
    no_token = await client.post("/me/push/subscriptions", json=good)
    assert no_token.status_code == 403
    settings.push_private_endpoints = False
    private = await client.post("/me/push/subscriptions", json=good, headers={"X-CSRF-Token": csrf})
    assert private.json()["detail"] == "endpoint must be an https URL."
    settings.push_private_endpoints = True
    made = await client.post("/me/push/subscriptions", json=good, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    device_id = made.json()["id"]
    async with runtime.sessions() as session:
        assert len((await session.exec(select(PushSubscription))).all()) == 1

    async with browser(client._transport.app, 3) as other:  # type: ignore[attr-defined]
        await f.person(runtime, "ben")
        ben_csrf = await sign_in(other, "ben@mcx.example")
        gone = await other.post(
            f"/me/push/devices/{device_id}/remove", data={"csrf_token": ben_csrf}
        )
        assert gone.status_code == 404
        # Ben logs in on Ada's phone: the device is Ben's now, as a new subscription (a push
        # still queued for Ada would find its device gone, not reach Ben).
        moved = await other.post(
            "/me/push/subscriptions", json=good, headers={"X-CSRF-Token": ben_csrf}
        )
        assert moved.status_code == 201 and moved.json()["id"] != device_id
    assert "No device yet." in (await client.get("/me/push")).text
    forgot = await client.post(
        "/me/push/subscriptions/forget",
        json={"endpoint": good["endpoint"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert forgot.json() == {"forgotten": False}  # not Ada's any more


async def test_the_vapid_key_is_made_once_sealed_and_rotates(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.person(runtime, "earner")
    before = Device(service.endpoint("before"))
    csrf = await _opt_in(client, "earner@mcx.example", before)
    old_key = await _current_key(runtime)
    assert await _current_key(runtime) == old_key  # made once
    async with runtime.sessions() as session:
        sealed = (await keys.current_key(session, settings.secret_key)).private_encrypted
        rotated = await keys.rotate_key(session, settings.secret_key)
        assert await keys.subscriptions_on_retired_keys(session) == 1
    assert rotated.public_key != old_key and b"PRIVATE" not in sealed
    # A page with the old key is told to reload; the new key subscribes.
    stale = Device(service.endpoint("stale")).subscription(old_key)
    refused = await client.post(
        "/me/push/subscriptions", json=stale, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 409
    after = Device(service.endpoint("after"))
    assert (await _subscribe(client, csrf, after)).status_code == 201
    await outbox.scan(runtime)
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    await decide(client, await _reviewers(runtime, 1), 1)
    await outbox.scan(runtime)
    await _work(settings)
    # Each device's push is signed with the key it subscribed with.
    assert all(vapid_claims(p, old_key) for p in service.to("before"))
    assert all(vapid_claims(p, rotated.public_key) for p in service.to("after"))
    assert service.to("before") and service.to("after")


async def test_the_worker_cron_runs_the_scans(runtime: Runtime, settings: Settings) -> None:
    from workers.main import worker_settings

    names = {job.name for job in worker_settings(settings, "redis://x")["cron_jobs"]}
    assert {"cron:scan_push", "cron:announce_new_work", "cron:push_overdue"} <= names
    unknown = uuid.uuid4()
    from app.push import delivery

    assert await delivery.deliver(runtime, unknown) is None


def test_the_push_contact_must_be_mailto_or_https() -> None:
    from app.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="MCX_PUSH_CONTACT"):
        load_settings(env="test", push_contact="ops at example")
    assert load_settings(env="test", push_contact="mailto:ops@mcx.example").push_contact


async def test_coordinators_hear_of_overdue_work_once_a_day(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime)
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner, credential)
    await f.person(runtime, "coord", [Role.coordinator])
    phone = Device(service.endpoint("coord"))
    await _opt_in(client, "coord@mcx.example", phone)
    assert "As a coordinator" in (await client.get("/me/push")).text
    soon = datetime.now(UTC) + timedelta(hours=1)
    # Noon of a day past the 72-hour target, so an hour later is the same day whatever the time
    # of day the test runs (at 15:xx UTC, 80 hours on was 23:xx and an hour later a new day).
    late = (datetime.now(UTC) + timedelta(days=4)).replace(hour=12, minute=0)
    for moment in (soon, late, late + timedelta(hours=1)):
        made = outbox.Made()
        await work.overdue_work(runtime, moment, made)
        await outbox.enqueue(runtime, made.queued)
    await _work(settings)
    (push,) = service.to("coord")
    opened = phone.decrypt(push.body)
    assert opened["title"] == "1 packet waits past the time target"
    assert push.headers["Urgency"] == "low"
    assert (await client.get(opened["url"])).headers["location"] == "/coordinate/health"


async def test_the_key_is_made_by_migrate_once_and_rotated_by_the_command(
    settings: Settings, runtime: Runtime
) -> None:
    from app.models import VapidKey
    from tests.test_cli import mcx

    for _ in range(2):
        migrated = await mcx(settings, "migrate")
        assert migrated.returncode == 0, migrated.stderr
    async with runtime.sessions() as session:
        (made,) = (await session.exec(select(VapidKey))).all()
    for _ in range(2):
        rotated = await mcx(settings, "push", "rotate-key")
        assert rotated.returncode == 0, rotated.stderr
        assert "0 device(s) still use a retired key" in rotated.stdout
    async with runtime.sessions() as session:
        kept = (await session.exec(select(VapidKey).order_by(col(VapidKey.created_at)))).all()
    # The first key, retired and used by no device, went at the second rotation.
    assert made.id not in {k.id for k in kept}
    previous, current = kept
    assert previous.retired_at is not None and current.retired_at is None
    assert f"New VAPID public key: {current.public_key}" in rotated.stdout


async def test_news_older_than_its_time_to_live_is_never_pushed(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, service: PushService
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.person(runtime, "earner")
    await _opt_in(client, "earner@mcx.example", Device(service.endpoint("e")))
    await outbox.scan(runtime)
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    await decide(client, await _reviewers(runtime, 1), 3)
    # The worker was away for two days: feedback (1 day) and the decision (2 days) are stale;
    # the badge (7 days) still goes.
    await outbox.scan(runtime, datetime.now(UTC) + timedelta(days=2, hours=1))
    assert [m.kind for m in await _messages(runtime)] == ["badge.awarded"]
