"""Study groups (issue 10): invite links and coordinators' cohorts, drafts shared in the group
with comments per artifact that reach the owner (stored and pushed), progress, and group
feedback that never counts as a review."""

from __future__ import annotations

import html
import re
import uuid

import httpx
from sqlmodel import func, select
from starlette.applications import Starlette

from app.actions import catalog
from app.actions.submissions import check_evidence
from app.models import GroupComment, Notification, Review, Role, StudyGroup
from app.runtime import Runtime
from app.specs import StackSpec
from tests import factories as f
from tests.factories import auth, latest_version_id
from tests.journey import browser, criteria, decide, put_draft, reviewers, sign_in, start


async def _group(client: httpx.AsyncClient, token: str, credential_id: object) -> tuple[str, str]:
    """A group made through the page; (its id, its invite path)."""
    made = await client.post(
        "/groups",
        data={"csrf_token": token, "name": "Tuesday PLC", "target": f"credential:{credential_id}"},
    )
    assert made.status_code == 303, made.text
    group_id = made.headers["location"].rsplit("/", 1)[1]
    page = await client.get(f"/groups/{group_id}")
    invite = re.search(r'value="http://[^"]+(/groups/join/[^"]+)"', page.text)
    assert invite
    return group_id, invite.group(1)


async def test_a_member_comments_on_a_draft_and_the_owner_is_told(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    for label in ("ada", "ben", "cat"):
        await f.person(runtime, label)
    ada = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, ada, credential)
    ids = await criteria(runtime, credential)
    await put_draft(client, ada, submission_id, ids["Reflection"], text="My first try at this.")
    group_id, invite = await _group(client, ada, credential.id)

    async with browser(app, 1) as ben_browser, browser(app, 2) as cat_browser:
        ben = await sign_in(ben_browser, "ben@mcx.example")
        # Not a member yet: the group and the draft look like they do not exist.
        assert (await ben_browser.get(f"/groups/{group_id}")).status_code == 404
        draft_path = f"/groups/{group_id}/drafts/{submission_id}"
        assert (await ben_browser.get(draft_path)).status_code == 404
        assert (await ben_browser.get(invite)).status_code == 200
        joined = await ben_browser.post(invite, data={"csrf_token": ben})
        assert joined.status_code == 303
        assert (await ben_browser.post(invite, data={"csrf_token": ben})).status_code == 303

        group_page = await ben_browser.get(f"/groups/{group_id}")
        assert "Ada" in group_page.text and "Ben" in group_page.text
        assert "draft" in group_page.text and "not started" in group_page.text
        draft = await ben_browser.get(draft_path)
        assert draft.status_code == 200 and "My first try at this." in draft.text
        commented = await ben_browser.post(
            f"{draft_path}/comments/{ids['Reflection']}",
            data={"csrf_token": ben, "body": "Say what the students did <next>."},
        )
        assert commented.status_code == 303
        empty = await ben_browser.post(
            f"{draft_path}/comments/{ids['Reflection']}", data={"csrf_token": ben, "body": " "}
        )
        assert empty.status_code == 422

        # Cat never joined: cannot read or comment.
        cat = await sign_in(cat_browser, "cat@mcx.example")
        assert (await cat_browser.get(draft_path)).status_code == 404
        sneaked = await cat_browser.post(
            f"{draft_path}/comments/{ids['Reflection']}", data={"csrf_token": cat, "body": "hi"}
        )
        assert sneaked.status_code == 404

    page = await client.get(f"/submissions/{submission_id}")
    assert "Say what the students did &lt;next&gt;." in page.text
    async with runtime.sessions() as session:
        told = (
            await session.exec(select(Notification).where(Notification.kind == "group.comment"))
        ).all()
        comments = (await session.exec(select(func.count()).select_from(GroupComment))).one()
        reviews = (await session.exec(select(func.count()).select_from(Review))).one()
    assert len(told) == 1 and told[0].payload["body"] == "Say what the students did <next>."
    assert told[0].payload["author"] == "Ben"
    assert comments == 1
    assert reviews == 0  # group feedback is never a review


async def test_group_feedback_never_reaches_reviewers_or_the_outcome(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.person(runtime, "ada")
    await f.person(runtime, "ben")
    ada = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, ada, credential)
    ids = await criteria(runtime, credential)
    await put_draft(client, ada, submission_id, ids["Reflection"], text="Evidence of my work.")
    group_id, invite = await _group(client, ada, credential.id)
    async with browser(app) as ben_browser:
        ben = await sign_in(ben_browser, "ben@mcx.example")
        await ben_browser.post(invite, data={"csrf_token": ben})
        await ben_browser.post(
            f"/groups/{group_id}/drafts/{submission_id}/comments/{ids['Reflection']}",
            data={"csrf_token": ben, "body": "Looks like it meets the rubric to me!"},
        )
    submitted = await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": ada})
    assert submitted.status_code == 303
    await check_evidence(runtime, await latest_version_id(runtime, submission_id))
    peers = await reviewers(runtime, 2)
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(peers[0]))
    task = await client.get(f"/api/v1/tasks/{claim.json()['task_id']}", headers=auth(peers[0]))
    assert "Looks like it meets the rubric" not in task.text
    await client.post(
        f"/api/v1/tasks/{claim.json()['task_id']}/release",
        json={"lease_version": claim.json()["lease_version"]},
        headers=auth(peers[0]),
    )
    third = await f.token_for(runtime, await f.person(runtime, "p9", [Role.reviewer]))
    await decide(client, [third, peers[1]], 0)
    page = await client.get(f"/submissions/{submission_id}")
    assert "Not yet" in page.text  # the two reviews decided; the comment counted for nothing


