"""Nudges (issue 10): an idle draft and work waiting past the reviewers' time target each
remind once, by the channels each person chose, never inside their quiet hours. A real SMTP
server (aiosmtpd) on 127.0.0.1 receives the mail and the tests count it exactly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from app.actions import nudges
from app.models import Notification, NudgeSent, Role
from app.runtime import Runtime
from app.settings import Settings
from tests import factories as f
from tests.journey import sign_in, start


class Inbox:
    """An aiosmtpd handler that keeps every message it is handed."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content)
        self.mails.append((list(envelope.rcpt_tos), str(message["Subject"])))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        return [subject for rcpts, subject in self.mails if address in rcpts]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox(settings: Settings) -> Iterator[Inbox]:
    """A local SMTP server, and MCX's settings pointing at it."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.smtp_host, settings.smtp_port = "127.0.0.1", controller.port
    try:
        yield handler
    finally:
        controller.stop()


async def _prefer(client: httpx.AsyncClient, token: str, **fields: str) -> None:
    saved = await client.post("/me/reminders", data={"csrf_token": token, **fields})
    assert saved.status_code == 303, saved.text


def _at(days: float, hour: int) -> datetime:
    """A moment `days` from now at `hour` o'clock UTC."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


async def test_an_idle_draft_reminds_once_and_never_in_quiet_hours(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    credential = await f.credential(runtime)
    await f.person(runtime, "ada")
    await f.person(runtime, "ben")
    token = await sign_in(client, "ada@mcx.example")
    await _prefer(
        client, token, in_app="yes", email="yes", quiet_start="22", quiet_end="7", timezone="UTC"
    )
    await start(client, token, credential)
    client.cookies.clear()
    ben_token = await sign_in(client, "ben@mcx.example")
    await start(client, ben_token, credential)  # Ben keeps the default: in-app only

    # Not idle long enough yet.
    assert (await nudges.run_nudges(runtime, _at(3, 12))).idle_drafts == 0
    # Idle, but 23:00 is inside Ada's quiet hours: Ada waits, Ben (no quiet hours) is told.
    night = await nudges.run_nudges(runtime, _at(9, 23))
    assert (night.idle_drafts, night.deferred, night.mails) == (1, 1, 0)
    assert inbox.mails == []
    morning = await nudges.run_nudges(runtime, _at(10, 8))
    assert (morning.idle_drafts, morning.mails) == (1, 1)
    # Later passes find nothing new: each nudge fires once.
    for moment in (_at(10, 9), _at(12, 14)):
        assert (await nudges.run_nudges(runtime, moment)).idle_drafts == 0
    assert inbox.to("ada@mcx.example") == [f"Your {credential.title} packet is waiting for you"]
    assert len(inbox.mails) == 1
    async with runtime.sessions() as session:
        told = (
            await session.exec(select(Notification).where(Notification.kind == "nudge.idle_draft"))
        ).all()
        sent = (await session.exec(select(NudgeSent))).all()
    assert len(told) == 2  # Ada and Ben, in the app
    assert sorted(s.channels for s in sent) == ["app", "app,email"]


async def test_waiting_work_reminds_each_reviewer_once_outside_quiet_hours(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    credential = await f.credential(runtime)
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner, credential)
    await f.person(runtime, "day", [Role.reviewer])
    await f.person(runtime, "owl", [Role.reviewer])
    await f.person(runtime, "quiet", [Role.reviewer])
    await f.person(runtime, "elsewhere", [Role.coordinator])  # no pool: never reminded
    for label, start_hour, end_hour, email in (
        ("day", "0", "0", "yes"),
        ("owl", "6", "18", "yes"),  # sleeps by day, in Chicago time
        ("quiet", "0", "0", ""),  # the app only
    ):
        client.cookies.clear()
        token = await sign_in(client, f"{label}@mcx.example")
        await _prefer(
            client,
            token,
            in_app="yes",
            email=email,
            quiet_start=start_hour,
            quiet_end=end_hour,
            timezone="America/Chicago" if label == "owl" else "UTC",
        )

    early = await nudges.run_nudges(runtime, datetime.now(UTC) + timedelta(hours=10))
    assert early.waiting_work == 0  # within the 72-hour target
    noon = _at(4, 17)  # 11:00 or 12:00 in Chicago: the owl's quiet hours
    first = await nudges.run_nudges(runtime, noon)
    assert (first.waiting_work, first.deferred, first.mails) == (2, 1, 1)
    assert (await nudges.run_nudges(runtime, noon + timedelta(minutes=15))).waiting_work == 0
    evening = await nudges.run_nudges(runtime, _at(5, 3))  # 21:00 or 22:00 in Chicago
    assert (evening.waiting_work, evening.mails) == (1, 1)
    assert (await nudges.run_nudges(runtime, _at(6, 3))).waiting_work == 0
    subject = "2 packet(s) have waited past their time target"
    assert inbox.to("day@mcx.example") == [subject]
    assert inbox.to("owl@mcx.example") == [subject]
    assert len(inbox.mails) == 2


async def test_waiting_work_follows_the_credentials_own_time_target(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    credential = await f.credential(runtime, target_hours=240)
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner, credential)
    await f.person(runtime, "day", [Role.reviewer])
    now = datetime.now(UTC)
    # Past the 72-hour default, but within this credential's ten days: nobody is reminded.
    assert (await nudges.run_nudges(runtime, now + timedelta(hours=100))).waiting_work == 0
    assert (await nudges.run_nudges(runtime, now + timedelta(hours=241))).waiting_work == 1


async def test_refused_reminder_settings_change_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    user = await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    for fields in (
        {"quiet_start": "25", "quiet_end": "3", "timezone": "UTC"},
        {"quiet_start": "x", "quiet_end": "3", "timezone": "UTC"},
        {"quiet_start": "1", "quiet_end": "3", "timezone": "Mars/Olympus"},
    ):
        refused = await client.post("/me/reminders", data={"csrf_token": token, **fields})
        assert refused.status_code == 422
    async with runtime.sessions() as session:
        assert await nudges.preference_of(session, user.id) is nudges.DEFAULT


async def test_the_last_pilot_spots_remind_drafts_once(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    pilot = await f.credential(runtime, "pilot", status="pilot", pilot_spots=5)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    await _prefer(client, token, email="yes", quiet_start="0", quiet_end="0", timezone="UTC")
    await start(client, token, pilot)
    now = datetime.now(UTC)
    assert (await nudges.run_nudges(runtime, now)).pilot_spots == 0  # 5 left: no hurry
    for label in ("p1", "p2"):
        other = await f.token_for(runtime, await f.person(runtime, label))
        await f.submitted(client, runtime, other, pilot)
    first = await nudges.run_nudges(runtime, now)
    assert (first.pilot_spots, first.mails) == (1, 1)
    assert (await nudges.run_nudges(runtime, now)).pilot_spots == 0
    assert inbox.to("ada@mcx.example") == ["3 pilot spot(s) left for Credential pilot"]
    assert len(inbox.mails) == 1
