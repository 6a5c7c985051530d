"""Who gets what: every JSON API endpoint and page that touches someone's object, asked by
each kind of person, own object and someone else's, with the exact answer each one gets.

Missing and forbidden look the same (404), so an id tells a stranger nothing; a logged-out
caller is asked to log in (401 from the API and from scripts' JSON, 303 to /login from pages).
Refusals change nothing, which each test checks after its table.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from app import events
from app.actions.submissions import check_evidence
from app.models import (
    Appeal,
    AppealState,
    Award,
    Credential,
    Notification,
    ReviewTask,
    Role,
    Rubric,
    Submission,
    TaskState,
)
from app.runtime import Runtime
from tests import factories as f
from tests import media
from tests.factories import auth, latest_version_id
from tests.helpers import csrf_from
from tests.test_marketplace import _review

WHO = (
    "anonymous",
    "owner",  # the earner whose packet, badge and notifications these are
    "other_earner",
    "reviewer",  # a peer reviewer of the issuer, holding the claim on the packet's task
    "peer",  # another peer reviewer of the issuer (reviewed the owner's other packets)
    "expert",  # an expert reviewer of the issuer (this credential is peer-reviewed)
    "coordinator",  # a coordinator of the issuer
    "foreign_coordinator",  # a coordinator of another organisation
)
LOGGED_IN = WHO[1:]


def table(default: int, **special: int) -> dict[str, int]:
    """Expected status per person: `default`, except those named."""
    assert set(special) <= set(WHO), set(special) - set(WHO)
    return {who: special.get(who, default) for who in WHO}


@dataclass
class World:
    """Everyone in WHO, and the owner's objects they reach for."""

    tokens: dict[str, str]
    credential: Credential
    submission: str  # in review; its one task claimed by "reviewer"
    criteria: dict[str, str]  # kind -> criterion id, of `credential`
    task: str
    lease_version: int
    artifact: str  # the packet's PDF
    passed: str  # another packet of the owner's, passed: it earned `award`
    award: str
    appeal: str  # the owner's open appeal on a third packet's "not yet"
    notes: dict[str, list[int]] = field(default_factory=dict)  # who -> notification ids


async def build_world(client: httpx.AsyncClient, runtime: Runtime) -> World:
    await f.organisation(runtime, "ipa")
    await f.organisation(runtime, "ctq")
    credential = await f.credential(runtime, "coaching", peer_reviews=1)
    second = await f.credential(runtime, "second", peer_reviews=1)
    third = await f.credential(runtime, "third", peer_reviews=1)
    people = {
        "owner": await f.person(runtime, "owner"),
        "other_earner": await f.person(runtime, "other"),
        "reviewer": await f.person(runtime, "reviewer", [Role.reviewer]),
        "peer": await f.person(runtime, "peer", [Role.reviewer]),
        "expert": await f.person(runtime, "expert", [Role.expert]),
        "coordinator": await f.person(runtime, "coordinator", [Role.coordinator]),
        "foreign_coordinator": await f.person(runtime, "foreign", [Role.coordinator], org="ctq"),
    }
    tokens = {who: await f.token_for(runtime, user) for who, user in people.items()}
    owner = tokens["owner"]

    # A passed packet (a badge), then a "not yet" the owner appealed: both reviewed by "peer".
    passed = await f.submitted(client, runtime, owner, second)
    assert (await _review(client, tokens["peer"], 3)).status_code == 201
    not_yet = await f.submitted(client, runtime, owner, third)
    assert (await _review(client, tokens["peer"], 1)).status_code == 201
    appealed = await client.post(
        f"/api/v1/submissions/{not_yet}/appeal",
        json={"reason": "Minute 4 of the video shows every component."},
        headers=auth(owner),
    )
    assert appealed.status_code == 201, appealed.text

    # The packet in review: a PDF and a reflection, its task claimed by "reviewer".
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(owner)
    )
    submission = started.json()["id"]
    detail = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    criteria = {c["kind"]: c["criterion_id"] for c in detail["submission_criteria"]}
    base = f"/api/v1/submissions/{submission}/artifacts"
    pdf = await client.post(
        f"{base}/{criteria['document']}",
        content=media.pdf(),
        headers={**auth(owner), "X-Filename": "plan.pdf"},
    )
    await client.post(f"{base}/{criteria['reflection']}", json={"text": "R."}, headers=auth(owner))
    await client.post(f"/api/v1/submissions/{submission}/submit", headers=auth(owner))
    assert await check_evidence(runtime, await latest_version_id(runtime, submission)) == (
        "in_review"
    )
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(tokens["reviewer"]))
    assert claim.status_code == 201, claim.text
    await events.notify(
        runtime.engine, runtime.redis, runtime.settings, people["other_earner"].id, "x.y", {}
    )
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()
        appeal = (await session.exec(select(Appeal))).one()
        notes = (await session.exec(select(Notification))).all()
    by_user = {user.id: who for who, user in people.items()}
    world = World(
        tokens=tokens,
        credential=credential,
        submission=submission,
        criteria=criteria,
        task=claim.json()["task_id"],
        lease_version=claim.json()["lease_version"],
        artifact=pdf.json()["artifact_id"],
        passed=passed,
        award=str(award.id),
        appeal=str(appeal.id),
    )
    for note in notes:
        world.notes.setdefault(by_user[note.user_id], []).append(note.id or 0)
    return world


