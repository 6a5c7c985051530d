"""Hostile input through HTTP: markup in every free text that is shown, uploads that lie about
themselves, and JSON bodies, query strings and forms built to break the server.

Every refusal is a clear 4xx that writes nothing; nothing is ever a 5xx. Uploads are also
covered one channel at a time in test_marketplace.py, test_earner_pages.py and
test_evidence.py; here each attack goes through every channel at once.
"""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import func
from sqlalchemy import text as sql
from sqlmodel import SQLModel, select
from starlette.applications import Starlette

from app import uploads
from app.actions import accounts, catalog
from app.actions.submissions import check_evidence
from app.main import create_app
from app.models import (
    ApiToken,
    Appeal,
    Artifact,
    Award,
    Review,
    ReviewTask,
    Role,
    Rubric,
    Submission,
    User,
)
from app.runtime import Runtime, Urls
from app.settings import Settings
from tests import factories as f
from tests import media
from tests.factories import auth, latest_version_id
from tests.test_security import assert_secured, secured

XSS = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
# Accepted by validate_link (http, a host, no spaces): the markup must stay text in href too.
SNEAKY_LINK = 'https://example.org/x?"><script>alert(1)</script>'
RAW_MARKUP = ("<script>alert", "<img src=x", 'href="javascript:', "src=\"javascript:'")


def hostile(label: str) -> str:
    """A field's text: a label to find it by, then markup that must never run."""
    return f"{label} {XSS}{BREAKOUT}"


def assert_escaped(html: str, *labels: str, where: str = "") -> None:
    """No markup from user text in `html`, and each label's text there, escaped."""
    for raw in RAW_MARKUP:
        assert raw not in html, (where, raw)
    for label in labels:
        assert str(escape(hostile(label))) in html, (where, label)


