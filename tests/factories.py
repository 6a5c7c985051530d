"""Test data built through the app's own actions (and one fast path for many reviewers)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlmodel import select

from app.actions import accounts, catalog
from app.actions.submissions import check_evidence, latest_version
from app.auth import hash_password, new_api_token
from app.models import (
    ApiToken,
    Credential,
    Membership,
    Organisation,
    ReviewTask,
    Role,
    TaskState,
    User,
)
from app.queue.keys import tasks_key
from app.runtime import Runtime
from app.specs import CredentialSpec, OrganisationSpec

LEVELS = [
    {"label": "Not yet", "points": 0},
    {"label": "Approaching", "points": 1},
    {"label": "Meets", "points": 2},
    {"label": "Exceeds", "points": 3},
]
_HASH = hash_password("factory-password-1")


def credential_spec(slug: str = "coaching", **overrides: Any) -> CredentialSpec:
    data: dict[str, Any] = {
        "slug": slug,
        "organisation": "ipa",
        "title": f"Credential {slug}",
        "status": "published",
        "stakes": "low",
        "competency": "c",
        "key_method": "k",
        "method_components": "m",
        "research_resources": "r",
        "submission_criteria": [
            {"title": "Reflection", "kind": "reflection", "required": True},
            {"title": "Lesson plan", "kind": "document", "required": False},
            {"title": "Classroom photo", "kind": "image", "required": False},
        ],
        "rubric": {
            "min_level": 2,
            "criteria": [
                {"title": "Plans", "levels": LEVELS},
                {"title": "Acts", "levels": LEVELS},
            ],
        },
    }
    data.update(overrides)
    return CredentialSpec.model_validate(data)


async def organisation(runtime: Runtime, slug: str = "ipa") -> Organisation:
    async with runtime.sessions() as session:
        return await catalog.ensure_organisation(
            session,
            OrganisationSpec(slug=slug, name=slug.upper()),
            secret_key=runtime.settings.secret_key,
        )


async def credential(runtime: Runtime, slug: str = "coaching", **overrides: Any) -> Credential:
    await organisation(runtime, overrides.get("organisation", "ipa"))
    async with runtime.sessions() as session:
        return await catalog.create_credential(session, credential_spec(slug, **overrides))


async def person(
    runtime: Runtime,
    label: str,
    roles: list[Role] | None = None,
    school: str | None = None,
    org: str = "ipa",
) -> User:
    async with runtime.sessions() as session:
        organisation = await catalog.organisation_by_slug(session, org)
        assert organisation is not None
        return await accounts.create_user(
            session,
            email=f"{label}@mcx.example",
            name=label.title(),
            password="factory-password-1",
            school=school,
            memberships=[(organisation, role) for role in roles or []],
        )


async def many_reviewers(runtime: Runtime, count: int, org: str = "ipa") -> list[tuple[User, str]]:
    """Reviewers with API tokens, inserted in bulk (hashing 300 passwords would be slow)."""
    async with runtime.sessions() as session:
        organisation = (
            await session.exec(select(Organisation).where(Organisation.slug == org))
        ).one()
        made = []
        for i in range(count):
            user = User(
                email=f"r{i}-{uuid.uuid4().hex[:6]}@mcx.example", name=f"R{i}", password_hash=_HASH
            )
            token, digest = new_api_token()
            session.add(user)
            made.append((user, token, digest))
        await session.flush()
        for user, _token, digest in made:
            session.add(
                Membership(user_id=user.id, organisation_id=organisation.id, role=Role.reviewer)
            )
            session.add(ApiToken(user_id=user.id, name="t", token_hash=digest, prefix=digest[:8]))
        await session.commit()
    return [(user, token) for user, token, _ in made]


async def token_for(runtime: Runtime, user: User) -> str:
    async with runtime.sessions() as session:
        _, token = await accounts.create_api_token(session, user, "tests")
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def submitted(
    client: httpx.AsyncClient,
    runtime: Runtime,
    earner_token: str,
    credential: Credential,
    *,
    privacy: str = "reviewers",
) -> str:
    """A submission with a reflection, submitted and through the evidence check: in review."""
    started = await client.post(
        "/api/v1/submissions",
        json={"credential_id": str(credential.id), "privacy": privacy},
        headers=auth(earner_token),
    )
    assert started.status_code == 201, started.text
    submission_id = started.json()["id"]
    detail = await client.get(f"/api/v1/credentials/{credential.id}")
    reflection = next(c for c in detail.json()["submission_criteria"] if c["kind"] == "reflection")
    attached = await client.post(
        f"/api/v1/submissions/{submission_id}/artifacts/{reflection['criterion_id']}",
        json={"text": "What I did, what happened, what I learned."},
        headers=auth(earner_token),
    )
    assert attached.status_code == 201, attached.text
    done = await client.post(
        f"/api/v1/submissions/{submission_id}/submit", headers=auth(earner_token)
    )
    assert done.status_code == 202, done.text
    version_id = await latest_version_id(runtime, submission_id)
    assert await check_evidence(runtime, version_id) == "in_review"
    await in_live_queue(runtime, version_id)
    return submission_id


async def in_live_queue(runtime: Runtime, version_id: uuid.UUID, wait: float = 10.0) -> None:
    """Until the version's open tasks are in Redis: when a running worker's check_evidence
    moved the packet first, ours returns at once, maybe before the worker announced them."""
    async with runtime.sessions() as session:
        task_ids = (
            await session.exec(
                select(ReviewTask.id)
                .where(ReviewTask.version_id == version_id)
                .where(ReviewTask.state == TaskState.open)
            )
        ).all()
    deadline = asyncio.get_running_loop().time() + wait
    for task_id in task_ids:
        while not await runtime.redis.hexists(tasks_key(runtime.settings), str(task_id)):
            assert asyncio.get_running_loop().time() < deadline, "the task never reached Redis"
            await asyncio.sleep(0.02)


async def latest_version_id(runtime: Runtime, submission_id: str) -> uuid.UUID:
    async with runtime.sessions() as session:
        return (await latest_version(session, uuid.UUID(submission_id))).id


async def scores_for(
    client: httpx.AsyncClient, token: str, task_id: str, level: int
) -> tuple[int, list[dict[str, str]]]:
    """The claim's lease_version and a score at `level` for every criterion."""
    task = (await client.get(f"/api/v1/tasks/{task_id}", headers=auth(token))).json()
    scores = [
        {
            "criterion_id": c["criterion_id"],
            "level_id": c["levels"][level]["level_id"],
            "comment": "ok",
        }
        for c in task["rubric"]["criteria"]
    ]
    return task["lease_version"], scores


