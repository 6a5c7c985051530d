"""The `mcx` command as an operator runs it: a real subprocess against the test database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlmodel import col, delete, func, select

from app.demo import content
from app.models import (
    Award,
    Credential,
    IssuerKey,
    Membership,
    Organisation,
    Rubric,
    Stack,
    StackItem,
    User,
)
from app.runtime import Runtime
from app.settings import Settings
from tests.helpers import log_in


async def mcx(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "MCX_REDIS_PREFIX": settings.redis_prefix,
        "MCX_DATA_DIR": str(settings.data_dir),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_demo_twice_loads_once(
    settings: Settings, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    first = await mcx(settings, "demo")
    assert first.returncode == 0, first.stderr
    assert "Log in at" in first.stdout
    counts = {m: await count(runtime, m) for m in (Organisation, Credential, Stack, User)}
    counts[StackItem] = await count(runtime, StackItem)
    counts[Membership] = await count(runtime, Membership)
    assert counts[Credential] == len(content.CREDENTIALS) >= 8
    # Each issuer (an organisation with demo credentials; ISBE only recognises them) also
    # has the inactive account that holds its calibration samples.
    issuers = {c["organisation"] for c in content.CREDENTIALS}
    assert issuers < {o["slug"] for o in content.ORGANISATIONS}
    async with runtime.sessions() as session:
        emails = set((await session.exec(select(User.email))).all())
    assert emails == {u["email"] for u in content.USERS} | {
        f"calibration-samples@{slug}.mcx.invalid" for slug in issuers
    }
    assert counts[User] == len(content.USERS) + len(issuers)
    second = await mcx(settings, "demo")
    assert second.returncode == 0, second.stderr
    assert "0 credentials" in second.stdout and "0 users" in second.stdout
    assert "0 calibration examples" in second.stdout
    for model, before in counts.items():
        assert await count(runtime, model) == before, model
    # Every credential has all six components and a rubric; both stakes levels appear.
    async with runtime.sessions() as session:
        credentials = (await session.exec(select(Credential))).all()
        rubrics = (await session.exec(select(Rubric))).all()
    assert {c.stakes for c in credentials} == {"low", "high"}
    assert len(rubrics) == len(credentials)
    for credential in credentials:
        assert credential.competency and credential.key_method
        assert credential.method_components and credential.research_resources
    # The printed log-ins work.
    email, password = content.USERS[0]["email"], content.USERS[0]["password"]
    assert email in first.stdout and password in first.stdout
    assert (await log_in(client, email, password)).status_code == 303
    assert content.CREDENTIALS[0]["title"] in (await client.get("/")).text


async def test_user_add(settings: Settings, runtime: Runtime) -> None:
    await mcx(settings, "demo")
    added = await mcx(
        settings,
        "user",
        "add",
        "New.Reviewer@District.example",
        "--name",
        "Nia Reviewer",
        "--password",
        "a-long-enough-password",
        "--school",
        "Hill School",
        "--organisation",
        "ipa",
        "--roles",
        "reviewer,expert",
    )
    assert added.returncode == 0, added.stderr
    async with runtime.sessions() as session:
        user = (
            await session.exec(select(User).where(User.email == "new.reviewer@district.example"))
        ).one()
        roles = (
            await session.exec(select(Membership.role).where(Membership.user_id == user.id))
        ).all()
    assert sorted(roles) == ["expert", "reviewer"]
    assert user.school == "Hill School"


async def test_user_add_refuses_bad_input(settings: Settings, runtime: Runtime) -> None:
    before = await count(runtime, User)
    bad_role = await mcx(settings, "user", "add", "x@y.example", "--name", "X", "--roles", "boss")
    assert bad_role.returncode == 2 and "Unknown role 'boss'" in bad_role.stderr
    short = await mcx(settings, "user", "add", "x@y.example", "--name", "X", "--password", "short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    no_org = await mcx(
        settings,
        "user",
        "add",
        "x@y.example",
        "--name",
        "X",
        "--password",
        "long-enough-pw",
        "--roles",
        "reviewer",
        "--organisation",
        "nowhere",
    )
    assert no_org.returncode == 1 and "No organisation 'nowhere'" in no_org.stderr
    assert await count(runtime, User) == before


async def test_a_fresh_demo_publishes_every_issuers_keys_before_any_badge(
    settings: Settings, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Keys come with the organisation: after `mcx demo`, with no badge awarded yet, the JWK
    set and each issuer's document already list them. Organisations made before that get
    theirs from `mcx migrate` (or `mcx demo`), once."""
    made = await mcx(settings, "demo")
    assert made.returncode == 0, made.stderr
    assert await count(runtime, Award) == 0
    async with runtime.sessions() as session:
        slugs = [o.slug for o in (await session.exec(select(Organisation))).all()]
    assert sorted(slugs) == sorted(o["slug"] for o in content.ORGANISATIONS)
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == len(slugs)
    for slug in slugs:
        issuer = (await client.get(f"/badges/issuers/{slug}")).json()
        (method,) = issuer["verificationMethod"]
        assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("z6Mk")
        assert issuer["assertionMethod"] == [method["id"]]

    # An organisation from before keys came with it: migrate makes its keys, once.
    async with runtime.sessions() as session:
        first = (
            await session.exec(select(Organisation).where(Organisation.slug == slugs[0]))
        ).one()
        await session.exec(delete(IssuerKey).where(col(IssuerKey.organisation_id) == first.id))
        await session.commit()
    migrated = await mcx(settings, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "Made 2 signing keys" in migrated.stdout
    again = await mcx(settings, "migrate")
    assert again.returncode == 0 and "signing keys" not in again.stdout
    assert len((await client.get("/.well-known/jwks.json")).json()["keys"]) == len(slugs)
    assert "0 signing keys" in (await mcx(settings, "demo")).stdout


async def test_keys_rotate(settings: Settings, runtime: Runtime, client: httpx.AsyncClient) -> None:
    await mcx(settings, "demo")
    slug = content.ORGANISATIONS[0]["slug"]
    before = (await client.get(f"/badges/issuers/{slug}")).json()["assertionMethod"]
    rotated = await mcx(settings, "keys", "rotate", slug)
    assert rotated.returncode == 0, rotated.stderr
    assert "old keys stay published" in rotated.stdout
    after = (await client.get(f"/badges/issuers/{slug}")).json()["assertionMethod"]
    assert after[: len(before)] == before and len(after) == len(before) + 1
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == len(content.ORGANISATIONS) + 1
    unknown = await mcx(settings, "keys", "rotate", "nobody")
    assert unknown.returncode == 1 and "No organisation 'nobody'" in unknown.stderr
