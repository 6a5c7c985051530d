"""Accounts through the HTTP interface: sign-up, log-in, log-out, rate limit, CSRF, tokens."""

from __future__ import annotations

import httpx
from sqlmodel import func, select

from app.models import ApiToken, User
from app.runtime import Runtime
from tests.helpers import PASSWORD, csrf_from, log_in, make_user


async def test_sign_up_logs_the_new_teacher_in(client: httpx.AsyncClient, runtime: Runtime) -> None:
    token = await csrf_from(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "name": "Grace Hopper",
            "email": "Grace@School.Example",
            "school": "Lincoln Elementary",
            "password": PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    home = await client.get("/")
    assert "Grace Hopper" in home.text
    async with runtime.sessions() as session:
        user = (await session.exec(select(User))).one()
    assert user.email == "grace@school.example"
    assert user.password_hash.startswith("$argon2")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


async def test_sign_up_refuses_bad_input_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await csrf_from(client, "/signup")
    cases = [
        ({"email": "not-an-email", "name": "A", "password": PASSWORD}, "not valid"),
        ({"email": "a@school.example", "name": "A", "password": "short"}, "at least 10"),
        ({"email": "a@school.example", "name": "   ", "password": PASSWORD}, "Give your name"),
    ]
    for fields, message in cases:
        response = await client.post("/signup", data={**fields, "csrf_token": token})
        assert response.status_code == 400
        assert message in response.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(User))).one() == 0


async def test_second_account_for_one_email_is_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "taken@school.example")
    token = await csrf_from(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "email": "TAKEN@school.example",
            "name": "B",
            "password": PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 409
    assert "already exists" in response.text


async def test_log_in_and_log_out(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await make_user(runtime, "ada@school.example", name="Ada Lovelace")
    response = await log_in(client, "ADA@school.example")
    assert response.status_code == 303
    assert "Ada Lovelace" in (await client.get("/")).text
    token = await csrf_from(client, "/")
    assert (await client.post("/logout", data={"csrf_token": token})).status_code == 303
    assert "Ada Lovelace" not in (await client.get("/")).text


async def test_wrong_password_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await make_user(runtime, "ada@school.example")
    response = await log_in(client, "ada@school.example", "wrong-password-1")
    assert response.status_code == 401
    assert "do not match" in response.text
    unknown = await log_in(client, "nobody@school.example", "wrong-password-1")
    assert unknown.status_code == 401
    assert "do not match" in unknown.text


async def test_log_in_is_rate_limited_per_email(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "ada@school.example")
    limit = runtime.settings.login_max_failures
    for _ in range(limit):
        assert (await log_in(client, "ada@school.example", "wrong-password-1")).status_code == 401
    # Even the right password waits now.
    blocked = await log_in(client, "ada@school.example")
    assert blocked.status_code == 429
    assert "Too many failed log-ins" in blocked.text


async def test_logging_in_clears_the_failure_count(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "ada@school.example")
    for _ in range(runtime.settings.login_max_failures - 1):
        await log_in(client, "ada@school.example", "wrong-password-1")
    assert (await log_in(client, "ada@school.example")).status_code == 303
    assert (await log_in(client, "ada@school.example", "wrong-password-1")).status_code == 401
    assert (await log_in(client, "ada@school.example")).status_code == 303


async def test_forms_without_the_csrf_token_are_rejected(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "ada@school.example")
    await csrf_from(client)  # a session exists, but the form below does not carry its token
    fields = {"email": "ada@school.example", "password": PASSWORD}
    no_token = await client.post("/login", data=fields)
    assert no_token.status_code == 403
    forged = await client.post(
        "/login",
        data={"email": "ada@school.example", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 403
    signup = await client.post(
        "/signup", data={"email": "x@school.example", "name": "X", "password": PASSWORD}
    )
    assert signup.status_code == 403
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(User))).one() == 1


async def test_a_cookie_api_call_needs_the_csrf_header(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "ada@school.example")
    await log_in(client, "ada@school.example")
    refused = await client.post("/account/tokens", json={"name": "script"})
    assert refused.status_code == 403
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(ApiToken))).one() == 0


async def test_personal_api_token(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await make_user(runtime, "ada@school.example", name="Ada Lovelace")
    await log_in(client, "ada@school.example")
    token_form = await csrf_from(client, "/account/tokens")
    page = await client.post(
        "/account/tokens", data={"name": "district export", "csrf_token": token_form}
    )
    assert page.status_code == 200
    token = page.text.split('<code class="token">')[1].split("</code>")[0]
    assert token.startswith("mcx_")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as bare:
        me = await bare.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["name"] == "Ada Lovelace"
        wrong = await bare.get("/api/v1/me", headers={"Authorization": "Bearer mcx_nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "unauthenticated", "detail": "Log in to continue."}
    async with runtime.sessions() as session:
        stored = (await session.exec(select(ApiToken))).one()
    assert stored.token_hash != token and token not in stored.token_hash
    revoke = await csrf_from(client, "/account/tokens")
    await client.post(f"/account/tokens/{stored.id}/revoke", data={"csrf_token": revoke})
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as bare:
        gone = await bare.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


async def test_log_out_everywhere_revokes_other_sessions(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_user(runtime, "ada@school.example", name="Ada Lovelace")
    await log_in(client, "ada@school.example")
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as phone:
        await log_in(phone, "ada@school.example")
        assert (await phone.get("/api/v1/me")).status_code == 200
        token = await csrf_from(client, "/")
        await client.post("/logout", data={"csrf_token": token, "everywhere": "1"})
        assert (await phone.get("/api/v1/me")).status_code == 401


async def test_next_never_leaves_the_site(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await make_user(runtime, "ada@school.example")
    token = await csrf_from(client)
    response = await client.post(
        "/login",
        data={
            "email": "ada@school.example",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": token,
        },
    )
    assert response.headers["location"] == "/"