async def quality_policy(
    runtime: Runtime, coordinator: User, credential: Credential, **values: Any
) -> None:
    """Set the credential's quality policy through the action (defaults for the rest)."""
    from app.actions import policy
    from app.models import QualityPolicy

    defaults = QualityPolicy(credential_id=credential.id)
    form: dict[str, str] = {}
    for name in [*policy.INTEGERS, *policy.FLAGS, "reviewer_pd_hours"]:
        value = values.get(name, getattr(defaults, name))
        if isinstance(value, bool):
            if value:
                form[name] = "on"
        else:
            form[name] = "" if value is None else str(value)
    await policy.set_policy(runtime, coordinator, credential.id, form)


async def calibration_example(
    runtime: Runtime,
    coordinator: User,
    credential: Credential,
    levels: list[int],
    title: str = "Example",
) -> Any:
    """A calibration example whose expert reference is `levels` (positions, per criterion)."""
    from app.actions import calibration
    from app.actions.submissions import latest_rubric
    from app.models import RubricCriterion, RubricLevel

    async with runtime.sessions() as session:
        rubric = await latest_rubric(session, credential.id)
        assert rubric is not None
        criteria = (
            await session.exec(
                select(RubricCriterion)
                .where(RubricCriterion.rubric_id == rubric.id)
                .order_by(RubricCriterion.position)  # type: ignore[arg-type]
            )
        ).all()
        refs = []
        for criterion, position in zip(criteria, levels, strict=True):
            level = (
                await session.exec(
                    select(RubricLevel)
                    .where(RubricLevel.criterion_id == criterion.id)
                    .where(RubricLevel.position == position)
                )
            ).one()
            refs.append(
                calibration.Reference(
                    criterion.id, level.id, f"{criterion.title} is {level.label}."
                )
            )
    return await calibration.add_example(
        runtime, coordinator, credential.id, title, "A sample reflection on coaching.", refs
    )


async def issuer(runtime: Runtime, slug: str = "ipa") -> Organisation:
    """An organisation with the contact details an Open Badges issuer profile carries."""
    async with runtime.sessions() as session:
        return await catalog.ensure_organisation(
            session,
            OrganisationSpec(
                slug=slug,
                name=f"{slug.upper()} Association",
                url=f"https://{slug}.example",
                email=f"badges@{slug}.example",
            ),
            secret_key=runtime.settings.secret_key,
        )


async def award(runtime: Runtime, earner: User, credential: Credential, **fields: Any) -> uuid.UUID:
    """An award issued through the awards action (as bulk issue does), committed."""
    from app.actions.awards import issue_award

    async with runtime.sessions() as session:
        made = await issue_award(session, earner=earner, credential=credential, **fields)
        await session.commit()
        return made.id


async def stack(runtime: Runtime, slug: str, credentials: list[str], org: str = "ipa") -> Any:
    """A stack of the given credential slugs, in that order."""
    from app.specs import StackSpec

    async with runtime.sessions() as session:
        made = await catalog.create_stack(
            session,
            StackSpec(slug=slug, organisation=org, title=f"Stack {slug}", credentials=credentials),
        )
        await session.commit()
        return made
