"""Honest evidence (issue 10): the same file from two earners and near-duplicate reflections
are flagged with their evidence; a distinct reflection is not; flags never change a packet's
state; a coordinator decides, and the decision is audited. Real worker job, real services."""

from __future__ import annotations

import hashlib
import html
import uuid

import httpx
import pytest
from datasketch import MinHash
from sqlalchemy import text
from sqlmodel import col, select
from starlette.applications import Starlette

from app.actions import integrity
from app.actions.integrity import compare, shingles, signature, similarities, words_of
from app.actions.submissions import check_evidence
from app.models import AuditEntry, EvidenceFlag, Role, Submission
from app.runtime import Runtime
from tests import factories as f
from tests import media
from tests.factories import auth, latest_version_id
from tests.journey import browser, criteria, put_draft, sign_in
from workers.integrity import scan_evidence

ORIGINAL = (
    "When my grade level team met in September we agreed to look at student work together "
    "every second Tuesday. I brought three samples of argumentative writing and we sorted "
    "them against the rubric before talking about what the students needed next. The "
    "protocol kept us on the evidence and away from blaming, and by November two colleagues "
    "were bringing their own samples without being asked."
)
# The same text lightly edited: a few words changed, a sentence moved.
NEAR_COPY = (
    "By November two colleagues were bringing their own samples without being asked. When "
    "my grade level team met in October we agreed to look at student work together every "
    "second Tuesday. I brought four samples of argumentative writing and we sorted them "
    "against the rubric before talking about what the students needed next. The protocol "
    "kept us on the evidence and away from blaming."
)
DISTINCT = (
    "I coached a first-year teacher through her classroom routines. We filmed two lessons, "
    "watched them side by side, and she chose one transition to practise. After three weeks "
    "the time lost between activities fell from six minutes to under two, and she now leads "
    "that conversation with her own mentee."
)
CRITERIA = [
    {"title": "Reflection", "kind": "reflection", "required": True},
    {"title": "Lesson plan", "kind": "document", "required": False},
]


async def _submit(
    client: httpx.AsyncClient,
    runtime: Runtime,
    credential_id: str,
    token: str,
    text: str,
    pdf: bytes | None = None,
) -> tuple[str, int]:
    """A packet through the JSON API and the evidence check; (its id, flags the scan raised)."""
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": credential_id}, headers=auth(token)
    )
    submission_id = started.json()["id"]
    detail = (await client.get(f"/api/v1/credentials/{credential_id}")).json()
    by_kind = {c["kind"]: c["criterion_id"] for c in detail["submission_criteria"]}
    base = f"/api/v1/submissions/{submission_id}/artifacts"
    done = await client.post(
        f"{base}/{by_kind['reflection']}", json={"text": text}, headers=auth(token)
    )
    assert done.status_code == 201, done.text
    if pdf is not None:
        sent = await client.post(
            f"{base}/{by_kind['document']}",
            content=pdf,
            headers={**auth(token), "X-Filename": "plan.pdf", "Content-Type": "application/pdf"},
        )
        assert sent.status_code == 201, sent.text
    assert (
        await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(token))
    ).status_code == 202
    version_id = await latest_version_id(runtime, submission_id)
    assert await check_evidence(runtime, version_id) == "in_review"
    flags = await scan_evidence({"runtime": runtime}, str(version_id))
    return submission_id, flags


async def _earner(runtime: Runtime, label: str) -> str:
    return await f.token_for(runtime, await f.person(runtime, label))


