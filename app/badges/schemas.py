"""The vendored 1EdTech JSON Schemas (draft 2019-09), loaded from package data, never fetched."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator

OB3_SCHEMA = "ob_v3p0_achievementcredential_schema.json"
CLR_SCHEMA = "clr_v2p0_clrcredential_schema.json"


def data_file(name: str) -> Any:
    return json.loads(resources.files("app.badges").joinpath("data", name).read_text("utf-8"))


@cache
def validator(name: str) -> Draft201909Validator:
    schema = data_file(name)
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def problems(name: str, document: Any) -> list[str]:
    """Every way `document` breaks the schema, each as `path: message` (empty when valid)."""
    found = []
    for error in sorted(validator(name).iter_errors(document), key=lambda e: list(e.path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(document)"
        found.append(f"{where}: {error.message}")
    return found
