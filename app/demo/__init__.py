"""`mcx demo`: load the demo catalogue and people, idempotently (a second run adds nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.actions import accounts, catalog
from app.badges import keys
from app.demo import content, quality
from app.demo.calibration import load_calibration
from app.models import Credential, Membership, Role, Stack, User
from app.runtime import Runtime
from app.specs import CredentialSpec, OrganisationSpec, StackSpec


@dataclass
class DemoReport:
    created: dict[str, int]
    logins: list[tuple[str, str, str]]  # email, password, roles


async def _ensure_memberships(
    session: AsyncSession, user: User, roles: dict[str, list[str]]
) -> int:
    added = 0
    for org_slug, role_names in roles.items():
        organisation = await catalog.organisation_by_slug(session, org_slug)
        assert organisation is not None, f"demo user names unknown organisation {org_slug}"
        for role_name in role_names:
            role = Role(role_name)
            exists = await session.exec(
                select(Membership.id)
                .where(Membership.user_id == user.id)
                .where(Membership.organisation_id == organisation.id)
                .where(Membership.role == role)
            )
            if exists.first() is None:
                session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
                added += 1
    await session.commit()
    return added


async def load_demo(runtime: Runtime) -> DemoReport:
    """Load what is missing: the catalogue, the people (every organisation, demo or older,
    leaves with published keys), then the review-quality set-up (app.demo.calibration)."""
    secret_key = runtime.settings.secret_key
    created = {
        "organisations": 0,
        "credentials": 0,
        "stacks": 0,
        "users": 0,
        "memberships": 0,
        "signing keys": 0,
    }
    async with runtime.sessions() as session:
        for raw in content.ORGANISATIONS:
            spec = OrganisationSpec.model_validate(raw)
            if await catalog.organisation_by_slug(session, spec.slug) is None:
                await catalog.ensure_organisation(session, spec, secret_key=secret_key)
                created["organisations"] += 1
        created["signing keys"] = await keys.publish_missing(session, secret_key)
        for raw in content.CREDENTIALS:
            credential_spec = CredentialSpec.model_validate(raw)
            exists = await session.exec(
                select(Credential.id).where(Credential.slug == credential_spec.slug)
            )
            if exists.first() is None:
                await catalog.create_credential(session, credential_spec)
                created["credentials"] += 1
        for raw in content.STACKS:
            stack_spec = StackSpec.model_validate(raw)
            exists = await session.exec(select(Stack.id).where(Stack.slug == stack_spec.slug))
            if exists.first() is None:
                await catalog.create_stack(session, stack_spec)
                created["stacks"] += 1
        logins = []
        for raw_user in content.USERS:
            email = raw_user["email"]
            user = (
                await session.exec(select(User).where(func.lower(User.email) == email.lower()))
            ).first()
            if user is None:
                user = await accounts.create_user(
                    session,
                    email=email,
                    name=raw_user["name"],
                    password=raw_user["password"],
                    school=raw_user.get("school"),
                )
                created["users"] += 1
            created["memberships"] += await _ensure_memberships(session, user, raw_user["roles"])
            roles = ", ".join(
                f"{role} ({org})" for org, names in raw_user["roles"].items() for role in names
            )
            logins.append((email, raw_user["password"], roles))
        await quality.load(session)
    coordinators = {
        org: raw["email"]
        for raw in content.USERS
        for org, names in raw["roles"].items()
        if "coordinator" in names
    }
    created.update(await load_calibration(runtime, coordinators))
    return DemoReport(created=created, logins=logins)