async def test_the_same_file_and_a_near_copy_are_flagged_a_distinct_reflection_is_not(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    cid = str(credential.id)
    pdf = media.pdf()
    first, raised = await _submit(
        client, runtime, cid, await _earner(runtime, "ann"), ORIGINAL, pdf
    )
    assert raised == 0  # nothing to compare with yet
    copy, raised = await _submit(
        client, runtime, cid, await _earner(runtime, "bob"), NEAR_COPY, pdf
    )
    assert raised == 2
    own, raised = await _submit(client, runtime, cid, await _earner(runtime, "cy"), DISTINCT)
    assert raised == 0

    async with runtime.sessions() as session:
        flags = {flag.kind: flag for flag in (await session.exec(select(EvidenceFlag))).all()}
        states = {s.id: s.state for s in (await session.exec(select(Submission))).all()}
    assert set(flags) == {"same_file", "similar_reflection"}
    same = flags["same_file"]
    assert str(same.submission_id) == copy and str(same.other_submission_id) == first
    assert same.evidence["sha256"] == hashlib.sha256(pdf).hexdigest()
    similar = flags["similar_reflection"]
    assert str(similar.submission_id) == copy and str(similar.other_submission_id) == first
    passages = similar.evidence["passages"]
    longest = "we sorted them against the rubric before talking about what the students needed next"
    assert longest in passages[0]
    moved = "two colleagues were bringing their own samples without being asked"
    assert any(moved in passage for passage in passages)
    # Quoted as the earner wrote it, not as normalised for comparison.
    assert any(passage.startswith("When my grade level team") for passage in passages)
    assert similar.similarity >= 0.4
    # Flags inform; they never fail or hold a packet.
    assert set(states.values()) == {"in_review"}
    # Scanning again raises nothing new.
    version_id = await latest_version_id(runtime, copy)
    assert await scan_evidence({"runtime": runtime}, str(version_id)) == 0


def test_similarity_separates_copies_from_independent_writing() -> None:
    assert compare(NEAR_COPY, ORIGINAL).score >= 0.4
    assert compare(DISTINCT, ORIGINAL).score < 0.1
    assert compare(DISTINCT, ORIGINAL).passages == []
    assert compare("", ORIGINAL).score == 0.0


async def test_a_coordinator_decides_a_flag_and_the_decision_is_audited(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    cid = str(credential.id)
    await _submit(client, runtime, cid, await _earner(runtime, "ann"), ORIGINAL)
    copy, _ = await _submit(client, runtime, cid, await _earner(runtime, "bob"), NEAR_COPY)
    await f.person(runtime, "coord", [Role.coordinator])
    await f.organisation(runtime, "ctq")
    await f.person(runtime, "other", [Role.coordinator], org="ctq")
    async with runtime.sessions() as session:
        flag = (await session.exec(select(EvidenceFlag))).one()

    # Another organisation's coordinator: as if the flag did not exist.
    async with browser(app, 2) as outsider:
        outsider_token = await sign_in(outsider, "other@mcx.example")
        assert (await outsider.get(f"/integrity/{flag.id}")).status_code == 404
        assert 'data-testid="flag-row"' not in (await outsider.get("/integrity")).text
        refused = await outsider.post(
            f"/integrity/{flag.id}/decision",
            data={"csrf_token": outsider_token, "decision": "cleared"},
        )
        assert refused.status_code == 404

    token = await sign_in(client, "coord@mcx.example")
    listing = await client.get("/integrity")
    assert f"/integrity/{flag.id}" in listing.text
    page = await client.get(f"/integrity/{flag.id}")
    assert "we sorted them against the rubric" in html.unescape(page.text)
    no_reason = await client.post(
        f"/integrity/{flag.id}/decision", data={"csrf_token": token, "decision": "misconduct"}
    )
    assert no_reason.status_code == 422
    decided = await client.post(
        f"/integrity/{flag.id}/decision",
        data={
            "csrf_token": token,
            "decision": "misconduct",
            "note": "Copied from a colleague's earlier packet.",
        },
    )
    assert decided.status_code == 303
    again = await client.post(
        f"/integrity/{flag.id}/decision",
        data={"csrf_token": token, "decision": "cleared"},
    )
    assert again.status_code == 409
    async with runtime.sessions() as session:
        stored = await session.get(EvidenceFlag, flag.id)
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.subject_type == "evidence_flag"))
        ).all()
        submission = await session.get(Submission, uuid.UUID(copy))
    assert stored is not None and stored.state == "misconduct"
    assert [a.action for a in audit] == ["evidence_flag.misconduct"]
    assert audit[0].data["note"] == "Copied from a colleague's earlier packet."
    # The decision is recorded; the packet itself is untouched (badges are revoked elsewhere).
    assert submission is not None and submission.state == "in_review"


