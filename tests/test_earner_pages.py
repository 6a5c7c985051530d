"""The earner's pages through HTTP as a browser drives them: cookie log-in, CSRF, plain forms,
the resumable upload sessions earner.js uses, and the wallet. Real PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app import evidence, uploads
from app.actions import catalog
from app.actions.submissions import check_evidence
from app.badges.baking import unbake
from app.badges.validity import add_months
from app.models import Award, Credential, Role, Submission, SubmissionCriterion, User
from app.runtime import Runtime
from app.specs import StackSpec
from app.views.earner.packet import day
from tests import factories as f
from tests import media
from tests.factories import auth, latest_version_id
from tests.helpers import csrf_from, log_in
from tests.test_marketplace import _review

PASSWORD = "factory-password-1"


@pytest.fixture
async def other(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser, for a second person."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _signed_in(client: httpx.AsyncClient, runtime: Runtime, label: str) -> tuple[User, str]:
    """A person logged in on `client`, and the CSRF token their pages carry."""
    user = await f.person(runtime, label)
    assert (await log_in(client, f"{label}@mcx.example", PASSWORD)).status_code == 303
    return user, await csrf_from(client, "/me/submissions")


async def _criteria(runtime: Runtime, credential: Credential) -> dict[str, uuid.UUID]:
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(SubmissionCriterion).where(
                    SubmissionCriterion.credential_id == credential.id
                )
            )
        ).all()
    return {c.kind: c.id for c in rows}


async def _start(client: httpx.AsyncClient, credential: Credential, csrf: str) -> str:
    started = await client.post(
        f"/credentials/{credential.id}/start", data={"csrf_token": csrf, "privacy": "reviewers"}
    )
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert re.fullmatch(r"/submissions/[0-9a-f-]{36}", location)
    return location.rsplit("/", 1)[1]


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_start_reflection_submit_and_the_state_on_my_pages(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    page = await client.get(f"/submissions/{submission_id}")
    assert page.status_code == 200
    for testid in ("submit-packet", "packet-status", "reflection-input", "upload-input"):
        assert f'data-testid="{testid}"' in page.text
    assert 'accept="image/*"' in page.text and 'capture="environment"' in page.text
    # Multipart forms stream: the token is their first field, never in the address.
    assert "?csrf_token=" not in page.text

    refused = await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "Add the required evidence first: &#39;Reflection&#39;." in refused.text
    assert 'data-testid="packet-error"' in refused.text

    saved = await client.post(
        f"/submissions/{submission_id}/artifacts/{kinds['reflection']}",
        data={"csrf_token": csrf, "text": "I coached two colleagues.\r\nIt went well."},
    )
    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"#criterion-{kinds['reflection']}")
    assert (
        "I coached two colleagues.\nIt went well."
        in (await client.get(f"/submissions/{submission_id}")).text
    )

    submitted = await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": csrf})
    assert submitted.status_code == 303
    page = await client.get(f"/submissions/{submission_id}")
    assert (
        'data-status-key="checking"' in page.text and 'data-testid="submit-packet"' not in page.text
    )
    assert 'data-testid="edit-button"' in page.text and 'data-testid="withdraw-button"' in page.text
    mine = await client.get("/me/submissions")
    assert credential.title in mine.text and ">Checking<" in mine.text

    await check_evidence(runtime, await latest_version_id(runtime, submission_id))
    status = (await client.get(f"/submissions/{submission_id}/status.json")).json()
    assert status["status"] == {
        "key": "waiting",
        "label": "Waiting for a reviewer",
        "detail": "Your packet is in the queue; a qualified reviewer will pick it up.",
    }
    assert status["editable"] is False and 'data-testid="feedback"' in status["fragment"]
    assert ">Waiting for a reviewer<" in (await client.get("/me/submissions")).text

    # Take it back (no one has claimed it), then withdraw.
    back = await client.post(f"/submissions/{submission_id}/edit", data={"csrf_token": csrf})
    assert back.status_code == 303
    assert 'data-status-key="draft"' in (await client.get(f"/submissions/{submission_id}")).text
    gone = await client.post(f"/submissions/{submission_id}/withdraw", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert ">Withdrawn<" in (await client.get("/me/submissions")).text


async def test_pages_are_the_owners_and_404_for_everyone_else(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    assert (await client.get("/me/submissions")).headers["location"].startswith("/login?next=")
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    _, other_csrf = await _signed_in(other, runtime, "stranger")
    assert (await other.get(f"/submissions/{submission_id}")).status_code == 404
    status = await other.get(f"/submissions/{submission_id}/status.json")
    assert status.status_code == 404 and status.json()["error"] == "not_found"
    for path, data in (
        (f"/submissions/{submission_id}/submit", {}),
        (f"/submissions/{submission_id}/withdraw", {}),
        (f"/submissions/{submission_id}/artifacts/{kinds['reflection']}", {"text": "mine now"}),
        (f"/submissions/{submission_id}/privacy", {"privacy": "public"}),
    ):
        response = await other.post(path, data={"csrf_token": other_csrf, **data})
        assert response.status_code == 404, path
    assert (await other.get("/submissions/not-a-uuid")).status_code == 404
    assert credential.title not in (await other.get("/me/submissions")).text
    # A form without the session's token changes nothing.
    forged = await other.post(f"/credentials/{credential.id}/start", data={"privacy": "public"})
    assert forged.status_code == 403
    async with runtime.sessions() as session:
        assert len((await session.exec(select(Submission))).all()) == 1


async def test_a_reflection_with_markup_is_shown_as_text(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await client.post(
        f"/submissions/{submission_id}/artifacts/{kinds['reflection']}",
        data={"csrf_token": csrf, "text": attack},
    )
    await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": csrf})
    page = (await client.get(f"/submissions/{submission_id}")).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    # The only scripts are files (no inline bodies, which a CSP will forbid).
    assert all(body == "" for body in re.findall(r"<script[^>]*\ssrc=[^>]*>(.*?)</script>", page))
    assert len(re.findall(r"<script", page)) == len(re.findall(r"<script[^>]*\ssrc=", page))


async def test_a_wrong_file_type_through_the_plain_form_is_refused_and_not_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    url = f"/submissions/{submission_id}/artifacts/{kinds['document']}"
    token = {"csrf_token": csrf}
    refused = await client.post(
        url, data=token, files={"file": ("plan.pdf", media.png(), "application/pdf")}
    )
    assert refused.status_code == 415
    assert "&#39;plan.pdf&#39; contains PNG image data, but Lesson plan accepts:" in refused.text
    assert 'data-testid="criterion-error"' in refused.text
    assert _files_under(runtime.settings.uploads_dir) == []
    nothing = await client.post(
        url, data=token, files={"file": ("", b"", "application/octet-stream")}
    )
    assert nothing.status_code == 422 and "Choose a file first." in nothing.text
    # The right type, from the camera input of an image criterion, is kept.
    photo = f"/submissions/{submission_id}/artifacts/{kinds['image']}"
    taken = await client.post(
        photo, data=token, files={"recording": ("IMG_0001.png", media.png(), "")}
    )
    assert taken.status_code == 303
    assert "IMG_0001.png" in (await client.get(f"/submissions/{submission_id}")).text


async def _open(
    client: httpx.AsyncClient, csrf: str, submission_id: str, criterion_id: uuid.UUID, **kw: Any
) -> httpx.Response:
    body = {"submission_id": submission_id, "criterion_id": str(criterion_id), **kw}
    return await client.post("/uploads", json=body, headers={"X-CSRF-Token": csrf})


async def _chunk(
    client: httpx.AsyncClient, csrf: str, upload_id: str, offset: int, data: bytes
) -> httpx.Response:
    return await client.patch(
        f"/uploads/{upload_id}",
        content=data,
        headers={"X-CSRF-Token": csrf, "Upload-Offset": str(offset)},
    )


async def test_upload_session_in_three_chunks(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    pdf = media.pdf()
    opened = await _open(
        client, csrf, submission_id, kinds["document"], filename="Plan ü.pdf", size=len(pdf)
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()
    assert session["offset"] == 0 and session["chunk_size"] == uploads.CHUNK_BYTES
    assert opened.headers["location"] == session["url"]
    third = len(pdf) // 3
    first = await _chunk(client, csrf, session["id"], 0, pdf[:third])
    assert first.status_code == 200 and first.json()["offset"] == third
    # Content-Range works as well as Upload-Offset.
    second = await client.put(
        session["url"],
        content=pdf[third : 2 * third],
        headers={
            "X-CSRF-Token": csrf,
            "Content-Range": f"bytes {third}-{2 * third - 1}/{len(pdf)}",
        },
    )
    assert second.status_code == 200 and second.headers["upload-offset"] == str(2 * third)
    last = await _chunk(client, csrf, session["id"], 2 * third, pdf[2 * third :])
    assert last.status_code == 201, last.text
    done = last.json()
    assert done["complete"] is True and done["artifact"]["filename"] == "Plan ü.pdf"
    assert done["artifact"]["type_name"] == "PDF document"
    stored = evidence.path_for(runtime.settings.uploads_dir, hashlib.sha256(pdf).hexdigest())
    assert stored.read_bytes() == pdf
    assert not list(uploads.sessions_dir(runtime.settings.uploads_dir).rglob("*.part"))
    # A retried last chunk (its answer lost) gets the same answer; the status says so too.
    again = await _chunk(client, csrf, session["id"], len(pdf), b"")
    assert again.status_code == 201 and again.json()["artifact"] == done["artifact"]
    head = await client.head(session["url"])
    assert head.status_code == 200 and head.headers["upload-offset"] == str(len(pdf))
    page = await client.get(f"/submissions/{submission_id}")
    assert "Plan ü.pdf" in page.text and "PDF document" in page.text


async def test_upload_session_refusals(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    pdf = media.pdf()
    session = (
        await _open(client, csrf, submission_id, kinds["document"], filename="a.pdf", size=len(pdf))
    ).json()
    await _chunk(client, csrf, session["id"], 0, pdf[:100])
    wrong = await _chunk(client, csrf, session["id"], 50, pdf[50:150])
    assert wrong.status_code == 409 and wrong.json()["offset"] == 100
    assert wrong.json()["error"] == "wrong_offset" and wrong.headers["upload-offset"] == "100"
    ahead = await _chunk(client, csrf, session["id"], 200, pdf[200:300])
    assert ahead.status_code == 409
    # More than announced: refused, the announced part kept.
    extra = await _chunk(client, csrf, session["id"], 100, pdf[100:] + b"more")
    assert extra.status_code == 413
    assert (await client.get(session["url"])).json()["offset"] == len(pdf)
    # Someone else's session does not exist for them.
    _, other_csrf = await _signed_in(other, runtime, "stranger")
    assert (await other.get(session["url"])).status_code == 404
    assert (await _chunk(other, other_csrf, session["id"], 100, b"x")).status_code == 404
    assert (
        await other.delete(session["url"], headers={"X-CSRF-Token": other_csrf})
    ).status_code == 404
    assert (await other.get("/uploads/../../etc")).status_code == 404
    # Nor can they open one on my packet.
    theirs = await _open(other, other_csrf, submission_id, kinds["document"], size=10)
    assert theirs.status_code == 404
    # A session needs the CSRF header when it rides on the cookie.
    assert (await client.post("/uploads", json={})).status_code == 403
    # Links and reflections are not files; empty and oversized files are refused up front.
    link = await _open(client, csrf, submission_id, kinds["reflection"], filename="x", size=5)
    assert link.status_code == 415 and link.json()["error"] == "wrong_type"
    empty = await _open(client, csrf, submission_id, kinds["document"], filename="e.pdf", size=0)
    assert empty.status_code == 400
    # Cancel mine: its bytes go.
    assert (await client.delete(session["url"], headers={"X-CSRF-Token": csrf})).status_code == 204
    assert (await client.get(session["url"])).status_code == 404
    assert _files_under(runtime.settings.uploads_dir) == []
    runtime.settings.upload_max_file_bytes = 1024
    big = await _open(client, csrf, submission_id, kinds["document"], filename="b.pdf", size=4096)
    assert big.status_code == 413 and "accepts files up to" in big.json()["detail"]
    assert _files_under(runtime.settings.uploads_dir) == []


async def test_upload_session_of_the_wrong_type_leaves_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    png = media.png()
    session = (
        await _open(client, csrf, submission_id, kinds["document"], filename="p.pdf", size=len(png))
    ).json()
    refused = await _chunk(client, csrf, session["id"], 0, png)
    assert refused.status_code == 415 and "contains PNG image data" in refused.json()["detail"]
    assert _files_under(runtime.settings.uploads_dir) == []
    assert (await client.get(session["url"])).status_code == 404


async def _dropped_chunk(
    app: Starlette, token: str, upload_id: str, offset: int, part: bytes
) -> None:
    """A PATCH whose connection drops after `part`: the body announced more, then disconnect."""
    messages = [
        {"type": "http.request", "body": part, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass  # the phone is gone: nothing reaches it

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": f"/uploads/{upload_id}",
        "raw_path": f"/uploads/{upload_id}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"upload-offset", str(offset).encode()),
            (b"content-length", str(len(part) * 4).encode()),
        ],
        "client": ("203.0.113.9", 50002),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)


async def test_an_upload_resumes_after_a_dropped_connection(
    app: Starlette, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "earner")
    token = await f.token_for(runtime, earner)
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    submission_id = started.json()["id"]
    kinds = await _criteria(runtime, credential)
    body = {"submission_id": submission_id, "criterion_id": str(kinds["image"])}
    photo = media.jpeg()
    session = (
        await client.post(
            "/uploads",
            json={**body, "filename": "class.jpg", "size": len(photo)},
            headers=auth(token),
        )
    ).json()
    url = session["url"]
    first = await client.patch(
        url, content=photo[:300], headers={**auth(token), "Upload-Offset": "0"}
    )
    assert first.json()["offset"] == 300
    # The second chunk never arrived (a tunnel); the phone, unaware, sends the third.
    ahead = await client.patch(
        url, content=photo[600:900], headers={**auth(token), "Upload-Offset": "600"}
    )
    assert ahead.status_code == 409 and ahead.json()["offset"] == 300
    # It resends from 300 and the connection drops after 200 bytes: those are kept.
    await _dropped_chunk(app, token, session["id"], 300, photo[300:500])
    asked = await client.head(url, headers=auth(token))
    assert asked.headers["upload-offset"] == "500"
    assert (await client.get(url, headers=auth(token))).json()["complete"] is False
    rest = await client.patch(
        url, content=photo[500:], headers={**auth(token), "Upload-Offset": "500"}
    )
    assert rest.status_code == 201, rest.text
    detail = (await client.get(f"/api/v1/submissions/{submission_id}", headers=auth(token))).json()
    (artifact,) = detail["versions"][0]["artifacts"]
    assert artifact["filename"] == "class.jpg" and artifact["size_bytes"] == len(photo)
    stored = evidence.path_for(runtime.settings.uploads_dir, hashlib.sha256(photo).hexdigest())
    assert stored.read_bytes() == photo


async def test_expired_sessions_are_deleted(client: httpx.AsyncClient, runtime: Runtime) -> None:
    credential = await f.credential(runtime)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _start(client, credential, csrf)
    kinds = await _criteria(runtime, credential)
    old = (
        await _open(client, csrf, submission_id, kinds["document"], filename="o.pdf", size=10)
    ).json()
    fresh = (
        await _open(client, csrf, submission_id, kinds["document"], filename="n.pdf", size=10)
    ).json()
    folder = next(uploads.sessions_dir(runtime.settings.uploads_dir).iterdir())
    a_day_ago = time.time() - uploads.EXPIRY.total_seconds() - 60
    for path in folder.glob(f"{old['id']}.*"):
        os.utime(path, (a_day_ago, a_day_ago))
    assert uploads.sweep_expired(runtime.settings.uploads_dir) == 1
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{fresh['id']}.json",
        f"{fresh['id']}.part",
    ]
    assert (await client.get(old["url"])).status_code == 404
    # Looking one up also notices expiry.
    for path in folder.glob(f"{fresh['id']}.*"):
        os.utime(path, (a_day_ago, a_day_ago))
    assert (await client.get(fresh["url"])).status_code == 404
    assert list(folder.iterdir()) == []


async def _passed(
    client: httpx.AsyncClient, runtime: Runtime, credential: Credential, level: int
) -> str:
    """The signed-in earner's packet (made through the API with a token), reviewed once."""
    async with runtime.sessions() as session:
        earner = (await session.exec(select(User).where(User.email == "earner@mcx.example"))).one()
    token = await f.token_for(runtime, earner)
    submission_id = await f.submitted(client, runtime, token, credential)
    reviewer = await f.person(runtime, f"reviewer{level}", [Role.reviewer])
    assert (await _review(client, await f.token_for(runtime, reviewer), level)).status_code == 201
    return submission_id