@pytest.fixture
async def app(settings: Settings, services: Urls, runtime: Runtime) -> AsyncIterator[Starlette]:
    application = secured(
        create_app(settings, Urls(database=services.database, redis=services.redis)), settings
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Server errors come back as 500 answers, so a test can say which request made one."""
    transport = httpx.ASGITransport(
        app=app, client=("203.0.113.7", 50000), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _named(runtime: Runtime, label: str, name: str, roles: list[Role] | None = None) -> str:
    """A person with this display name (and roles at the issuer); returns their API token."""
    async with runtime.sessions() as session:
        issuer = await catalog.organisation_by_slug(session, "ipa")
        assert issuer is not None
        user = await accounts.create_user(
            session,
            email=f"{label}@mcx.example",
            name=name,
            password="factory-password-1",
            memberships=[(issuer, role) for role in roles or []],
        )
    return await f.token_for(runtime, user)


async def _rows(runtime: Runtime) -> dict[str, int]:
    """How many rows each table a hostile request could write holds."""
    tables: list[type[SQLModel]] = [
        User,
        ApiToken,
        Submission,
        Artifact,
        ReviewTask,
        Review,
        Appeal,
        Award,
        Rubric,
    ]
    async with runtime.sessions() as session:
        return {
            t.__name__: (await session.exec(select(func.count()).select_from(t))).one()
            for t in tables
        }


async def test_markup_in_every_shown_text_is_escaped_on_every_page(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    credential = await f.credential(
        runtime,
        "xss",
        title=hostile("title"),
        summary=hostile("summary"),
        competency=hostile("competency"),
        key_method=hostile("key-method"),
        method_components=hostile("components"),
        research_resources=hostile("research"),
        peer_reviews=1,
        alignments=[
            {
                "framework": "PSEL",
                "code": "1",
                "title": hostile("standard"),
                "url": "https://example.org/psel/1",
            }
        ],
        submission_criteria=[
            {
                "title": hostile("criterion"),
                "description": hostile("criterion-text"),
                "kind": "reflection",
            },
            {"title": "A link", "kind": "link", "required": False},
        ],
        rubric={
            "min_level": 2,
            "criteria": [
                {
                    "title": hostile("rubric"),
                    "levels": [
                        {"label": "Not yet", "points": 0},
                        {"label": hostile("level"), "points": 1, "descriptor": hostile("desc")},
                        {"label": "Meets", "points": 2},
                    ],
                }
            ],
        },
    )
    # Specs refuse such links now; pages must still never link one stored before that.
    async with runtime.engine.begin() as conn:
        await conn.execute(sql("UPDATE alignments SET url = 'javascript:x'"))
    earner = await _named(runtime, "earner", hostile("earner"))
    reviewer = await _named(runtime, "reviewer", hostile("reviewer"), [Role.reviewer])
    coordinator = await _named(runtime, "coordinator", "Coordinator", [Role.coordinator])

    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(earner)
    )
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    by_kind = {c["kind"]: c["criterion_id"] for c in criteria["submission_criteria"]}
    base = f"/api/v1/submissions/{submission_id}/artifacts"
    for kind, body in (
        ("reflection", {"text": hostile("reflection")}),
        ("link", {"url": SNEAKY_LINK}),
    ):
        attached = await client.post(f"{base}/{by_kind[kind]}", json=body, headers=auth(earner))
        assert attached.status_code == 201, attached.text
    await client.post(f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner))
    assert await check_evidence(runtime, await latest_version_id(runtime, submission_id)) == (
        "in_review"
    )

    # While the reviewer holds the claim: the task page, the feed, the coordinator's queue.
    claim = (await client.post("/api/v1/tasks/claim-next", headers=auth(reviewer))).json()
    task_id = claim["task_id"]
    task_page = (await client.get(f"/review/tasks/{task_id}", headers=auth(reviewer))).text
    assert_escaped(
        task_page, "title", "criterion", "reflection", "rubric", "level", "desc", "reviewer"
    )
    assert str(escape(SNEAKY_LINK)) in task_page
    assert str(escape(hostile("earner"))) not in task_page  # blind review
    assert_escaped((await client.get("/review", headers=auth(reviewer))).text, "title")
    queue = await client.get(f"/coordinate/credentials/{credential.id}", headers=auth(coordinator))
    assert_escaped(queue.text, "title", "reviewer", where="coordinator credential page")
    assert_escaped((await client.get("/coordinate", headers=auth(coordinator))).text, "title")

    # The review: "not yet" at the hostile level, with hostile feedback and comments.
    version, scores = await f.scores_for(client, reviewer, task_id, 1)
    for score in scores:
        score["comment"] = hostile("comment")
    sent = await client.post(
        f"/api/v1/tasks/{task_id}/review",
        json={"lease_version": version, "scores": scores, "feedback": hostile("feedback")},
        headers=auth(reviewer),
    )
    assert sent.status_code == 201, sent.text
    history = (await client.get("/review/history", headers=auth(reviewer))).text
    assert_escaped(history, "title", "feedback", where="history")
    done = (await client.get(f"/review/tasks/{task_id}/done", headers=auth(reviewer))).text
    assert_escaped(done, "title", where="done page")

    # The earner appeals from the page; a coordinator overturns with a hostile ruling.
    appealed = await client.post(
        f"/submissions/{submission_id}/appeal",
        data={"reason": hostile("appeal")},
        headers=auth(earner),
    )
    assert appealed.status_code == 303, appealed.text
    async with runtime.sessions() as session:
        appeal = (await session.exec(select(Appeal))).one()
    assert appeal.reason == hostile("appeal")  # kept as written; shown on no page
    ruled = await client.post(
        f"/api/v1/appeals/{appeal.id}/ruling",
        json={"overturn": True, "ruling": hostile("ruling")},
        headers=auth(coordinator),
    )
    assert ruled.status_code == 200, ruled.text
    public = await client.post(
        f"/submissions/{submission_id}/privacy",
        data={"privacy": "public", "return_to": "wallet"},
        headers=auth(earner),
    )
    assert public.status_code == 303
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()

    packet = (await client.get(f"/submissions/{submission_id}", headers=auth(earner))).text
    assert_escaped(
        packet,
        "title",
        "criterion",
        "criterion-text",
        "reflection",
        "feedback",
        "comment",
        "level",
        "ruling",
        "earner",
        where="packet page",
    )
    assert str(escape(SNEAKY_LINK)) in packet
    assert str(escape(hostile("appeal"))) not in packet
    status = await client.get(f"/submissions/{submission_id}/status.json", headers=auth(earner))
    assert status.headers["content-type"] == "application/json"
    assert_escaped(status.json()["fragment"], "feedback", "comment", "ruling", where="fragment")
    for path, labels in {
        "/me/submissions": ["title", "earner"],
        "/wallet": ["title"],
        "/notifications": ["title", "ruling"],
    }.items():
        assert_escaped((await client.get(path, headers=auth(earner))).text, *labels, where=path)
    # Pages anyone may open.
    badge = await client.get(f"/badges/{award.id}")
    assert badge.status_code == 200
    assert_escaped(badge.text, "title", "summary", "earner", "standard", where="badge page")
    assert_secured(badge)
    page = (await client.get("/credentials/ipa/xss")).text
    assert_escaped(
        page,
        "title",
        "summary",
        "competency",
        "key-method",
        "components",
        "research",
        "standard",
        "criterion",
        "criterion-text",
        "rubric",
        "level",
        "desc",
        where="credential page",
    )
    assert "javascript:" not in page
    assert_escaped((await client.get("/catalog")).text, "title", "summary", where="catalogue")
    searched = await client.get("/catalog", params={"q": hostile("search")})
    assert searched.status_code == 200
    assert_escaped(searched.text, where="search echo")


NOT_WEB_ADDRESSES = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(document.cookie)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "https://user:pw@evil.example/",
]


async def test_links_that_are_not_web_addresses_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(
        runtime, submission_criteria=[{"title": "A link", "kind": "link"}]
    )
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(earner)
    )
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    link_id = criteria["submission_criteria"][0]["criterion_id"]
    for url in NOT_WEB_ADDRESSES:
        api = await client.post(
            f"/api/v1/submissions/{submission_id}/artifacts/{link_id}",
            json={"url": url},
            headers=auth(earner),
        )
        assert api.status_code == 400 and api.json()["error"] == "bad_link", url
        form = await client.post(
            f"/submissions/{submission_id}/artifacts/{link_id}",
            data={"url": url},
            headers=auth(earner),
        )
        assert form.status_code == 400 and 'data-testid="criterion-error"' in form.text, url
    assert (await _rows(runtime))["Artifact"] == 0


# ---- uploads -------------------------------------------------------------------------------

Send = Callable[[str, str, bytes], Awaitable[httpx.Response]]


class Packet:
    """An earner's draft packet and the four ways a file reaches it."""

    def __init__(self, client: httpx.AsyncClient, token: str, submission_id: str) -> None:
        self.client, self.token, self.id = client, token, submission_id
        self.criteria: dict[str, str] = {}

    @classmethod
    async def start(cls, client: httpx.AsyncClient, runtime: Runtime) -> Packet:
        credential = await f.credential(runtime)
        token = await f.token_for(runtime, await f.person(runtime, "earner"))
        started = await client.post(
            "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
        )
        packet = cls(client, token, started.json()["id"])
        detail = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
        packet.criteria = {c["kind"]: c["criterion_id"] for c in detail["submission_criteria"]}
        return packet

    def channels(self, kind: str) -> dict[str, Send]:
        criterion = self.criteria[kind]
        api = f"/api/v1/submissions/{self.id}/artifacts/{criterion}"
        headers = auth(self.token)

        async def raw(name: str, content_type: str, data: bytes) -> httpx.Response:
            return await self.client.post(
                api,
                content=data,
                headers={**headers, "X-Filename": name, "Content-Type": content_type},
            )

        async def multipart(name: str, content_type: str, data: bytes) -> httpx.Response:
            return await self.client.post(
                api, files={"file": (name, data, content_type)}, headers=headers
            )

        async def page_form(name: str, content_type: str, data: bytes) -> httpx.Response:
            return await self.client.post(
                f"/submissions/{self.id}/artifacts/{criterion}",
                files={"file": (name, data, content_type)},
                headers=headers,
            )

        async def session(name: str, content_type: str, data: bytes) -> httpx.Response:
            opened = await self.client.post(
                "/uploads",
                json={
                    "submission_id": self.id,
                    "criterion_id": criterion,
                    "filename": name,
                    "size": len(data),
                },
                headers=headers,
            )
            if opened.status_code != 201:
                return opened
            return await self.client.patch(
                opened.json()["url"], content=data, headers={**headers, "Upload-Offset": "0"}
            )

        return {
            "api-raw": raw,
            "api-multipart": multipart,
            "page-form": page_form,
            "session": session,
        }


def _kept_files(data_dir: Path) -> list[str]:
    """Every file under the data folder, as a path relative to it."""
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 200


WRONG_TYPES = {
    "html-as-pdf": ("document", "plan.pdf", "application/pdf", HTML),
    "png-as-pdf": ("document", "plan.pdf", "application/pdf", media.png()),
    "exe-as-docx": ("document", "plan.docx", "application/pdf", EXE),
    "svg-as-png": ("image", "photo.png", "image/png", SVG),
    "pdf-as-jpg": ("image", "photo.jpg", "image/jpeg", media.pdf()),
}


async def test_a_wrong_type_behind_a_right_extension_is_refused_on_every_channel(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    packet = await Packet.start(client, runtime)
    for case, (kind, name, content_type, data) in WRONG_TYPES.items():
        for channel, send in packet.channels(kind).items():
            refused = await send(name, content_type, data)
            assert refused.status_code == 415, (case, channel, refused.text)
            assert "contains" in refused.text and "data, but" in refused.text, (case, channel)
    assert (await _rows(runtime))["Artifact"] == 0
    assert _kept_files(runtime.settings.data_dir) == []


async def test_empty_and_oversized_files_are_refused_on_every_channel(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    packet = await Packet.start(client, runtime)
    for channel, send in packet.channels("document").items():
        empty = await send("empty.pdf", "application/pdf", b"")
        assert empty.status_code == 400, (channel, empty.text)
    runtime.settings.upload_max_file_bytes = 2048
    big = media.pdf() + b"%" + b"x" * 4096 + b"\n%%EOF\n"
    for channel, send in packet.channels("document").items():
        refused = await send("big.pdf", "application/pdf", big)
        assert refused.status_code == 413, (channel, refused.text)
    assert (await _rows(runtime))["Artifact"] == 0
    assert _kept_files(runtime.settings.data_dir) == []


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return out.getvalue()


POLYGLOTS = {
    # A PDF whose first comment line is an HTML page: a browser that sniffed would run it.
    "pdf+html": (
        "document",
        "plan.html",
        media.pdf()[:9] + b"%" + HTML + b"\n" + media.pdf()[9:],
        "application/pdf",
    ),
    # A PDF with a ZIP (holding an HTML page) appended: unzip opens it, a PDF reader too.
    "pdf+zip": (
        "document",
        "plan.pdf",
        media.pdf() + _zip({"index.html": HTML}),
        "application/pdf",
    ),
    # A valid PNG followed by a page.
    "png+html": ("image", "photo.png", media.png() + HTML, "image/png"),
}


async def test_a_polyglot_is_only_ever_served_as_its_sniffed_type(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """MCX reads a file's type from its first bytes and checks its structure as that type. A
    polyglot that passes is evidence of that type, and is only ever served as that type with
    nosniff and MCX's policy: never as HTML, never framed by another site."""
    packet = await Packet.start(client, runtime)
    for which, (kind, name, data, sniffed) in POLYGLOTS.items():
        stored = await packet.channels(kind)["api-raw"](name, "text/html", data)
        assert stored.status_code == 201, (which, stored.text)
        assert stored.json()["media_type"] == sniffed, which
        download = await client.get(
            f"/api/v1/artifacts/{stored.json()['artifact_id']}", headers=auth(packet.token)
        )
        assert download.status_code == 200 and download.content == data, which
        assert download.headers["content-type"] == sniffed, which
        assert download.headers["x-content-type-options"] == "nosniff", which
        assert_secured(download, framing="'self'")


async def test_filenames_are_labels_never_paths(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    packet = await Packet.start(client, runtime)
    pdf = media.pdf()
    channels = packet.channels("document")

    async def raw_multipart(name: str, content_type: str, data: bytes) -> httpx.Response:
        # By hand: a client following the HTML form rules would percent-encode the controls.
        part = (
            b"--b0undary\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + data + b"\r\n--b0undary--\r\n"
        )
        return await client.post(
            f"/api/v1/submissions/{packet.id}/artifacts/{packet.criteria['document']}",
            content=part,
            headers={
                **auth(packet.token),
                "Content-Type": "multipart/form-data; boundary=b0undary",
            },
        )

    attempts: list[tuple[Send, str]] = [
        (channels["api-raw"], "../../../etc/passwd"),
        (raw_multipart, "C:\\Windows\\evil\x07\x1b\x7f.pdf"),
        (channels["page-form"], "/srv/mcx/.env"),
        (channels["session"], "../../uploads/sessions/x/\u202egpj.exe\x1f.pdf"),
    ]
    names = []
    for send, name in attempts:
        # Each send replaces the one before (one artifact per criterion): read it at once.
        sent = await send(name, "application/pdf", pdf)
        assert sent.status_code in (201, 303), (name, sent.text)
        async with runtime.sessions() as session:
            artifact = (await session.exec(select(Artifact))).one()
        label = artifact.filename or ""
        names.append(label)
        assert "/" not in label and "\\" not in label and not label.startswith("."), label
        assert all(unicodedata.category(ch) not in {"Cc", "Cf"} for ch in label), label
        download = await client.get(f"/api/v1/artifacts/{artifact.id}", headers=auth(packet.token))
        disposition = download.headers["content-disposition"]
        assert disposition.startswith("inline; filename") and "/" not in disposition
    assert names == ["passwd", "evil.pdf", "env", "gpj.exe.pdf"]
    # One stored copy, named by its hash; the finished session keeps only its small result
    # (for a phone that lost the last answer): no partial or temporary file, nothing elsewhere.
    kept = _kept_files(runtime.settings.data_dir)
    stored = [k for k in kept if re.fullmatch(r"uploads/[0-9a-f]{2}/[0-9a-f]{64}", k)]
    sessions = [k for k in kept if re.fullmatch(r"uploads/sessions/[0-9a-f-]{36}/[^/]+", k)]
    assert len(stored) == 1 and sorted(stored + sessions) == kept, kept
    assert not [k for k in sessions if k.endswith((".part", ".assembling"))], sessions


async def test_the_upload_session_limit_holds_under_parallel_opens(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    packet = await Packet.start(client, runtime)
    body = {"submission_id": packet.id, "criterion_id": packet.criteria["document"], "size": 10}

    async def open_one() -> httpx.Response:
        return await client.post("/uploads", json=body, headers=auth(packet.token))

    answers = await asyncio.gather(*(open_one() for _ in range(uploads.MAX_OPEN_PER_OWNER + 5)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * uploads.MAX_OPEN_PER_OWNER + [429] * 5
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["error"] == "too_many_uploads"
    assert (await open_one()).status_code == 429  # the 21st, once they have all landed
    # Cancelling one makes room for exactly one more.
    some = next(a for a in answers if a.status_code == 201)
    cancelled = await client.delete(some.json()["url"], headers=auth(packet.token))
    assert cancelled.status_code == 204
    assert (await open_one()).status_code == 201
    assert (await open_one()).status_code == 429
    parts = list(uploads.sessions_dir(runtime.settings.uploads_dir).rglob("*.part"))
    assert len(parts) == uploads.MAX_OPEN_PER_OWNER


# ---- JSON, query strings and forms -----------------------------------------------------------


async def _world(client: httpx.AsyncClient, runtime: Runtime) -> dict[str, Any]:
    """An in-review packet with its task claimed, and the people to poke at it."""
    credential = await f.credential(runtime, peer_reviews=1)
    earner = await f.token_for(runtime, await f.person(runtime, "earner"))
    submission_id = await f.submitted(client, runtime, earner, credential)
    reviewer = await f.token_for(runtime, await f.person(runtime, "peer", [Role.reviewer]))
    coordinator = await f.token_for(runtime, await f.person(runtime, "coord", [Role.coordinator]))
    claim = (await client.post("/api/v1/tasks/claim-next", headers=auth(reviewer))).json()
    return {
        "credential": str(credential.id),
        "submission": submission_id,
        "task": claim["task_id"],
        "earner": earner,
        "reviewer": reviewer,
        "coordinator": coordinator,
    }


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def test_hostile_json_bodies_get_a_clear_4xx_and_write_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    w = await _world(client, runtime)
    before = await _rows(runtime)
    task = f"/api/v1/tasks/{w['task']}"
    submission = f"/api/v1/submissions/{w['submission']}"
    huge_int = 10**30
    cases: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
        # (who, method, path, body, acceptable statuses)
        ("earner", "POST", "/api/v1/submissions", b"[" * 200_000, (400,)),
        ("earner", "POST", "/api/v1/submissions", _nested(40_000), (400,)),
        ("earner", "POST", "/api/v1/submissions", b'{"x": "' + b"a" * 300_000 + b'"}', (413,)),
        ("earner", "POST", "/api/v1/submissions", b"\xff\xfe{", (400,)),
        # Python refuses to read an integer of more than 4300 digits (a ValueError).
        ("earner", "POST", "/api/v1/submissions", b'{"x": ' + b"9" * 5000 + b"}", (400,)),
        ("earner", "POST", "/api/v1/submissions", [1, 2, 3], (422,)),
        ("earner", "POST", "/api/v1/submissions", "a string", (422,)),
        ("earner", "POST", "/api/v1/submissions", {"credential_id": 5}, (422,)),
        (
            "earner",
            "POST",
            "/api/v1/submissions",
            {"credential_id": w["credential"], "privacy": ["x"]},
            (422,),
        ),
        (
            "earner",
            "POST",
            "/api/v1/submissions",
            {"credential_id": w["credential"], "admin": True},
            (422,),
        ),
        ("earner", "POST", f"{submission}/appeal", {"reason": ["a list"]}, (422,)),
        (
            "earner",
            "POST",
            f"{submission}/appeal",
            {"reason": "Because\x00 the video shows it."},
            (400, 409, 422),
        ),
        (
            "earner",
            "POST",
            "/uploads",
            {"submission_id": w["submission"], "criterion_id": "x", "size": -1},
            (422,),
        ),
        (
            "earner",
            "POST",
            "/uploads",
            {"submission_id": w["submission"], "criterion_id": w["credential"], "size": huge_int},
            (404, 409, 413),
        ),
        ("reviewer", "POST", f"{task}/release", {"lease_version": huge_int}, (409, 422)),
        ("reviewer", "POST", f"{task}/extend", {"lease_version": huge_int}, (409, 422)),
        ("reviewer", "POST", f"{task}/extend", {"lease_version": "one"}, (422,)),
        ("reviewer", "POST", f"{task}/release", {"lease_version": None}, (422,)),
        ("reviewer", "PUT", f"{task}/review", {"lease_version": 1, "scores": "all"}, (422,)),
        ("reviewer", "PUT", f"{task}/review", {"lease_version": 1, "scores": [{}] * 51}, (422,)),
        (
            "reviewer",
            "PUT",
            f"{task}/review",
            {"lease_version": 1, "feedback": "x" * 100_000},
            (422,),
        ),
        (
            "reviewer",
            "PUT",
            f"{task}/review",
            {"lease_version": 1, "feedback": "a\x00b"},
            (400, 409, 422),
        ),
        (
            "coordinator",
            "POST",
            f"/api/v1/appeals/{uuid.uuid4()}/ruling",
            {"overturn": "maybe", "ruling": "x"},
            (422,),
        ),
        (
            "coordinator",
            "PUT",
            f"/api/v1/credentials/{w['credential']}/rubric",
            {"criteria": []},
            (422,),
        ),
        (
            "coordinator",
            "PUT",
            f"/api/v1/credentials/{w['credential']}/rubric",
            {
                "criteria": [
                    {
                        "title": "t",
                        "levels": [{"label": "a", "points": 0}, {"label": "b", "points": 10**12}],
                    }
                ]
            },
            (422,),
        ),
        (
            "coordinator",
            "PUT",
            f"/api/v1/credentials/{w['credential']}/rubric",
            {
                "criteria": [
                    {
                        "title": "t\x00",
                        "levels": [{"label": "a", "points": 0}, {"label": "b", "points": 1}],
                    }
                ]
            },
            (400, 422),
        ),
    ]
    unexpected: list[tuple[object, ...]] = []
    for who, method, path, payload, expected in cases:
        kwargs: dict[str, Any] = {"headers": {**auth(w[who]), "Content-Type": "application/json"}}
        if isinstance(payload, bytes):
            kwargs["content"] = payload
        else:
            kwargs["json"] = payload
        answer = await client.request(method, path, **kwargs)
        json_answer = answer.headers["content-type"] == "application/json"
        clear = json_answer and bool(answer.json().get("detail"))
        if answer.status_code not in expected or not clear:
            unexpected.append((method, path, repr(payload)[:60], answer.status_code))
    assert unexpected == [], "\n".join(map(repr, unexpected))
    assert await _rows(runtime) == before
    async with runtime.sessions() as session:
        task_row = await session.get(ReviewTask, uuid.UUID(w["task"]))
    assert task_row is not None and task_row.state == "claimed" and not task_row.extended


async def test_hostile_query_strings_paths_and_forms_never_make_a_5xx(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    w = await _world(client, runtime)
    earner = auth(w["earner"])
    gets: list[tuple[str, dict[str, str], tuple[int, ...]]] = [
        ("/api/v1/notifications?after=99999999999999999999", earner, (422,)),
        ("/api/v1/notifications?after=%C2%B2", earner, (422,)),  # "²" is a digit to isdigit()
        ("/api/v1/notifications?after=-1", earner, (422,)),
        ("/notifications?before=%C2%B2", earner, (200,)),
        ("/notifications?before=99999999999999999999999", earner, (200,)),
        ("/review/history?page=%C2%B2", earner, (200,)),
        ("/review/history?page=99999999999999999999999", earner, (200,)),
        ("/catalog?q=%00", {}, (200,)),
        ("/catalog?q=a%00b&org=%00&topic=%00&stakes=%00&standard=%00&stack=%00", {}, (200,)),
        ("/catalog?q=%25%5F%5C", {}, (200,)),  # LIKE wildcards and an escape, as text
        ("/credentials/ipa%00/x%00", {}, (404,)),
        ("/credentials/" + "a" * 5000 + "/b", {}, (404,)),
        ("/api/v1/submissions/%00", earner, (404,)),
        (f"/api/v1/submissions/{w['submission']}%00", earner, (404,)),
        ("/badges/%00.json", {}, (404,)),
        ("/uploads/..%2F..%2Fetc%2Fpasswd", earner, (404,)),
        ("/login?next=%00", {}, (200,)),
        ("/login?next=javascript:alert(1)", {}, (200,)),
    ]
    unexpected: list[tuple[object, ...]] = []
    # A chunk of an upload whose offset is a digit to str.isdigit() but not to int().
    draft = await client.post(
        "/api/v1/submissions",
        json={"credential_id": str((await f.credential(runtime, "second")).id)},
        headers=earner,
    )
    criteria = (await client.get(f"/api/v1/credentials/{draft.json()['credential_id']}")).json()
    document = next(c for c in criteria["submission_criteria"] if c["kind"] == "document")
    opened = await client.post(
        "/uploads",
        json={
            "submission_id": draft.json()["id"],
            "criterion_id": document["criterion_id"],
            "size": 9,
        },
        headers=earner,
    )
    bearer = [(k.lower().encode(), v.encode()) for k, v in earner.items()]
    for offset in ("\u00b2", "-1", "9" * 5000, "0x10"):
        chunk = await client.patch(
            opened.json()["url"],
            content=b"%PDF-1.4\n",
            headers=[(b"upload-offset", offset.encode("latin-1")), *bearer],
        )
        if chunk.status_code not in (400, 409):
            unexpected.append(("PATCH /uploads/{id}", offset[:10], chunk.status_code))
    await client.delete(opened.json()["url"], headers=earner)
    before = await _rows(runtime)
    for path, headers, expected in gets:
        answer = await client.get(path, headers=headers)
        if answer.status_code not in expected:
            unexpected.append((path, answer.status_code))
    posts: list[tuple[str, dict[str, str], dict[str, str], tuple[int, ...]]] = [
        ("/notifications/read", {"up_to": "²"}, earner, (303,)),
        ("/account/tokens", {"name": "a\x00b"}, earner, (400, 422)),
        (
            "/signup",
            {"name": "N\x00", "email": "n@mcx.example", "password": "x" * 12},
            {},
            (400, 422),
        ),
        ("/login", {"email": "a\x00@mcx.example", "password": "y" * 12}, {}, (400, 401, 422)),
        (
            f"/submissions/{w['submission']}/appeal",
            {"reason": "The evidence \x00 shows it all."},
            earner,
            (400, 409, 422),
        ),
        (
            f"/review/tasks/{w['task']}/draft",
            {"lease_version": "99999999999999999999", "feedback": "x"},
            auth(w["reviewer"]),
            (409,),
        ),
        (
            f"/review/tasks/{w['task']}/draft",
            {"lease_version": "1", "feedback": "x", "level-x": "y"},
            auth(w["reviewer"]),
            (422,),
        ),
        (
            f"/review/tasks/{w['task']}/draft",
            {"lease_version": "1", "feedback": "x\x00"},
            auth(w["reviewer"]),
            (400, 422),
        ),
        (
            f"/coordinate/credentials/{w['credential']}",
            {"peer_reviews": "9" * 30, "lease_minutes": "²", "status": "\x00"},
            auth(w["coordinator"]),
            (400, 422),
        ),
    ]
    for path, data, headers, expected in posts:
        # Without a session cookie the CSRF check needs the token; a bearer token exempts.
        if not headers:
            login = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert token is not None
            data = {**data, "csrf_token": token.group(1)}
        answer = await client.post(path, data=data, headers=headers)
        if answer.status_code not in expected:
            unexpected.append((path, repr(data)[:60], answer.status_code))
    assert unexpected == [], "\n".join(map(repr, unexpected))
    assert await _rows(runtime) == before
