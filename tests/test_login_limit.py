"""The log-in limit holds when guesses arrive all at once (issue 16, item 1).

Each test fires its guesses concurrently through the ASGI app; before the fix the counters
were read, the password checked and only then incremented, so most concurrent guesses were
checked (26 of 30 in the outside probe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.actions import accounts
from app.runtime import Runtime
from tests.helpers import PASSWORD, csrf_from, log_in, make_user

GUESSES = 30


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every password the log-in action really verified."""
    seen: list[str] = []
    real = accounts.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        seen.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counting)
    yield seen


async def _guess_at_once(
    client: httpx.AsyncClient, emails: list[str], password: str
) -> list[httpx.Response]:
    token = await csrf_from(client)
    return await asyncio.gather(
        *(
            client.post("/login", data={"email": e, "password": password, "csrf_token": token})
            for e in emails
        )
    )


async def test_thirty_simultaneous_wrong_passwords_check_exactly_the_limit(
    client: httpx.AsyncClient, runtime: Runtime, checked: list[str]
) -> None:
    await make_user(runtime, "ada@school.example")
    limit = runtime.settings.login_max_failures
    answers = await _guess_at_once(client, ["ada@school.example"] * GUESSES, "wrong-password-1")
    codes = sorted(r.status_code for r in answers)
    assert codes.count(401) == limit, codes
    assert codes.count(429) == GUESSES - limit, codes
    assert len(checked) == limit
    # And the right password waits out the window too.
    assert (await log_in(client, "ada@school.example")).status_code == 429


async def test_the_address_limit_holds_across_many_emails_at_once(
    client: httpx.AsyncClient, runtime: Runtime, checked: list[str]
) -> None:
    address_limit = runtime.settings.login_max_failures * accounts.ADDRESS_FACTOR
    emails = [f"guess{n}@school.example" for n in range(address_limit + 15)]
    answers = await _guess_at_once(client, emails, "wrong-password-1")
    codes = [r.status_code for r in answers]
    assert codes.count(401) == address_limit, sorted(codes)
    assert codes.count(429) == 15
    assert len(checked) == address_limit
    assert "Too many failed log-ins" in next(r.text for r in answers if r.status_code == 429)


async def test_successful_log_ins_do_not_use_up_a_shared_address(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # A school behind one public address: many teachers log in, none is refused.
    await make_user(runtime, "ada@school.example")
    for _ in range(runtime.settings.login_max_failures * accounts.ADDRESS_FACTOR + 3):
        assert (await log_in(client, "ada@school.example", PASSWORD)).status_code == 303
    assert (await log_in(client, "ada@school.example", "wrong-password-1")).status_code == 401


async def test_the_window_starts_at_the_first_failure_and_ends(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "ada@school.example")
    await log_in(client, "ada@school.example", "wrong-password-1")
    prefix = runtime.settings.redis_prefix + "login:fail:"
    ttl_email = await runtime.redis.ttl(prefix + "email:ada@school.example")
    ttl_ip = await runtime.redis.ttl(prefix + "ip:203.0.113.7")
    assert 0 < ttl_email <= runtime.settings.login_window_seconds
    assert 0 < ttl_ip <= runtime.settings.login_window_seconds
