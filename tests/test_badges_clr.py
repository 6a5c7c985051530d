"""CLR 2.0: completing a stack awards its badge; the earner downloads a ClrCredential bundling
the stack's badges (isPartOf / precedes), valid against the vendored CLR schema and signed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from jsonschema import Draft201909Validator
from sqlmodel import col, select

from app.models import Award, Role
from app.runtime import Runtime
from tests import factories
from tests.helpers import csrf_from, log_in

SCHEMA = json.loads(
    (
        Path(__file__).parent
        / "data"
        / "openbadges"
        / "schemas"
        / "clr_v2p0_clrcredential_schema.json"
    ).read_text()
)
PASSWORD = "factory-password-1"


async def test_a_completed_stack_exports_a_valid_learner_record(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await factories.issuer(runtime)
    for slug in ("one", "two", "three"):
        await factories.credential(runtime, slug)
    await factories.stack(runtime, "leader", ["one", "two", "three"])
    earner = await factories.person(runtime, "earner")
    await factories.person(runtime, "coord", [Role.coordinator])
    await log_in(client, "coord@mcx.example", PASSWORD)
    token = await csrf_from(client, "/coordinate/badges")
    rows = "\n".join(
        f"earner@mcx.example,{slug},Portfolio {slug}" for slug in ("one", "two", "three")
    )
    answer = await client.post("/coordinate/badges/issue", data={"csv": rows, "csrf_token": token})
    assert "Completes: Stack leader." in answer.text
    async with runtime.sessions() as session:
        stack_award = (
            await session.exec(select(Award).where(col(Award.stack_id).is_not(None)))
        ).one()
    assert stack_award.user_id == earner.id

    # Only the earner may export it.
    assert (await client.get(f"/badges/{stack_award.id}/clr")).status_code == 404
    await log_in(client, "earner@mcx.example", PASSWORD)
    answer = await client.get(f"/badges/{stack_award.id}/clr")
    assert answer.status_code == 200
    record = answer.json()
    errors = [e.message for e in Draft201909Validator(SCHEMA).iter_errors(record)]
    assert errors == []
    subject = record["credentialSubject"]
    assert record["type"] == ["VerifiableCredential", "ClrCredential"]
    assert len(subject["verifiableCredential"]) == 4
    base = runtime.settings.base_url
    stack_id = subject["achievement"][0]["id"]
    parts = [a["id"] for a in subject["achievement"][1:]]
    assert [a["name"] for a in subject["achievement"][1:]] == [
        "Credential one",
        "Credential two",
        "Credential three",
    ]
    kinds = [(a["associationType"], a["sourceId"], a["targetId"]) for a in subject["association"]]
    assert kinds == [("isPartOf", part, stack_id) for part in parts] + [
        ("precedes", parts[0], parts[1]),
        ("precedes", parts[1], parts[2]),
    ]
    assert stack_id.startswith(f"{base}/badges/achievements/")

    signed = await client.get(f"/badges/{stack_award.id}/clr.jwt")
    keyset = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    claims = jwt.decode(signed.text, keyset, algorithms=["ES256"]).claims
    assert claims["jti"] == record["id"]

    # A credential award is not a stack: no learner record for it.
    async with runtime.sessions() as session:
        single = (
            await session.exec(select(Award).where(col(Award.credential_id).is_not(None)))
        ).first()
    assert single is not None
    assert (await client.get(f"/badges/{single.id}/clr")).status_code == 404
    assert (await client.get(f"/badges/{stack_award.id}/clrx")).status_code == 404
