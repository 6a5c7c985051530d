"""Credential review panels, the read side: the quality rubric MCX ships (written from the six
components issuers publish), a credential's design fingerprint, a panel's results with its
agreement (Krippendorff's alpha, app/agreement.py), and the panel-certified mark, which lasts
while the credential's rubric and submission criteria stay as the panel saw them and the
quality rubric keeps its version. Writes live in app/actions/panels.py."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import agreement
from app.models import (
    CredentialPanel,
    Organisation,
    PanelMember,
    PanelScore,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriterion,
    User,
)

QUALITY_RUBRIC_VERSION = 1
LEVELS = ("Not yet", "Approaching", "Meets", "Exceeds")
PASS_LEVEL = 2  # every component's median at "Meets" or above


@dataclass(frozen=True)
class Component:
    key: str
    title: str
    question: str
    descriptors: tuple[str, str, str, str]  # what each of LEVELS looks like


QUALITY_RUBRIC: tuple[Component, ...] = (
    Component(
        "competency",
        "A clear competency",
        "Does the competency name one discrete skill an educator can demonstrate?",
        (
            "Vague, or several skills at once.",
            "One skill, but in terms too broad to observe.",
            "One discrete, demonstrable skill, stated plainly.",
            "One skill, with the situations where it matters and who benefits.",
        ),
    ),
    Component(
        "key_method",
        "A research-backed key method",
        "Is the key method a specific practice with research behind it?",
        (
            "No method, or a method without support.",
            "A method named, its support thin or indirect.",
            "A specific method supported by the cited research.",
            "A method with strong, current research and the conditions where it works.",
        ),
    ),
    Component(
        "method_components",
        "Method components",
        "Do the components break the method into steps an earner can follow?",
        (
            "Missing or a restatement of the method.",
            "Some steps, with gaps or no order.",
            "Ordered steps that together make up the method.",
            "Ordered steps with what each looks like done well.",
        ),
    ),
    Component(
        "research_resources",
        "Research and resources",
        "Are the sources cited, current and useful to an earner?",
        (
            "None given.",
            "Few, dated or hard to reach.",
            "Cited, current and reachable sources backing the method.",
            "Sources plus practical resources (examples, tools) for earners.",
        ),
    ),
    Component(
        "submission_criteria",
        "Submission criteria producing observable evidence",
        "Do the required artifacts show the skill in practice, observably?",
        (
            "Artifacts do not show the skill.",
            "Artifacts show knowledge about the skill more than its practice.",
            "Artifacts show the skill practised, in a form a reviewer can observe.",
            "Artifacts show practice and its effect on students or colleagues.",
        ),
    ),
    Component(
        "rubric",
        "A rubric that discriminates",
        "Do the rubric's levels separate work that meets the bar from work that does not?",
        (
            "No rubric, or levels that say the same thing.",
            "Levels differ in degree words only (some, most, all).",
            "Levels describe observably different work; the pass line is clear.",
            "As meets, with descriptors that point the earner to the next step.",
        ),
    ),
)
COMPONENT_KEYS = tuple(c.key for c in QUALITY_RUBRIC)


def quality_rubric_json() -> dict[str, Any]:
    return {
        "version": QUALITY_RUBRIC_VERSION,
        "levels": list(LEVELS),
        "passing": f"every component's median level at “{LEVELS[PASS_LEVEL]}” or above",
        "components": [
            {
                "key": c.key,
                "title": c.title,
                "question": c.question,
                "descriptors": list(c.descriptors),
            }
            for c in QUALITY_RUBRIC
        ],
    }


async def fingerprints(
    session: AsyncSession, credential_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """sha256 of what a panel judged and what must not change under the mark, per credential:
    the current rubric (its version, criteria and levels) and the submission criteria. Four
    queries for any number of credentials (none for none)."""
    if not credential_ids:
        return {}
    rubrics: dict[uuid.UUID, Rubric] = {}
    for rubric in (
        await session.exec(
            select(Rubric)
            .where(col(Rubric.credential_id).in_(credential_ids))
            .order_by(col(Rubric.credential_id), col(Rubric.version).desc())
        )
    ).all():
        rubrics.setdefault(rubric.credential_id, rubric)
    criteria = (
        await session.exec(
            select(RubricCriterion)
            .where(col(RubricCriterion.rubric_id).in_([r.id for r in rubrics.values()]))
            .order_by(col(RubricCriterion.position))
        )
    ).all()
    levels = (
        await session.exec(
            select(RubricLevel)
            .where(col(RubricLevel.criterion_id).in_([c.id for c in criteria]))
            .order_by(col(RubricLevel.position))
        )
    ).all()
    wanted = (
        await session.exec(
            select(SubmissionCriterion)
            .where(col(SubmissionCriterion.credential_id).in_(credential_ids))
            .order_by(col(SubmissionCriterion.position))
        )
    ).all()
    found = {}
    for credential_id in credential_ids:
        latest = rubrics.get(credential_id)
        shape = {
            "rubric": None
            if latest is None
            else {
                "version": latest.version,
                "min_level": latest.min_level,
                "min_points": latest.min_points,
                "criteria": [
                    [
                        c.title,
                        c.description,
                        [
                            [lv.label, lv.points, lv.descriptor]
                            for lv in levels
                            if lv.criterion_id == c.id
                        ],
                    ]
                    for c in criteria
                    if c.rubric_id == latest.id
                ],
            },
            "submission_criteria": [
                [c.title, c.description, c.kind, c.required, c.min_words]
                for c in wanted
                if c.credential_id == credential_id
            ],
        }
        found[credential_id] = hashlib.sha256(
            json.dumps(shape, sort_keys=True).encode()
        ).hexdigest()
    return found


async def fingerprint(session: AsyncSession, credential_id: uuid.UUID) -> str:
    return (await fingerprints(session, [credential_id]))[credential_id]


@dataclass
class Results:
    """A panel's scores: per component the levels given, their median, and alpha."""

    levels: dict[str, list[int]]
    medians: dict[str, int]
    alpha: float | None
    scored: int  # panellists who submitted