async def test_a_coordinator_makes_a_cohort_of_named_earners(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.person(runtime, "coord", [Role.coordinator])
    await f.person(runtime, "ada")
    await f.person(runtime, "ben")
    await f.person(runtime, "solo")
    token = await sign_in(client, "coord@mcx.example")
    target = f"credential:{credential.id}"
    unknown = await client.post(
        "/cohorts",
        data={
            "csrf_token": token,
            "name": "Spring cohort",
            "target": target,
            "emails": "ada@mcx.example\nnobody@mcx.example",
        },
    )
    assert unknown.status_code == 422 and "nobody@mcx.example" in html.unescape(unknown.text)
    made = await client.post(
        "/cohorts",
        data={
            "csrf_token": token,
            "name": "Spring cohort",
            "target": target,
            "emails": "ADA@mcx.example, ben@mcx.example",
        },
    )
    assert made.status_code == 303
    cohort = await client.get(made.headers["location"])
    assert cohort.status_code == 200 and "Ada" in cohort.text and "Ben" in cohort.text
    async with runtime.sessions() as session:
        groups = (await session.exec(select(StudyGroup))).all()
    assert len(groups) == 1 and groups[0].cohort_organisation_id is not None

    async with browser(app) as solo:
        solo_token = await sign_in(solo, "solo@mcx.example")
        assert (await solo.get("/cohorts/new")).status_code == 404
        refused = await solo.post(
            "/cohorts",
            data={"csrf_token": solo_token, "name": "Mine", "target": target, "emails": ""},
        )
        assert refused.status_code == 404
        assert (await solo.get(made.headers["location"])).status_code == 404
    async with runtime.sessions() as session:
        assert len((await session.exec(select(StudyGroup))).all()) == 1


async def test_the_owner_reads_the_comment_in_notifications(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.person(runtime, "ada")
    await f.person(runtime, "ben")
    ada = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, ada, credential)
    ids = await criteria(runtime, credential)
    group_id, invite = await _group(client, ada, credential.id)
    async with browser(app) as ben_browser:
        ben = await sign_in(ben_browser, "ben@mcx.example")
        await ben_browser.post(invite, data={"csrf_token": ben})
        await ben_browser.post(
            f"/groups/{group_id}/drafts/{submission_id}/comments/{ids['Reflection']}",
            data={"csrf_token": ben, "body": "Nice start."},
        )
    page = await client.get("/notifications")
    assert "Ben commented on your draft in Tuesday PLC." in page.text
    assert f'href="/submissions/{submission_id}"' in page.text


async def test_a_stack_group_shares_every_credential_of_the_stack_and_leaving_ends_it(
    client: httpx.AsyncClient, app: Starlette, runtime: Runtime
) -> None:
    one = await f.credential(runtime, "one")
    await f.credential(runtime, "two")
    outside = await f.credential(runtime, "outside")
    async with runtime.sessions() as session:
        stack = await catalog.create_stack(
            session,
            StackSpec(slug="tl", organisation="ipa", title="TL", credentials=["one", "two"]),
        )
    await f.person(runtime, "ada")
    await f.person(runtime, "ben")
    ada = await sign_in(client, "ada@mcx.example")
    in_stack = await start(client, ada, one)
    not_shared = await start(client, ada, outside)
    made = await client.post(
        "/groups", data={"csrf_token": ada, "name": "TL circle", "target": f"stack:{stack.id}"}
    )
    group_id = made.headers["location"].rsplit("/", 1)[1]
    async with runtime.sessions() as session:
        group = await session.get(StudyGroup, uuid.UUID(group_id))
    assert group is not None
    code = group.invite_code
    async with browser(app) as ben_browser:
        ben = await sign_in(ben_browser, "ben@mcx.example")
        assert (await ben_browser.get("/groups/join/no-such-code")).status_code == 404
        await ben_browser.post(f"/groups/join/{code}", data={"csrf_token": ben})
        progress = await ben_browser.get(f"/groups/{group_id}")
        assert "Credential one" in progress.text and "Credential two" in progress.text
        assert "Credential outside" not in progress.text
        assert (await ben_browser.get(f"/groups/{group_id}/drafts/{in_stack}")).status_code == 200
        assert (await ben_browser.get(f"/groups/{group_id}/drafts/{not_shared}")).status_code == 404
        left = await ben_browser.post(f"/groups/{group_id}/leave", data={"csrf_token": ben})
        assert left.status_code == 303
        assert (await ben_browser.get(f"/groups/{group_id}/drafts/{in_stack}")).status_code == 404