async def test_wallet_lists_the_badge_and_privacy_changes_only_for_the_owner(
    client: httpx.AsyncClient, other: httpx.AsyncClient, runtime: Runtime
) -> None:
    # Badges of this credential expire a year after they are awarded.
    credential = await f.credential(runtime, peer_reviews=1, validity_months=12)
    second = await f.credential(runtime, "second")
    async with runtime.sessions() as session:
        await catalog.create_stack(
            session,
            StackSpec(
                slug="leaders",
                organisation="ipa",
                title="Teacher Leadership",
                credentials=["coaching", "second"],
            ),
        )
    _, csrf = await _signed_in(client, runtime, "earner")
    empty = await client.get("/wallet")
    assert empty.status_code == 200 and "No badges yet" in empty.text
    submission_id = await _passed(client, runtime, credential, 3)
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()
    wallet = await client.get("/wallet")
    assert wallet.status_code == 200 and credential.title in wallet.text
    for testid in (
        "wallet-badge",
        "copy-link",
        "linkedin-link",
        "badge-download",
        "privacy-select",
    ):
        assert f'data-testid="{testid}"' in wallet.text
    assert f"http://127.0.0.1:8000/badges/{award.id}" in wallet.text
    assert award.expires_at == add_months(award.issued_at, 12)
    assert f"expires {day(award.expires_at)}" in wallet.text
    # The download is the baked image: it carries the signed credential.
    assert f'href="/badges/{award.id}/baked.png" download="coaching-badge.png"' in wallet.text
    baked = await client.get(f"/badges/{award.id}/baked.png")
    assert unbake(baked.content).version == "3.0"
    assert (
        "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&amp;name=Credential+coaching"
        in wallet.text
    )
    assert f"certId={award.id}" in wallet.text and "organizationName=IPA" in wallet.text
    page = await client.get(f"/submissions/{submission_id}")
    assert f'href="/badges/{award.id}" data-testid="badge-link"' in page.text
    assert ">Passed<" in page.text and "Meets" not in page.text and "Exceeds" in page.text
    mine = await client.get("/me/submissions")
    assert "1 of 2 in Teacher Leadership" in mine.text and second.title in mine.text

    changed = await client.post(
        f"/submissions/{submission_id}/privacy",
        data={"csrf_token": csrf, "privacy": "public", "return_to": "wallet"},
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/wallet"
    bad = await client.post(
        f"/submissions/{submission_id}/privacy",
        data={"csrf_token": csrf, "privacy": "everyone", "return_to": "wallet"},
    )
    assert bad.status_code == 422 and "Privacy is one of" in bad.text
    _, other_csrf = await _signed_in(other, runtime, "stranger")
    refused = await other.post(
        f"/submissions/{submission_id}/privacy",
        data={"csrf_token": other_csrf, "privacy": "reviewers", "return_to": "wallet"},
    )
    assert refused.status_code == 404
    async with runtime.sessions() as session:
        submission = await session.get(Submission, uuid.UUID(submission_id))
    assert submission is not None and submission.privacy == "public"
    assert credential.title not in (await other.get("/wallet")).text
    # A revoked badge stays in the wallet, marked, without share actions.
    async with runtime.sessions() as session:
        revoked = await session.get(Award, award.id)
        assert revoked is not None
        revoked.revoked_at, revoked.revocation_reason = revoked.issued_at, "copied evidence"
        session.add(revoked)
        await session.commit()
    wallet = await client.get("/wallet")
    assert 'data-testid="badge-revoked"' in wallet.text and "copied evidence" in wallet.text
    assert 'data-testid="linkedin-link"' not in wallet.text


async def test_feedback_with_level_labels_then_appeal_and_resubmit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    _, csrf = await _signed_in(client, runtime, "earner")
    submission_id = await _passed(client, runtime, credential, 1)  # "Approaching": not yet
    status = (await client.get(f"/submissions/{submission_id}/status.json")).json()
    assert status["status"]["key"] == "not_yet" and status["outcome"]["label"] == "Not yet"
    (review,) = status["feedback"]
    assert review["recommendation"] == "Not yet" and review["feedback"] == "Feedback."
    assert [(s["criterion"], s["level"], s["comment"]) for s in review["scores"]] == [
        ("Plans", "Approaching", "ok"),
        ("Acts", "Approaching", "ok"),
    ]
    page = await client.get(f"/submissions/{submission_id}")
    assert "Approaching" in page.text and 'data-testid="appeal-reason"' in page.text
    assert "Reviewer1" not in page.text  # blind both ways: no reviewer names
    short = await client.post(
        f"/submissions/{submission_id}/appeal", data={"csrf_token": csrf, "reason": "no"}
    )
    assert short.status_code == 422 and "10 to 5000 characters" in short.text
    appealed = await client.post(
        f"/submissions/{submission_id}/appeal",
        data={"csrf_token": csrf, "reason": "Minute 4 of the video shows every component."},
    )
    assert appealed.status_code == 303
    page = await client.get(f"/submissions/{submission_id}")
    assert "Your appeal is with a coordinator." in page.text
    assert 'data-testid="appeal-reason"' not in page.text
    again = await client.post(f"/submissions/{submission_id}/resubmit", data={"csrf_token": csrf})
    assert again.status_code == 303
    page = await client.get(f"/submissions/{submission_id}")
    assert "Version 2" in page.text and 'data-testid="history"' in page.text
    assert 'data-status-key="draft"' in page.text and "Approaching" in page.text
    assert "What I did, what happened, what I learned." in page.text  # carried over
