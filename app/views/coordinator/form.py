"""The authoring form as data: raw rows (what the page shows back), then a CredentialSpec's
input, and pydantic's error paths turned back into the form's field names.

Field names: top-level spec fields by name; `criteria-N-title`, `alignments-N-code`,
`rubric-N-title`, `rubric-N-levels-M-points`; `rubric-min_level` is 1-based (people count
levels from one). Blank rows are skipped, so the page can offer spare rows.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.actions.authoring import EDITABLE
from app.specs import CredentialSpec

# The credential's own fields on the form: exactly what an edit may change.
TOP = EDITABLE
CRITERION = (
    "title", "description", "kind", "required", "accepted_types", "max_mb", "min_words",
    "max_words",
)  # fmt: skip
ALIGNMENT = ("framework", "code", "title", "url")
LEVEL = ("label", "points", "descriptor")
DEFAULT_LEVELS = [("Not yet", "0"), ("Approaching", "1"), ("Meets", "2"), ("Exceeds", "3")]
MAX_ROWS = 20
MAX_LEVELS = 8
_ROW = re.compile(r"^(criteria|alignments|rubric)-([0-9]{1,2})-([a-z_]+)$")
_LEVEL = re.compile(r"^rubric-([0-9]{1,2})-levels-([0-9])-([a-z_]+)$")
MB = 1024 * 1024
LABELS = {
    "slug": "Short name (slug)",
    "title": "Title",
    "summary": "Summary",
    "topic": "Topic",
    "pd_hours": "PD credit hours",
    "validity_months": "Valid for (months)",
    "competency": "Competency",
    "key_method": "Key method",
    "method_components": "Method components",
    "research_resources": "Research and resources",
}

Draft = dict[str, Any]


def blank_level(position: int) -> dict[str, str]:
    label, points = DEFAULT_LEVELS[position] if position < len(DEFAULT_LEVELS) else ("", "")
    return {"label": label, "points": points, "descriptor": ""}


def blank_rubric_row() -> dict[str, Any]:
    return {"title": "", "description": "", "levels": [blank_level(i) for i in range(4)]}


def blank_criterion() -> dict[str, str]:
    return {"title": "", "description": "", "kind": "reflection", "required": "1"}


def new_draft() -> Draft:
    return {
        **dict.fromkeys(TOP, ""),
        "pd_hours": "0",
        "min_level": "3",
        "min_points": "",
        "criteria": [blank_criterion()],
        "alignments": [dict.fromkeys(ALIGNMENT, "")],
        "rubric": [blank_rubric_row()],
    }


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def draft_of(spec: CredentialSpec) -> Draft:
    """The form as it shows an existing credential."""
    rubric = spec.rubric
    return {
        **{field: _shown(getattr(spec, field)) for field in TOP},
        "min_level": str((rubric.min_level if rubric else 2) + 1),
        "min_points": "" if rubric is None or rubric.min_points is None else str(rubric.min_points),
        "criteria": [
            {
                "title": c.title,
                "description": c.description,
                "kind": c.kind.value,
                "required": "1" if c.required else "0",
                "accepted_types": ", ".join(c.accepted_types),
                "max_mb": "" if c.max_bytes is None else f"{c.max_bytes / MB:g}",
                "min_words": "" if c.min_words is None else str(c.min_words),
                "max_words": "" if c.max_words is None else str(c.max_words),
            }
            for c in spec.submission_criteria
        ],
        "alignments": [
            {"framework": a.framework, "code": a.code, "title": a.title, "url": a.url or ""}
            for a in spec.alignments
        ],
        "rubric": [
            {
                "title": c.title,
                "description": c.description,
                "levels": [
                    {"label": lv.label, "points": str(lv.points), "descriptor": lv.descriptor}
                    for lv in c.levels
                ],
            }
            for c in (rubric.criteria if rubric else [])
        ],
    }


def draft_from_form(form: dict[str, str]) -> Draft:
    """Every row the form posted, in index order, as strings (nothing dropped yet)."""
    draft: Draft = {field: form.get(field, "") for field in TOP}
    draft["min_level"] = form.get("rubric-min_level", "")
    draft["min_points"] = form.get("rubric-min_points", "")
    rows: dict[str, dict[int, dict[str, Any]]] = {"criteria": {}, "alignments": {}, "rubric": {}}
    for key, value in form.items():
        if match := _LEVEL.match(key):
            row, level, field = int(match[1]), int(match[2]), match[3]
            if row < MAX_ROWS and level < MAX_LEVELS and field in LEVEL:
                entry = rows["rubric"].setdefault(row, {"levels": {}})
                entry.setdefault("levels", {}).setdefault(level, {})[field] = value
        elif match := _ROW.match(key):
            kind, row, field = match[1], int(match[2]), match[3]
            if row < MAX_ROWS:
                rows[kind].setdefault(row, {"levels": {}} if kind == "rubric" else {})[field] = (
                    value
                )
    for kind, found in rows.items():
        ordered = []
        for index in sorted(found):
            entry = found[index]
            if kind == "rubric":
                levels = entry.pop("levels", {})
                entry["levels"] = [
                    {field: levels[i].get(field, "") for field in LEVEL} for i in sorted(levels)
                ]
                entry.setdefault("title", "")
                entry.setdefault("description", "")
            if kind == "criteria":
                # The checkbox posts nothing when off (after its hidden "0").
                entry.setdefault("required", "0")
            ordered.append(entry)
        draft[kind] = ordered
    return draft


def add_row(draft: Draft, what: str) -> None:
    """One more blank row ("criterion", "alignment", "rubric" or "level-N")."""
    if what == "criterion" and len(draft["criteria"]) < MAX_ROWS:
        draft["criteria"].append(blank_criterion())
    elif what == "alignment" and len(draft["alignments"]) < MAX_ROWS:
        draft["alignments"].append(dict.fromkeys(ALIGNMENT, ""))
    elif what == "rubric" and len(draft["rubric"]) < MAX_ROWS:
        draft["rubric"].append(blank_rubric_row())
    elif what.startswith("level-") and what[6:].isdigit():
        row = int(what[6:])
        if row < len(draft["rubric"]) and len(draft["rubric"][row]["levels"]) < MAX_LEVELS:
            draft["rubric"][row]["levels"].append({"label": "", "points": "", "descriptor": ""})


def _blank(entry: dict[str, Any], fields: tuple[str, ...]) -> bool:
    return not any(str(entry.get(field, "")).strip() for field in fields)


class Mapping:
    """Which form row each spec list index came from (blank rows are skipped)."""

    def __init__(self) -> None:
        self.criteria: list[int] = []
        self.alignments: list[int] = []
        self.rubric: list[int] = []
        self.levels: list[list[int]] = []


def spec_input(
    draft: Draft, fixed: dict[str, Any]
) -> tuple[dict[str, Any], Mapping, dict[str, str]]:
    """The CredentialSpec input from the draft (plus `fixed`: organisation, status, policy),
    the row mapping, and errors found before validation (field name → message)."""
    errors: dict[str, str] = {}
    mapping = Mapping()
    data: dict[str, Any] = {field: draft[field] for field in TOP}
    # A blank validity period means badges never expire.
    data["validity_months"] = str(draft.get("validity_months", "")).strip() or None
    data.update(fixed)
    criteria = []
    for index, row in enumerate(draft["criteria"]):
        if _blank(row, ("title", "description", "accepted_types", "max_mb", "min_words",
                        "max_words")):  # fmt: skip
            continue
        item: dict[str, Any] = {
            "title": row.get("title", ""),
            "description": row.get("description", ""),
            "kind": row.get("kind", ""),
            "required": row.get("required", "0") in ("1", "on", "true"),
            "accepted_types": [t for t in re.split(r"[,\s]+", row.get("accepted_types", "")) if t],
            "max_bytes": None,
        }
        raw_mb = row.get("max_mb", "").strip()
        if raw_mb:
            try:
                size = Decimal(raw_mb)
                if not size.is_finite() or not Decimal("0.001") <= size <= 2048:
                    raise InvalidOperation
                item["max_bytes"] = int(size * MB)
            except InvalidOperation:
                errors[f"criteria-{index}-max_mb"] = (
                    f"Submission criterion {index + 1}, size limit: give megabytes from "
                    "0.001 to 2048, or leave it blank."
                )
        for end, words in (("min_words", "least"), ("max_words", "most")):
            raw = row.get(end, "").strip()
            if not raw:
                continue
            if raw.isdigit() and 1 <= int(raw) <= 10_000:
                item[end] = int(raw)
            else:
                errors[f"criteria-{index}-{end}"] = (
                    f"Submission criterion {index + 1}, {words} words: give a whole number "
                    "from 1 to 10,000, or leave it blank."
                )
        mapping.criteria.append(index)
        criteria.append(item)
    data["submission_criteria"] = criteria
    alignments = []
    for index, row in enumerate(draft["alignments"]):
        if _blank(row, ALIGNMENT):
            continue
        mapping.alignments.append(index)
        alignments.append({**{f: row.get(f, "") for f in ALIGNMENT}, "url": row.get("url") or None})
    data["alignments"] = alignments
    rubric_rows = []
    for index, row in enumerate(draft["rubric"]):
        levels = [lv for lv in row["levels"] if not _blank(lv, LEVEL)]
        if _blank(row, ("title", "description")) and all(
            not lv.get("descriptor", "").strip() for lv in levels
        ):
            continue
        mapping.rubric.append(index)
        mapping.levels.append([i for i, lv in enumerate(row["levels"]) if not _blank(lv, LEVEL)])
        rubric_rows.append(
            {"title": row["title"], "description": row["description"], "levels": levels}
        )
    if rubric_rows:
        min_level = draft.get("min_level", "").strip()
        if not (min_level.isdigit() and 1 <= int(min_level) <= MAX_LEVELS):
            errors["rubric-min_level"] = (
                "Passing rule: choose the level every criterion must reach."
            )
            min_level = "1"
        data["rubric"] = {
            "min_level": int(min_level) - 1,
            "min_points": draft.get("min_points", "").strip() or None,
            "criteria": rubric_rows,
        }
    else:
        data["rubric"] = None
    return data, mapping, errors


# What each row field is called on the page.
FIELD_WORDS = {
    "title": "title",
    "description": "description",
    "kind": "kind",
    "required": "required",
    "accepted_types": "accepted file types",
    "max_mb": "size limit",
    "min_words": "least words",
    "max_words": "most words",
    "framework": "framework",
    "code": "code",
    "url": "link",
    "label": "label",
    "points": "points",
    "descriptor": "descriptor",
}


def field_of(loc: tuple[Any, ...], mapping: Mapping) -> tuple[str, str]:
    """(form field name, the words people read before the message) for a pydantic loc."""
    parts = list(loc)
    head = parts[0] if parts else ""
    try:
        if head == "submission_criteria" and len(parts) >= 2:
            row = mapping.criteria[int(parts[1])]
            field = str(parts[2]) if len(parts) > 2 else "title"
            field = "max_mb" if field == "max_bytes" else field
            words = FIELD_WORDS.get(field, field)
            return f"criteria-{row}-{field}", f"Submission criterion {row + 1}, {words}"
        if head == "alignments" and len(parts) >= 2:
            row = mapping.alignments[int(parts[1])]
            field = str(parts[2]) if len(parts) > 2 else "framework"
            words = FIELD_WORDS.get(field, field)
            return f"alignments-{row}-{field}", f"Alignment {row + 1}, {words}"
        if head == "rubric":
            if len(parts) >= 3 and parts[1] == "criteria":
                spec_row = int(parts[2])
                row = mapping.rubric[spec_row]
                if len(parts) >= 5 and parts[3] == "levels":
                    level = mapping.levels[spec_row][int(parts[4])]
                    field = str(parts[5]) if len(parts) > 5 else "label"
                    return (
                        f"rubric-{row}-levels-{level}-{field}",
                        f"Rubric criterion {row + 1}, level {level + 1}, "
                        f"{FIELD_WORDS.get(field, field)}",
                    )
                field = str(parts[3]) if len(parts) > 3 and parts[3] != "levels" else "title"
                return f"rubric-{row}-{field}", f"Rubric criterion {row + 1}"
            if len(parts) >= 2 and parts[1] == "min_points":
                return "rubric-min_points", "Passing points"
            return "rubric-min_level", "Passing rule"
    except (IndexError, ValueError):
        pass
    if head in LABELS:
        return str(head), LABELS[str(head)]
    return "form", "Credential"