async def _signatures(runtime: Runtime) -> dict[str, bytes | None]:
    """Each submission's stored reflection signature, by submission id."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT v.submission_id, a.minhash FROM artifacts a "
                "JOIN submission_versions v ON v.id = a.version_id WHERE a.kind = 'reflection'"
            )
        )
        return {str(submission_id): minhash for submission_id, minhash in rows.all()}


async def _rescan(runtime: Runtime, submission_id: str) -> int:
    version_id = await latest_version_id(runtime, submission_id)
    return await scan_evidence({"runtime": runtime}, str(version_id))


async def _store_signature(runtime: Runtime, submission_id: str, minhash: bytes | None) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE artifacts SET minhash = :minhash WHERE kind = 'reflection' AND version_id "
                "IN (SELECT id FROM submission_versions WHERE submission_id = :submission)"
            ),
            {"minhash": minhash, "submission": uuid.UUID(submission_id)},
        )


def test_stored_signatures_score_as_the_pairwise_minhash_did() -> None:
    def pairwise(text: str, other: str) -> float:
        """The scan's former score: both texts' MinHash made afresh for the pair."""
        made = []
        for body in (text, other):
            sketch = MinHash(num_perm=128, seed=10)
            for shingle in set(shingles(words_of(body))):
                sketch.update(shingle.encode("utf-8"))
            made.append(sketch)
        return made[0].jaccard(made[1])

    theirs = [signature(ORIGINAL), signature(DISTINCT)]
    assert len(theirs[0]) == integrity.SIGNATURE_BYTES
    near, unrelated = similarities(signature(NEAR_COPY), theirs).tolist()
    assert near == compare(NEAR_COPY, ORIGINAL).score == pairwise(NEAR_COPY, ORIGINAL)
    assert near >= integrity.THRESHOLD
    assert unrelated == compare(NEAR_COPY, DISTINCT).score == pairwise(NEAR_COPY, DISTINCT)
    assert unrelated < 0.1
    # A text without words resembles nothing, as compare() says.
    assert signature("") == b""
    assert similarities(signature(ORIGINAL), [b"", theirs[0]]).tolist() == [0.0, 1.0]
    assert similarities(b"", theirs).tolist() == [0.0, 0.0]


async def test_a_scan_stores_the_signatures_it_compared(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    cid = str(credential.id)
    first, _ = await _submit(client, runtime, cid, await _earner(runtime, "ann"), ORIGINAL)
    copy, raised = await _submit(client, runtime, cid, await _earner(runtime, "bob"), NEAR_COPY)
    assert raised == 1
    async with runtime.sessions() as session:
        flag = (await session.exec(select(EvidenceFlag))).one()
    assert flag.similarity == round(compare(NEAR_COPY, ORIGINAL).score, 3)
    assert await _signatures(runtime) == {
        first: signature(ORIGINAL),
        copy: signature(NEAR_COPY),
    }
    own, _ = await _submit(client, runtime, cid, await _earner(runtime, "cy"), DISTINCT)
    # As after migration 0015: reflections handed in before it have no signature yet.
    for submission_id in (first, copy, own):
        await _store_signature(runtime, submission_id, None)
    assert await _rescan(runtime, own) == 0
    assert await _signatures(runtime) == {
        first: signature(ORIGINAL),
        copy: signature(NEAR_COPY),
        own: signature(DISTINCT),
    }


async def test_a_stored_signature_is_not_made_again_and_judges_its_reflection(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    cid = str(credential.id)
    first, _ = await _submit(client, runtime, cid, await _earner(runtime, "ann"), ORIGINAL)
    # The signature of another text, stored on ann's reflection: a scan that made hers again
    # would find bob's near copy; one that trusts the stored signature finds nothing.
    await _store_signature(runtime, first, signature(DISTINCT))
    hashed: list[str] = []

    def counted(body: str) -> bytes:
        hashed.append(body)
        return signature(body)

    monkeypatch.setattr(integrity, "signature", counted)
    copy, raised = await _submit(client, runtime, cid, await _earner(runtime, "bob"), NEAR_COPY)
    assert raised == 0
    assert hashed == [NEAR_COPY]  # bob's own, once
    hashed.clear()
    assert await _rescan(runtime, copy) == 0
    assert hashed == []
    assert await _signatures(runtime) == {first: signature(DISTINCT), copy: signature(NEAR_COPY)}


async def test_a_packet_edited_after_its_scan_is_judged_by_its_new_text(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=CRITERIA)
    cid = str(credential.id)
    await _submit(client, runtime, cid, await _earner(runtime, "ann"), ORIGINAL)
    bob = await _earner(runtime, "bob")
    packet, raised = await _submit(client, runtime, cid, bob, DISTINCT)
    assert raised == 0
    # Taken back before any reviewer claimed it, and its reflection rewritten as a near copy.
    taken = await client.post(f"/api/v1/submissions/{packet}/edit", headers=auth(bob))
    assert taken.status_code == 200, taken.text
    csrf = await sign_in(client, "bob@mcx.example")
    reflection = (await criteria(runtime, credential))["Reflection"]
    assert (await put_draft(client, csrf, packet, reflection, text=NEAR_COPY)).status_code == 200
    assert (await _signatures(runtime))[packet] is None
    handed = await client.post(f"/api/v1/submissions/{packet}/submit", headers=auth(bob))
    assert handed.status_code == 202
    version_id = await latest_version_id(runtime, packet)
    assert await check_evidence(runtime, version_id) == "in_review"
    assert await scan_evidence({"runtime": runtime}, str(version_id)) == 1
    async with runtime.sessions() as session:
        flag = (
            await session.exec(
                select(EvidenceFlag).where(col(EvidenceFlag.submission_id) == uuid.UUID(packet))
            )
        ).one()
    assert flag.kind == "similar_reflection"
