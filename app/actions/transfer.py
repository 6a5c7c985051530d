"""Catalogue import and export: credentials (and stacks) as JSON in the shape of app.specs.

Export writes each credential as its CredentialSpec, so export → import → export gives the
same document. Import validates the whole document first (shapes, then the organisation,
slugs and stack members against the database) and reports every error with its path; with
any error nothing is written. The Open Badges 3.0 `Achievement` shape is offered for export,
where it fits (it has no rubric or review policy, so it cannot be imported losslessly).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import access
from app.actions import catalog
from app.actions.submissions import latest_rubric
from app.errors import ActionError
from app.models import (
    Alignment,
    AuditEntry,
    Credential,
    Organisation,
    RubricCriterion,
    RubricLevel,
    Stack,
    StackItem,
    User,
)
from app.specs import CredentialSpec, StackSpec, error_sentence

FORMAT = "mcx-catalogue/1"
MAX_ITEMS = 500


class CatalogueSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Annotated[str, Field(pattern=f"^{FORMAT}$")]
    credentials: Annotated[list[CredentialSpec], Field(max_length=MAX_ITEMS)] = []
    stacks: Annotated[list[StackSpec], Field(max_length=MAX_ITEMS)] = []


class InvalidCatalogue(ActionError):
    """Every problem in an import, each as {"path": "credentials.2.rubric...", "message": ...}."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(
            "invalid_catalogue",
            f"The catalogue has {len(errors)} error(s); nothing was imported.",
            422,
        )
        self.errors = errors


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(document)"


async def spec_of(session: AsyncSession, credential: Credential) -> CredentialSpec:
    """The credential as its spec: everything authoring sets, the latest rubric version."""
    organisation = await session.get(Organisation, credential.organisation_id)
    assert organisation is not None
    alignments = (
        await session.exec(
            select(Alignment)
            .where(Alignment.credential_id == credential.id)
            .order_by(col(Alignment.framework), col(Alignment.code), col(Alignment.id))
        )
    ).all()
    criteria = await catalog.criteria_of(session, credential.id)
    rubric = await latest_rubric(session, credential.id)
    rubric_data: dict[str, Any] | None = None
    if rubric is not None:
        rubric_criteria = (
            await session.exec(
                select(RubricCriterion)
                .where(RubricCriterion.rubric_id == rubric.id)
                .order_by(col(RubricCriterion.position))
            )
        ).all()
        rubric_data = {
            "min_level": rubric.min_level,
            "min_points": rubric.min_points,
            "criteria": [],
        }
        for criterion in rubric_criteria:
            levels = (
                await session.exec(
                    select(RubricLevel)
                    .where(RubricLevel.criterion_id == criterion.id)
                    .order_by(col(RubricLevel.position))
                )
            ).all()
            rubric_data["criteria"].append(
                {
                    "title": criterion.title,
                    "description": criterion.description,
                    "levels": [
                        {"label": lv.label, "points": lv.points, "descriptor": lv.descriptor}
                        for lv in levels
                    ],
                }
            )
    data: dict[str, Any] = {
        "slug": credential.slug,
        "organisation": organisation.slug,
        "title": credential.title,
        "summary": credential.summary,
        "topic": credential.topic,
        "status": credential.status,
        "pilot_spots": credential.pilot_spots,
        "stakes": credential.stakes,
        "pd_hours": credential.pd_hours,
        "validity_months": credential.validity_months,
        "peer_reviews": credential.peer_reviews,
        "expert_reviews": credential.expert_reviews,
        "lease_minutes": credential.lease_minutes,
        "blind_review": credential.blind_review,
        "exclude_same_school": credential.exclude_same_school,
        "target_hours": credential.target_hours,
        "competency": credential.competency,
        "key_method": credential.key_method,
        "method_components": credential.method_components,
        "research_resources": credential.research_resources,
        "alignments": [
            {"framework": a.framework, "code": a.code, "title": a.title, "url": a.url}
            for a in alignments
        ],
        "submission_criteria": [
            {
                "title": c.title,
                "description": c.description,
                "kind": c.kind,
                "required": c.required,
                "accepted_types": list(c.accepted_types),
                "max_bytes": c.max_bytes,
                "min_words": c.min_words,
                "max_words": c.max_words,
            }
            for c in criteria
        ],
        "rubric": rubric_data,
    }
    # Stored rows were validated on the way in; model_construct would skip the rounding.
    return CredentialSpec.model_validate(data)


async def _coordinated_org(session: AsyncSession, user: User, slug: str) -> Organisation:
    organisation = await catalog.organisation_by_slug(session, slug)
    if organisation is None or not await access.is_coordinator_of(session, user, organisation.id):
        raise ActionError("not_found", "That organisation was not found.", 404)
    return organisation


async def export_catalogue(
    session: AsyncSession, user: User, organisation_slug: str
) -> dict[str, Any]:
    """Every credential and stack of an organisation this person coordinates (else 404)."""
    organisation = await _coordinated_org(session, user, organisation_slug)
    credentials = (
        await session.exec(
            select(Credential)
            .where(Credential.organisation_id == organisation.id)
            .order_by(col(Credential.slug))
        )
    ).all()
    stacks = (
        await session.exec(
            select(Stack).where(Stack.organisation_id == organisation.id).order_by(col(Stack.slug))
        )
    ).all()
    stack_data = []
    for stack in stacks:
        members = (
            await session.exec(
                select(Credential.slug)
                .join(StackItem, col(StackItem.credential_id) == col(Credential.id))
                .where(StackItem.stack_id == stack.id)
                .order_by(col(StackItem.position))
            )
        ).all()
        stack_data.append(
            StackSpec(
                slug=stack.slug,
                organisation=organisation.slug,
                title=stack.title,
                description=stack.description,
                credentials=list(members),
            ).model_dump(mode="json")
        )
    return {
        "format": FORMAT,
        "credentials": [
            (await spec_of(session, credential)).model_dump(mode="json")
            for credential in credentials
        ],
        "stacks": stack_data,
    }