@pytest.fixture
async def anonymous(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-out browser holding a CSRF token, so its posts reach the endpoint's own
    log-in check (a post without the token is refused earlier, see test_security.py)."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50003))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        http.headers["X-CSRF-Token"] = await csrf_from(http, "/login")
        yield http


class Asker:
    """Sends one request as each person and keeps every answer that differs from the table."""

    def __init__(
        self, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, world: World
    ) -> None:
        self.client, self.anonymous, self.world = client, anonymous, world
        self.wrong: list[tuple[str, str, str, int, int]] = []

    async def ask(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if who == "anonymous":
            return await self.anonymous.request(method, path, **kwargs)
        headers = {**kwargs.pop("headers", {}), **auth(self.world.tokens[who])}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def check(self, method: str, path: str, expected: dict[str, int], **kwargs: Any) -> None:
        for who, status in expected.items():
            answer = await self.ask(who, method, path, **dict(kwargs))
            if answer.status_code != status:
                self.wrong.append((method, path, who, answer.status_code, status))
            elif status == 303 and who == "anonymous":
                assert answer.headers["location"].startswith("/login?next="), path

    def assert_all_as_expected(self) -> None:
        assert self.wrong == [], "\n".join(
            f"{m} {p} as {who}: got {got}, expected {want}" for m, p, who, got, want in self.wrong
        )


@pytest.fixture
async def world(client: httpx.AsyncClient, runtime: Runtime) -> World:
    return await build_world(client, runtime)


@pytest.fixture
def asker(client: httpx.AsyncClient, anonymous: httpx.AsyncClient, world: World) -> Asker:
    return Asker(client, anonymous, world)


async def test_reading_a_packet_its_evidence_and_its_task(world: World, asker: Asker) -> None:
    w = world
    reads = {
        # The JSON API.
        f"/api/v1/submissions/{w.submission}": table(
            404, anonymous=401, owner=200, coordinator=200
        ),
        f"/api/v1/submissions/{uuid.uuid4()}": table(404, anonymous=401),
        # Evidence: the owner, the claim holder, the issuer's coordinators; 404 even logged out.
        f"/api/v1/artifacts/{w.artifact}": table(404, owner=200, reviewer=200, coordinator=200),
        f"/api/v1/tasks/{w.task}": table(404, anonymous=401, reviewer=200),
        # Pages, and the JSON the packet page's script polls.
        f"/submissions/{w.submission}": table(404, anonymous=303, owner=200, coordinator=200),
        f"/submissions/{w.submission}/status.json": table(
            404, anonymous=401, owner=200, coordinator=200
        ),
        f"/review/tasks/{w.task}": table(404, anonymous=303, reviewer=200),
        f"/review/tasks/{w.task}/done": table(404, anonymous=303),  # not submitted yet
    }
    for path, expected in reads.items():
        await asker.check("GET", path, expected)
    asker.assert_all_as_expected()


async def test_a_reviewer_sees_only_the_evidence_of_a_live_claim(
    world: World, asker: Asker, client: httpx.AsyncClient
) -> None:
    artifact = f"/api/v1/artifacts/{world.artifact}"
    released = await client.post(
        f"/api/v1/tasks/{world.task}/release",
        json={"lease_version": world.lease_version},
        headers=auth(world.tokens["reviewer"]),
    )
    assert released.status_code == 200
    await asker.check("GET", artifact, table(404, owner=200, coordinator=200))
    await asker.check("GET", f"/api/v1/tasks/{world.task}", table(404, anonymous=401))
    asker.assert_all_as_expected()


async def test_nobody_but_the_owner_changes_a_packet(
    world: World, asker: Asker, runtime: Runtime
) -> None:
    w = world
    api = f"/api/v1/submissions/{w.submission}"
    page = f"/submissions/{w.submission}"
    # The owner is refused too, for the packet's state (it is with a reviewer): 409 or the
    # page again with the reason, never 404. Everyone else: as if it did not exist.
    api_refused = table(404, anonymous=401, owner=409)
    page_refused = table(404, anonymous=303, owner=409)
    for step in ("submit", "withdraw", "edit", "resubmit"):
        await asker.check("POST", f"{api}/{step}", api_refused)
        await asker.check("POST", f"{page}/{step}", page_refused)
    appeal = {"reason": "The evidence meets every criterion."}
    await asker.check("POST", f"{api}/appeal", api_refused, json=appeal)
    await asker.check("POST", f"{page}/appeal", page_refused, data=appeal)
    reflection = w.criteria["reflection"]
    await asker.check(
        "POST", f"{api}/artifacts/{reflection}", api_refused, json={"text": "Mine now."}
    )
    await asker.check(
        "POST", f"{page}/artifacts/{reflection}", page_refused, data={"text": "Mine now."}
    )
    upload = {"submission_id": w.submission, "criterion_id": w.criteria["document"], "size": 9}
    await asker.check("POST", "/uploads", table(404, anonymous=401, owner=409), json=upload)
    # Privacy: the owner may change it (to what it already is: nothing changes).
    await asker.check(
        "POST",
        f"{page}/privacy",
        table(404, anonymous=303, owner=303),
        data={"privacy": "reviewers"},
    )
    asker.assert_all_as_expected()
    async with runtime.sessions() as session:
        submission = await session.get(Submission, uuid.UUID(w.submission))
        assert submission is not None
        assert (submission.state, submission.privacy) == ("in_review", "reviewers")
        appeals = (await session.exec(select(Appeal))).all()
    assert len(appeals) == 1  # only the world's own


async def test_nobody_but_the_claim_holder_works_on_a_task(
    world: World, asker: Asker, runtime: Runtime
) -> None:
    w = world
    holder_only = {"lease_version": w.lease_version}
    review = {"lease_version": w.lease_version, "scores": [], "feedback": "Mine now."}
    moment = {
        "lease_version": w.lease_version,
        "artifact_id": w.artifact,
        "at_seconds": 65.0,
        "comment": "Mine now.",
    }
    others = tuple(who for who in WHO if who != "reviewer")
    api = f"/api/v1/tasks/{w.task}"
    page = f"/review/tasks/{w.task}"
    # Everything under the claim (extend, release, reviews, moments) is a task they never
    # held: 404, as if it did not exist (409 claim_gone is for the holder's own lost claim);
    # a claim finds it taken (409).
    expected_api = {
        ("POST", f"{api}/claim", None): 409,
        ("POST", f"{api}/extend", "json"): 404,
        ("POST", f"{api}/release", "json"): 404,
        ("PUT", f"{api}/review", "review"): 404,
        ("POST", f"{api}/review", "review"): 404,
        ("POST", f"{api}/moments", "moment"): 404,
        ("DELETE", f"{api}/moments/{uuid.uuid4()}", "json"): 404,
        ("POST", f"{page}/claim", None): 409,
        ("POST", f"{page}/extend", "form"): 404,
        ("POST", f"{page}/release", "form"): 404,
        ("POST", f"{page}/draft", "form"): 404,
        ("POST", f"{page}/submit", "form"): 404,
        ("POST", f"{page}/moments", "form"): 404,
        ("POST", f"{page}/moments/{uuid.uuid4()}/delete", "form"): 404,
    }
    bodies: dict[str | None, dict[str, Any]] = {
        None: {},
        "json": {"json": holder_only},
        "review": {"json": review},
        "moment": {"json": moment},
        "form": {
            "data": {
                "lease_version": str(w.lease_version),
                "feedback": "Mine now.",
                "artifact_id": w.artifact,
                "at": "1:05",
                "comment": "Mine now.",
            }
        },
    }
    for (method, path, body), status in expected_api.items():
        logged_out = 401 if path.startswith("/api/") else 303
        expected = dict.fromkeys(others, status) | {"anonymous": logged_out}
        await asker.check(method, path, expected, **bodies[body])
    asker.assert_all_as_expected()
    async with runtime.sessions() as session:
        task = await session.get(ReviewTask, uuid.UUID(w.task))
        assert task is not None
        assert task.state == TaskState.claimed and task.lease_version == w.lease_version
        assert not task.extended
    # Still the holder's, with no draft written by anyone else.
    own = await asker.ask("reviewer", "GET", f"/api/v1/tasks/{w.task}")
    assert own.status_code == 200 and own.json()["draft"]["feedback"] == ""


async def test_coordinators_reach_their_own_organisation_only(
    world: World, asker: Asker, runtime: Runtime
) -> None:
    w = world
    settings = f"/coordinate/credentials/{w.credential.id}"
    await asker.check(
        "GET", "/coordinate", table(404, anonymous=303, coordinator=200, foreign_coordinator=200)
    )
    await asker.check("GET", settings, table(404, anonymous=303, coordinator=200))
    await asker.check("GET", f"{settings}/queue.json", table(404, anonymous=401, coordinator=200))
    not_the_issuer = {who: 404 for who in LOGGED_IN if who != "coordinator"}
    await asker.check(
        "POST",
        settings,
        not_the_issuer | {"anonymous": 303},
        data={"stakes": "high", "status": "retired"},
    )
    rubric = {
        "min_level": 0,
        "criteria": [
            {"title": "New", "levels": [{"label": "a", "points": 0}, {"label": "b", "points": 1}]}
        ],
    }
    await asker.check(
        "PUT",
        f"/api/v1/credentials/{w.credential.id}/rubric",
        not_the_issuer | {"anonymous": 401},
        json=rubric,
    )
    ruling = {"overturn": True, "ruling": "Overturned by someone who may not."}
    await asker.check(
        "POST",
        f"/api/v1/appeals/{w.appeal}/ruling",
        not_the_issuer | {"anonymous": 401},
        json=ruling,
    )
    asker.assert_all_as_expected()
    async with runtime.sessions() as session:
        credential = await session.get(Credential, w.credential.id)
        assert credential is not None
        assert (credential.stakes, credential.status) == ("low", "published")
        rubrics = (
            await session.exec(select(Rubric).where(Rubric.credential_id == w.credential.id))
        ).all()
        appeal = await session.get(Appeal, uuid.UUID(w.appeal))
        assert appeal is not None
    assert len(rubrics) == 1 and appeal.state == AppealState.open
    # The issuer's coordinator may: the same ruling lands.
    ruled = await asker.ask(
        "coordinator", "POST", f"/api/v1/appeals/{w.appeal}/ruling", json=ruling
    )
    assert ruled.status_code == 200 and ruled.json()["state"] == "overturned"


async def test_badges_are_public_their_wallet_and_privacy_are_the_owners(
    world: World, asker: Asker, runtime: Runtime
) -> None:
    w = world
    for path in (f"/badges/{w.award}", f"/badges/{w.award}.json"):
        await asker.check("GET", path, table(200))
    await asker.check("GET", f"/badges/{uuid.uuid4()}", table(404))
    # Someone else's packet behind a badge: its privacy form is not theirs to use.
    await asker.check(
        "POST",
        f"/submissions/{w.passed}/privacy",
        table(404, anonymous=303, owner=303),
        data={"privacy": "reviewers", "return_to": "wallet"},
    )
    await asker.check("GET", "/wallet", table(200, anonymous=303))
    asker.assert_all_as_expected()
    for who in LOGGED_IN:
        wallet = (await asker.ask(who, "GET", "/wallet")).text
        assert (w.award in wallet) == (who == "owner"), who
    async with runtime.sessions() as session:
        submission = await session.get(Submission, uuid.UUID(w.passed))
    assert submission is not None and submission.privacy == "reviewers"


async def test_notifications_are_each_persons_own(
    world: World, asker: Asker, runtime: Runtime
) -> None:
    w = world
    mine, theirs = w.notes["owner"], w.notes["other_earner"]
    assert mine and theirs
    await asker.check("GET", "/api/v1/notifications", table(200, anonymous=401))
    await asker.check("GET", "/notifications", table(200, anonymous=303))
    asker.assert_all_as_expected()
    for who in LOGGED_IN:
        listed = (await asker.ask(who, "GET", "/api/v1/notifications?after=0")).json()
        assert sorted(n["id"] for n in listed["notifications"]) == sorted(w.notes.get(who, []))
        page = (await asker.ask(who, "GET", "/notifications")).text
        for other, ids in w.notes.items():
            for note_id in ids:
                shown = f'data-notification-id="{note_id}"' in page
                assert shown == (other == who), (who, other, note_id)
    # Marking "all up to the owner's newest" read as someone else marks only their own.
    marked = await asker.ask(
        "other_earner", "POST", "/notifications/read", data={"up_to": str(max(mine + theirs))}
    )
    assert marked.status_code == 303
    anonymous = await asker.ask("anonymous", "POST", "/notifications/read", data={"up_to": "0"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    async with runtime.sessions() as session:
        unread = (
            await session.exec(select(Notification.id).where(col(Notification.read_at).is_(None)))
        ).all()
    assert sorted(n or 0 for n in unread) == sorted(
        note for who, ids in w.notes.items() if who != "other_earner" for note in ids
    )
