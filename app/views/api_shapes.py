"""The JSON answers of /api/v1 as JSON Schema, for the OpenAPI document (app/views/openapi.py).

Each shape lists every field its endpoint writes, and requires every field the endpoint always
writes; a nullable field says so. tests/test_schemathesis.py checks real answers against them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from app.models import (
    AppealState,
    ArtifactKind,
    CredentialStatus,
    Decision,
    Pool,
    Privacy,
    ReviewState,
    Role,
    Stakes,
    SubmissionState,
    TaskReason,
)

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
INTEGER: Schema = {"type": "integer"}
NULLABLE_INTEGER: Schema = {"type": ["integer", "null"]}
BOOLEAN: Schema = {"type": "boolean"}
NUMBER: Schema = {"type": "number"}
UUID: Schema = {"type": "string", "format": "uuid"}
MOMENT: Schema = {"type": "string", "format": "date-time"}
NULLABLE_MOMENT: Schema = {"type": ["string", "null"], "format": "date-time"}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}


# What Python's str.strip() removes, as a regex class (JSON Schema's \\s differs from it).
_SPACE = (
    "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
_INK = _SPACE.replace("[", "[^", 1)


def text_at_least(characters: int) -> str:
    """A pattern for text of at least this many characters once stripped of white space
    (the actions strip before they count)."""
    if characters <= 1:
        return f"^{_SPACE}*{_INK}[\\s\\S]*$"
    return f"^{_SPACE}*{_INK}[\\s\\S]{{{characters - 2},}}{_INK}{_SPACE}*$"


def one_of(enum: type[StrEnum], *, nullable: bool = False) -> Schema:
    values: list[str | None] = [member.value for member in enum]
    if nullable:
        return {"type": ["string", "null"], "enum": [*values, None]}
    return {"type": "string", "enum": values}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def shape(**properties: Schema) -> Schema:
    """An object with these properties, every one of them always present."""
    return {"type": "object", "required": list(properties), "properties": properties}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [{"type": "null"}, schema]}


ME = shape(
    id=UUID,
    email=STRING,
    name=STRING,
    school=NULLABLE_STRING,
    roles=array(shape(organisation=UUID, role=one_of(Role))),
)
NOTIFICATIONS = shape(
    notifications=array(
        shape(id=INTEGER, kind=STRING, payload={"type": "object"}, created_at=MOMENT, read=BOOLEAN)
    )
)
OPENAPI = shape(openapi=STRING, info={"type": "object"}, paths={"type": "object"})

CREDENTIAL_FIELDS: dict[str, Schema] = {
    "id": UUID,
    "slug": STRING,
    "title": STRING,
    "summary": STRING,
    "status": one_of(CredentialStatus),
    "stakes": one_of(Stakes),
    "pd_hours": NUMBER,
    "pilot_spots": NULLABLE_INTEGER,
}
CREDENTIALS = shape(credentials=array(shape(**CREDENTIAL_FIELDS)))
CREDENTIAL = shape(
    **CREDENTIAL_FIELDS,
    competency=STRING,
    key_method=STRING,
    method_components=STRING,
    research_resources=STRING,
    submission_criteria=array(
        shape(
            criterion_id=UUID,
            title=STRING,
            description=STRING,
            kind=one_of(ArtifactKind),
            required=BOOLEAN,
        )
    ),
)

SCORE = shape(criterion_id=UUID, level_id=UUID, comment=STRING)
SUBMISSION = shape(
    id=UUID,
    credential_id=UUID,
    credential=STRING,
    state=one_of(SubmissionState),
    privacy=one_of(Privacy),
    versions=array(
        shape(
            number=INTEGER,
            submitted_at=NULLABLE_MOMENT,
            check_error=NULLABLE_STRING,
            artifacts=array(
                shape(
                    artifact_id=UUID,
                    criterion_id=UUID,
                    kind=one_of(ArtifactKind),
                    filename=NULLABLE_STRING,
                    media_type=NULLABLE_STRING,
                    size_bytes=NULLABLE_INTEGER,
                    url=NULLABLE_STRING,
                    text=NULLABLE_STRING,
                )
            ),
            feedback=array(
                shape(
                    recommendation=one_of(Decision, nullable=True),
                    feedback=STRING,
                    scores=array(SCORE),
                )
            ),
            outcome=nullable(shape(decision=one_of(Decision), rule=STRING)),
        )
    ),
)
SUBMISSION_STATE = shape(id=UUID, state=one_of(SubmissionState))
ATTACHED = shape(
    artifact_id=UUID,
    kind=one_of(ArtifactKind),
    filename=NULLABLE_STRING,
    media_type=NULLABLE_STRING,
    size_bytes=NULLABLE_INTEGER,
    sha256=NULLABLE_STRING,
)
APPEAL = shape(appeal_id=UUID, state=one_of(AppealState))
RUBRIC_VERSION = shape(rubric_id=UUID, version=INTEGER)
AUTHORED = shape(id=UUID, status=one_of(CredentialStatus))
CHANGED = shape(changed=array(STRING))
STACK = shape(id=UUID)
IMPORTED = shape(imported=shape(credentials=INTEGER, stacks=INTEGER))
WAITING = shape(waiting={"const": True}, position={"type": "integer", "minimum": 1})
NOT_WAITING = shape(waiting={"const": False})

HOLDER_ROW = shape(
    name=STRING,
    email=STRING,
    school=STRING,
    organisations=STRING,
    credential=STRING,
    issuer=STRING,
    issued_at=MOMENT,
    pd_hours=DECIMAL,
    badge_url=STRING,
)
PD_ROW = shape(
    name=STRING,
    email=STRING,
    school=STRING,
    organisations=STRING,
    period={"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
    credentials=INTEGER,
    pd_hours=DECIMAL,
)
REPORT = {
    "oneOf": [
        shape(report={"const": "holders"}, rows=array(HOLDER_ROW)),
        shape(report={"const": "pd-hours"}, rows=array(PD_ROW)),
    ]
}

TASKS = shape(
    tasks=array(
        shape(
            task_id=UUID,
            credential_id=UUID,
            credential=STRING,
            pool=one_of(Pool),
            reason=one_of(TaskReason),
            waiting_since=MOMENT,
        )
    )
)
CLAIM = shape(task_id=UUID, lease_version=INTEGER, lease_expires_at=MOMENT, extended=BOOLEAN)
TASK = shape(
    task_id=UUID,
    pool=one_of(Pool),
    lease_version=INTEGER,
    lease_expires_at=NULLABLE_MOMENT,
    extended=BOOLEAN,
    evidence=array(
        shape(
            artifact_id=UUID,
            criterion=STRING,
            kind=one_of(ArtifactKind),
            filename=NULLABLE_STRING,
            media_type=NULLABLE_STRING,
            size_bytes=NULLABLE_INTEGER,
            url=NULLABLE_STRING,
            text=NULLABLE_STRING,
            download=NULLABLE_STRING,
        )
    ),
    rubric=shape(
        version=INTEGER,
        min_level=INTEGER,
        min_points=NULLABLE_INTEGER,
        criteria=array(
            shape(
                criterion_id=UUID,
                title=STRING,
                description=STRING,
                levels=array(shape(level_id=UUID, label=STRING, points=INTEGER, descriptor=STRING)),
            )
        ),
    ),
    draft=shape(feedback=STRING, scores=array(SCORE)),
)
RELEASED = shape(released={"const": True})
REVIEW = shape(
    review_id=UUID, state=one_of(ReviewState), recommendation=one_of(Decision, nullable=True)
)
