"""The public shape of catalogue data (credentials, rubrics, stacks) as validated input.

Used by the demo loader, the authoring forms, the JSON API and catalogue import/export: every
error names its path. A spec dumped with `model_dump(mode="json")` is the export shape.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models import ArtifactKind, CredentialStatus, Stakes

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)]
Text = Annotated[str, Field(max_length=20_000)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrganisationSpec(Spec):
    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    url: str | None = None
    email: str | None = None
    description: Text = ""


WebUrl = Annotated[str, Field(pattern=r"^https?://[^\s<>\"']+$", max_length=500)]
MediaType = Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$", max_length=100)]


class AlignmentSpec(Spec):
    framework: Annotated[str, Field(min_length=1, max_length=100)]
    code: Annotated[str, Field(min_length=1, max_length=50)]
    title: Annotated[str, Field(max_length=300)] = ""
    url: WebUrl | None = None


class CriterionSpec(Spec):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    kind: ArtifactKind
    required: bool = True
    accepted_types: Annotated[list[MediaType], Field(max_length=20)] = []
    max_bytes: Annotated[int, Field(gt=0, le=2**31 - 1)] | None = None
    # A written reflection's word range (either end may be open).
    min_words: Annotated[int, Field(ge=1, le=10_000)] | None = None
    max_words: Annotated[int, Field(ge=1, le=10_000)] | None = None

    @model_validator(mode="after")
    def _word_range(self) -> CriterionSpec:
        if self.min_words is None and self.max_words is None:
            return self
        if self.kind != ArtifactKind.reflection:
            raise ValueError("a word range applies only to a written reflection")
        if self.min_words and self.max_words and self.max_words < self.min_words:
            raise ValueError("the most words allowed must not be fewer than the least")
        return self


class LevelSpec(Spec):
    label: Annotated[str, Field(min_length=1, max_length=100)]
    points: Annotated[int, Field(ge=0, le=1000)]
    descriptor: Text = ""


class RubricCriterionSpec(Spec):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    levels: Annotated[list[LevelSpec], Field(min_length=2, max_length=8)]

    @model_validator(mode="after")
    def _points_rise(self) -> RubricCriterionSpec:
        points = [level.points for level in self.levels]
        if points != sorted(points) or len(set(points)) != len(points):
            raise ValueError("levels must be ordered lowest first, with rising points")
        return self


class RubricSpec(Spec):
    min_level: Annotated[int, Field(ge=0)] = 0
    min_points: Annotated[int, Field(ge=0, le=20 * 8 * 1000)] | None = None
    criteria: Annotated[list[RubricCriterionSpec], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _min_level_exists(self) -> RubricSpec:
        for criterion in self.criteria:
            if self.min_level >= len(criterion.levels):
                raise ValueError(
                    f"min_level {self.min_level} is beyond the levels of '{criterion.title}'"
                )
        return self


class CredentialSpec(Spec):
    slug: Slug
    organisation: Slug
    title: Annotated[str, Field(min_length=1, max_length=200)]
    summary: Text = ""
    topic: Annotated[str, Field(max_length=100)] = ""
    status: CredentialStatus = CredentialStatus.draft
    pilot_spots: Annotated[int, Field(ge=0)] | None = None
    stakes: Stakes = Stakes.low
    pd_hours: Annotated[Decimal, Field(ge=0, max_digits=6, decimal_places=2)] = Decimal(0)
    # Badges expire this many months after their award (None: they never expire).
    validity_months: Annotated[int, Field(ge=1, le=240)] | None = None
    # Review policy.
    peer_reviews: Annotated[int, Field(ge=1, le=9)] = 2
    expert_reviews: Annotated[int, Field(ge=1, le=5)] = 1
    lease_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    blind_review: bool = True
    exclude_same_school: bool = False
    target_hours: Annotated[int, Field(ge=1, le=2160)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    competency: Text = ""
    key_method: Text = ""
    method_components: Text = ""
    research_resources: Text = ""
    alignments: Annotated[list[AlignmentSpec], Field(max_length=50)] = []
    submission_criteria: Annotated[list[CriterionSpec], Field(max_length=20)] = []
    rubric: RubricSpec | None = None

    @field_validator("pd_hours", mode="after")
    @classmethod
    def _two_places(cls, value: Decimal) -> Decimal:
        # One written form per amount, so export → import → export gives the same text.
        return value.quantize(Decimal("0.01"))

    @model_validator(mode="after")
    def _pilot_has_spots(self) -> CredentialSpec:
        if self.status == CredentialStatus.pilot and self.pilot_spots is None:
            raise ValueError("a pilot needs pilot_spots")
        return self

    @model_validator(mode="after")
    def _open_only_when_scorable(self) -> CredentialSpec:
        if self.status in (CredentialStatus.pilot, CredentialStatus.published):
            if self.rubric is None:
                raise ValueError(f"a {self.status.value} credential needs a rubric")
            if not any(criterion.required for criterion in self.submission_criteria):
                raise ValueError(
                    f"a {self.status.value} credential needs at least one required "
                    "submission criterion"
                )
        return self


class StackSpec(Spec):
    slug: Slug
    organisation: Slug
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    credentials: Annotated[
        list[Slug], Field(min_length=2, max_length=50, json_schema_extra={"uniqueItems": True})
    ]

    @model_validator(mode="after")
    def _each_once(self) -> StackSpec:
        if len(set(self.credentials)) != len(self.credentials):
            raise ValueError("a credential appears twice in the stack")
        return self


# What a field that does not match its pattern should look like.
PATTERN_HINTS = {
    "slug": "use lowercase letters, digits and single hyphens, e.g. collaborative-coaching",
    "accepted_types": (
        "give media types such as application/pdf or image/png, separated by commas"
    ),
    "url": "give a full web address starting with https://",
}


def error_sentence(field: str, error: Any) -> str:
    """A pydantic error as a sentence about the field a coordinator filled in."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    name = field.rsplit("-", 1)[-1]
    if kind == "string_pattern_mismatch":
        return PATTERN_HINTS.get(name, "use only letters, digits and the punctuation shown")
    if kind in {"missing", "string_too_short", "too_short"} and ctx.get("min_length", 1) <= 1:
        return "fill this in"
    if kind == "string_too_short":
        return f"write at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"keep it to {ctx['max_length']:,} characters or fewer"
    if kind == "too_long":
        return f"give at most {ctx['max_length']} of these"
    if kind in {"int_parsing", "int_from_float", "decimal_parsing", "float_parsing"}:
        return "give a number"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"give a number of at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in {"less_than_equal", "less_than"}:
        return f"give a number of at most {ctx.get('le', ctx.get('lt'))}"
    if kind in {"decimal_max_places", "decimal_max_digits"}:
        return "give at most two decimal places"
    if kind == "enum":
        return "choose one of the options"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")
