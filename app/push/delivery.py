"""Handing one queued push to the browser's push service: encrypted for the device
(aes128gcm, RFC 8291) and signed with MCX's VAPID key (RFC 8292) by pywebpush, with the
kind's TTL, urgency and topic (RFC 8030). The answer decides what becomes of it: 201 sent;
404/410 the device is gone (its subscription is deleted); 429 and 5xx are tried again later,
after Retry-After or a doubling back-off; anything else is recorded as failed."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPushException, webpush_async
from sqlmodel import col, delete, update

from app.models import PushMessage, PushState, PushSubscription, VapidKey
from app.push import keys
from app.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0
SEND_TIMEOUT_SECONDS = 10.0
JWT_LIFETIME_SECONDS = 12 * 3600  # RFC 8292: no more than 24 hours


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer (network error, timeout)
    retry_after: str | None
    error: str


def contact(runtime: Runtime) -> str:
    """The VAPID `sub`: the configured contact, or a mailto: at the deployment's host."""
    configured = runtime.settings.push_contact
    if configured:
        return configured
    host = urlsplit(runtime.settings.base_url).hostname or "mcx.example"
    if host.replace(".", "").isdigit() or host == "localhost":
        host = "mcx.example"
    return f"mailto:push@{host}"


def payload(message: PushMessage) -> str:
    """What the service worker receives (encrypted): enough to show and to open the push."""
    return json.dumps(
        {
            "id": str(message.id),
            "kind": message.kind,
            "title": message.title,
            "body": message.body,
            "url": f"/push/open/{message.id}",
            "tag": message.topic or message.kind,
        }
    )


async def _public(host: str) -> bool:
    """Whether every address the endpoint's host resolves to is public (no pushes into the
    network MCX runs in)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    return bool(addresses) and all(a.is_global for a in addresses)


async def _post(
    runtime: Runtime, message: PushMessage, subscription: PushSubscription, key: VapidKey
) -> Answer:
    endpoint = urlsplit(subscription.endpoint)
    if not runtime.settings.push_private_endpoints and not await _public(endpoint.hostname or ""):
        return Answer(400, None, "the endpoint is not a public address")
    claims: dict[str, str | int] = {
        "sub": contact(runtime),
        "aud": f"{endpoint.scheme}://{endpoint.netloc}",
        "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
    }
    headers: dict[str, str | int | float] = {"Urgency": message.urgency}
    if message.topic:
        headers["Topic"] = message.topic
    signer = keys.signer(runtime.settings.secret_key, key)
    timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            response = await webpush_async(
                {
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=payload(message),
                vapid_private_key=signer,
                vapid_claims=claims,
                ttl=message.ttl,
                headers=headers,
                aiohttp_session=http,
            )
            assert not isinstance(response, str)
            return Answer(response.status, None, "")
    except WebPushException as exc:
        got = exc.response
        status = getattr(got, "status", None)
        retry_after = got.headers.get("Retry-After") if got is not None else None
        return Answer(status, retry_after, str(exc).splitlines()[0][:500])
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Answer(None, None, f"{type(exc).__name__}: {exc}"[:500])


def retry_delay(retry_after: str | None, attempts: int) -> float:
    """Seconds until the next try: the push service's Retry-After (seconds or a date) when it
    gave one, else 5 s doubling per attempt; at most an hour."""
    if retry_after:
        try:
            return min(MAX_BACKOFF_SECONDS, max(0.0, float(int(retry_after))))
        except ValueError:
            try:
                when = parsedate_to_datetime(retry_after)
                return min(
                    MAX_BACKOFF_SECONDS, max(0.0, (when - datetime.now(UTC)).total_seconds())
                )
            except (TypeError, ValueError):
                pass
    return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (attempts - 1))


async def deliver(runtime: Runtime, message_id: uuid.UUID) -> float | None:
    """Send one queued push; returns the seconds to wait before trying again, or None when
    it is settled (sent, gone, failed, expired, or not queued any more)."""
    async with runtime.sessions() as session:
        message = await session.get(PushMessage, message_id)
        if message is None or message.state != PushState.queued:
            return None
        subscription = (
            await session.get(PushSubscription, message.subscription_id)
            if message.subscription_id
            else None
        )
        now = datetime.now(UTC)
        if subscription is None:
            message.state = PushState.gone
        elif message.created_at + timedelta(seconds=message.ttl) <= now:
            message.state = PushState.expired
        if message.state != PushState.queued:
            session.add(message)
            await session.commit()
            return None
        assert subscription is not None
        key = await session.get(VapidKey, subscription.vapid_key_id)
        assert key is not None  # the foreign key cascades
    # Outside the transaction: no connection is held while the push service answers.
    answer = await _post(runtime, message, subscription, key)
    delay: float | None = None
    async with runtime.sessions() as session:
        message = await session.get(PushMessage, message_id)
        if message is None:
            return None
        message.attempts += 1
        message.last_status = answer.status
        message.error = answer.error
        if answer.status is not None and 200 <= answer.status < 300:
            message.state = PushState.sent
            message.sent_at = datetime.now(UTC)
            # An UPDATE, not a merge: a device removed meanwhile must stay removed.
            await session.exec(
                update(PushSubscription)
                .where(col(PushSubscription.id) == subscription.id)
                .values(last_sent_at=message.sent_at)
            )
        elif answer.status in (404, 410):
            # The browser dropped this subscription: forget the device (its pushes stay recorded).
            message.state = PushState.gone
            await session.exec(
                delete(PushSubscription).where(col(PushSubscription.id) == subscription.id)
            )
        elif answer.status is None or answer.status == 429 or answer.status >= 500:
            if message.attempts >= MAX_ATTEMPTS:
                message.state = PushState.failed
            else:
                delay = retry_delay(answer.retry_after, message.attempts)
        else:
            message.state = PushState.failed
        session.add(message)
        await session.commit()
    log.info("push %s (%s): %s %s", message_id, message.kind, answer.status, message.state)
    return delay