def results(scores: list[PanelScore], submitted: set[uuid.UUID]) -> Results:
    """Only submitted panellists' scores count (drafts stay private to their author)."""
    levels: dict[str, list[int]] = {k: [] for k in COMPONENT_KEYS}
    for score in scores:
        if score.user_id in submitted and score.component in levels:
            levels[score.component].append(score.level)
    medians = {k: agreement.median_level(v) for k, v in levels.items() if v}
    # Units are the six components; each panellist is one coder, levels are ordinal.
    alpha = agreement.alpha(list(levels.values()), level="ordinal")
    return Results(levels, medians, alpha, len(submitted))


def passes(result: Results) -> bool:
    return len(result.medians) == len(COMPONENT_KEYS) and all(
        m >= PASS_LEVEL for m in result.medians.values()
    )


@dataclass(frozen=True)
class Mark:
    """The panel-certified mark of a credential, current or expired."""

    panel_id: uuid.UUID
    panel: str
    organisation: str
    certified_at: datetime
    rubric_version: int
    current: bool
    reason: str  # why it expired ("" while current)

    def as_json(self) -> dict[str, Any]:
        return {
            "panel_id": str(self.panel_id),
            "panel": self.panel,
            "organisation": self.organisation,
            "certified_at": self.certified_at.isoformat(),
            "quality_rubric_version": self.rubric_version,
            "current": self.current,
            "expired_because": self.reason or None,
        }


async def marks(session: AsyncSession, credential_ids: list[uuid.UUID]) -> dict[uuid.UUID, Mark]:
    """Each credential's latest passing panel's mark (credentials never certified are left
    out); a mark is expired when the rubric or criteria changed since, or the quality
    rubric has a new version. A fixed number of queries for any number of credentials."""
    rows = (
        await session.exec(
            select(CredentialPanel, Organisation.name)
            .join(Organisation, col(Organisation.id) == col(CredentialPanel.organisation_id))
            .where(col(CredentialPanel.credential_id).in_(credential_ids))
            .where(col(CredentialPanel.passed).is_(True))
            .order_by(col(CredentialPanel.decided_at).desc())
        )
    ).all()
    latest: dict[uuid.UUID, tuple[CredentialPanel, str]] = {}
    for panel, organisation in rows:
        latest.setdefault(panel.credential_id, (panel, organisation))
    now = await fingerprints(session, list(latest))
    found = {}
    for credential_id, (panel, organisation) in latest.items():
        assert panel.decided_at is not None
        reason = ""
        if panel.quality_rubric_version != QUALITY_RUBRIC_VERSION:
            reason = "MCX's quality rubric has a new version since."
        elif panel.fingerprint != now[credential_id]:
            reason = "The credential's rubric or submission criteria changed since."
        found[credential_id] = Mark(
            panel.id,
            panel.name,
            organisation,
            panel.decided_at,
            panel.quality_rubric_version,
            not reason,
            reason,
        )
    return found


async def mark_of(session: AsyncSession, credential_id: uuid.UUID) -> Mark | None:
    """The credential's mark, current or expired, or None if never certified."""
    return (await marks(session, [credential_id])).get(credential_id)


async def current_marks(session: AsyncSession, credential_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these credentials carry a current mark (for the catalogue's cards)."""
    return {i for i, mark in (await marks(session, credential_ids)).items() if mark.current}


async def panel_detail(session: AsyncSession, panel: CredentialPanel) -> dict[str, Any]:
    """The panel, its members (name, submitted or not) and, once decided, the results."""
    members = (
        await session.exec(
            select(PanelMember, User.name)
            .join(User, col(User.id) == col(PanelMember.user_id))
            .where(PanelMember.panel_id == panel.id)
            .order_by(col(User.name))
        )
    ).all()
    submitted = {m.user_id for m, _ in members if m.submitted_at is not None}
    detail: dict[str, Any] = {
        "id": str(panel.id),
        "credential_id": str(panel.credential_id),
        "name": panel.name,
        "quality_rubric_version": panel.quality_rubric_version,
        "created_at": panel.created_at.isoformat(),
        "decided_at": panel.decided_at.isoformat() if panel.decided_at else None,
        "passed": panel.passed,
        "members": [
            {"user_id": str(m.user_id), "name": name, "submitted": m.submitted_at is not None}
            for m, name in members
        ],
        "results": None,
    }
    if panel.decided_at is not None:
        scores = (
            await session.exec(select(PanelScore).where(PanelScore.panel_id == panel.id))
        ).all()
        result = results(list(scores), submitted)
        detail["results"] = {
            "alpha": result.alpha,
            "scored": result.scored,
            "components": [
                {
                    "key": key,
                    "levels": result.levels[key],
                    "median": result.medians.get(key),
                }
                for key in COMPONENT_KEYS
            ],
        }
    return detail