def achievement_of(spec: CredentialSpec, base_url: str) -> dict[str, Any]:
    """The Open Badges 3.0 Achievement for a credential (the parts OB can carry)."""
    narrative = "\n\n".join(
        part
        for part in (
            spec.competency,
            "Submit: " + "; ".join(c.title for c in spec.submission_criteria if c.required)
            if spec.submission_criteria
            else "",
        )
        if part
    )
    achievement: dict[str, Any] = {
        "id": f"{base_url}/credentials/{spec.organisation}/{spec.slug}",
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": spec.title,
        "description": spec.summary or spec.competency,
        "criteria": {"narrative": narrative},
        "tag": [spec.topic] if spec.topic else [],
        "alignment": [
            {
                "type": ["Alignment"],
                "targetName": a.title or a.code,
                "targetCode": a.code,
                "targetFramework": a.framework,
                **({"targetUrl": a.url} if a.url else {}),
            }
            for a in spec.alignments
        ],
    }
    if spec.pd_hours > Decimal(0):
        achievement["creditsAvailable"] = float(spec.pd_hours)
    return achievement


async def _database_errors(
    session: AsyncSession, user: User, catalogue: CatalogueSpec
) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    allowed: dict[str, uuid.UUID | None] = {}
    for slug in {c.organisation for c in catalogue.credentials} | {
        s.organisation for s in catalogue.stacks
    }:
        organisation = await catalog.organisation_by_slug(session, slug)
        ok = organisation is not None and await access.is_coordinator_of(
            session, user, organisation.id
        )
        allowed[slug] = organisation.id if organisation is not None and ok else None
    seen: set[tuple[str, str]] = set()
    for i, spec in enumerate(catalogue.credentials):
        org_id = allowed[spec.organisation]
        if org_id is None:
            errors.append(
                {
                    "path": f"credentials.{i}.organisation",
                    "message": f"you do not coordinate an organisation '{spec.organisation}'",
                }
            )
            continue
        if (spec.organisation, spec.slug) in seen:
            errors.append(
                {"path": f"credentials.{i}.slug", "message": f"'{spec.slug}' appears twice"}
            )
        seen.add((spec.organisation, spec.slug))
        taken = await session.exec(
            select(Credential.id)
            .where(Credential.organisation_id == org_id)
            .where(Credential.slug == spec.slug)
        )
        if taken.first() is not None:
            errors.append(
                {
                    "path": f"credentials.{i}.slug",
                    "message": f"a credential '{spec.slug}' already exists",
                }
            )
    stack_seen: set[tuple[str, str]] = set()
    for i, stack in enumerate(catalogue.stacks):
        org_id = allowed[stack.organisation]
        if org_id is None:
            errors.append(
                {
                    "path": f"stacks.{i}.organisation",
                    "message": f"you do not coordinate an organisation '{stack.organisation}'",
                }
            )
            continue
        if (stack.organisation, stack.slug) in stack_seen:
            errors.append({"path": f"stacks.{i}.slug", "message": f"'{stack.slug}' appears twice"})
        stack_seen.add((stack.organisation, stack.slug))
        taken = await session.exec(
            select(Stack.id).where(Stack.organisation_id == org_id).where(Stack.slug == stack.slug)
        )
        if taken.first() is not None:
            errors.append(
                {"path": f"stacks.{i}.slug", "message": f"a stack '{stack.slug}' already exists"}
            )
        for j, member in enumerate(stack.credentials):
            if (stack.organisation, member) in seen:
                continue
            exists = await session.exec(
                select(Credential.id)
                .where(Credential.organisation_id == org_id)
                .where(Credential.slug == member)
            )
            if exists.first() is None:
                errors.append(
                    {
                        "path": f"stacks.{i}.credentials.{j}",
                        "message": f"no credential '{member}' in this catalogue or in MCX",
                    }
                )
    return errors


def _sentence(error: Any) -> str:
    """A pydantic error in words about the field it names (shown next to its path)."""
    names = [str(part) for part in error["loc"] if not isinstance(part, int)]
    return error_sentence(names[-1] if names else "", error)


def parse_catalogue(data: Any) -> CatalogueSpec:
    """The document as a CatalogueSpec, or InvalidCatalogue listing every shape error."""
    try:
        return CatalogueSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidCatalogue(
            [{"path": _path(e["loc"]), "message": _sentence(e)} for e in exc.errors()]
        ) from None


async def import_catalogue(session: AsyncSession, user: User, data: Any) -> dict[str, int]:
    """Validate everything, then write everything in one transaction (or nothing)."""
    catalogue = parse_catalogue(data)
    errors = await _database_errors(session, user, catalogue)
    if errors:
        raise InvalidCatalogue(errors)
    for spec in catalogue.credentials:
        await catalog.create_credential(session, spec, actor=user, commit=False)
    for stack in catalogue.stacks:
        await catalog.create_stack(session, stack, actor=user, commit=False)
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="catalogue.imported",
            subject_type="user",
            subject_id=str(user.id),
            data={
                "credentials": [c.slug for c in catalogue.credentials],
                "stacks": [s.slug for s in catalogue.stacks],
            },
        )
    )
    await session.commit()
    return {"credentials": len(catalogue.credentials), "stacks": len(catalogue.stacks)}
