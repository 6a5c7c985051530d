"""CLR 2.0: completing a stack awards its badge; the earner downloads a ClrCredential bundling
the stack's badges (isPartOf / precedes), valid against the vendored CLR schema and signed: the
JSON carries a Data Integrity proof, the .jwt is a VC-JWT, and every embedded credential keeps
its own proof, so each verifies on its own once taken out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from jsonschema import Draft201909Validator
from sqlmodel import col, select

from app.models import Award, Role
from app.runtime import Runtime
from tests import factories, independent
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
    assert answer.headers["content-type"] == "application/vc"
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

    # The record is signed as JSON too, and each credential in it verifies on its own: with
    # the issuer's published key (an independent verifier) and through /verify.json.
    issuer_url = f"{base}/badges/issuers/ipa"
    issuer_document = (await client.get(issuer_url.removeprefix(base))).json()

    def fetch(url: str) -> dict[str, Any]:
        assert url == issuer_url
        return dict(issuer_document)

    assert independent.verify(record, fetch)["controller"] == issuer_url
    embedded = subject["verifiableCredential"]
    assert [c["credentialSubject"]["achievement"]["id"] for c in embedded] == [stack_id, *parts]
    for credential in embedded:
        assert independent.verify(credential, fetch)
        alone = await client.post(
            "/verify.json", content=json.dumps(credential), headers={"content-type": "text/plain"}
        )
        assert alone.json()["result"] == "valid", alone.json()
    tampered = json.loads(json.dumps(record))
    tampered["credentialSubject"]["verifiableCredential"][1]["name"] = "Another credential"
    with pytest.raises(independent.Rejected, match="signature"):
        independent.verify(tampered, fetch)

    signed = await client.get(f"/badges/{stack_award.id}/clr.jwt")
    keyset = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    claims = jwt.decode(signed.text, keyset, algorithms=["ES256"]).claims
    assert claims["jti"] == record["id"]
    for credential in claims["credentialSubject"]["verifiableCredential"]:
        assert independent.verify(credential, fetch)

    # A credential award is not a stack: no learner record for it.
    async with runtime.sessions() as session:
        single = (
            await session.exec(select(Award).where(col(Award.credential_id).is_not(None)))
        ).first()
    assert single is not None
    assert (await client.get(f"/badges/{single.id}/clr")).status_code == 404
    assert (await client.get(f"/badges/{stack_award.id}/clrx")).status_code == 404
