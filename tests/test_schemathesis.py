"""schemathesis against /api/v1/openapi.json on a real `mcx serve`, as every role, the way an
outside probe runs it: the `schemathesis run` command with every check (all are on unless
configured off; here only where SETTINGS says why): no 5xx; every status,
content type, header and body as documented; undeclared methods answered 405 with `Allow`;
schema-valid input accepted and invalid input refused) over the examples, coverage and
fuzzing phases. Any failure fails the test, with schemathesis's report.

Bounded for CI: a few generated cases per operation (MCX_SCHEMATHESIS_EXAMPLES), real ids of a
seeded world for the path parameters. The server runs in its own process, on this run's
database and a Redis prefix of its own; both are emptied afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import SQLModel, select

from app.actions import groups, ratings
from app.actions import panels as panel_actions
from app.actions.submissions import check_evidence
from app.models import Artifact, ReviewTask, Role, SubmissionVersion
from app.ratings import DIMENSIONS
from app.runtime import Runtime, Urls, open_runtime
from tests import factories as f
from tests.catalogue import finished
from tests.factories import auth
from tests.served import mcx_serve

MAX_EXAMPLES = int(os.environ.get("MCX_SCHEMATHESIS_EXAMPLES", "3"))
ROLES = ("anonymous", "earner", "reviewer", "expert", "coordinator", "recognizer")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

# What the schemathesis run is told besides the document (TOML), and why:
# - authoring input can be schema-valid and still refused (422) by rules JSON Schema cannot
#   state (levels rising in points, a pilot's spots, slugs that must exist), and so can the
#   catalogue's and recordings' input (growth goals naming real standards, panellists who are
#   experts, a moment inside the recording, a length range in order); each such operation's
#   description lists them.
SETTINGS = """
[generation]
allow-x00 = false  # the document says no text may hold a NUL (400); tested in test_hostile_input

[[operations]]
include-path-regex = '''^/api/v1/(credentials(/[^/]+(/rubric)?)?|stacks|catalogue|growth|\
panels(/[^/]+/scores)?|organisations/[^/]+/recognitions/[^/]+|tasks/[^/]+/moments|\
criteria/[^/]+/media)$'''
include-method-regex = "^(POST|PUT)$"
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"""


@dataclass
class World:
    base: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> a real id


async def _seed(runtime: Runtime, world: World) -> None:
    credential = await f.credential(runtime, peer_reviews=2)
    people = {
        "earner": await f.person(runtime, "earner", [Role.earner]),
        "reviewer": await f.person(runtime, "reviewer", [Role.reviewer]),
        "expert": await f.person(runtime, "expert", [Role.expert]),
        "coordinator": await f.person(runtime, "coordinator", [Role.coordinator]),
        "recognizer": await f.person(runtime, "recognizer", [Role.recognizer]),
    }
    for role, user in people.items():
        world.tokens[role] = await f.token_for(runtime, user)
    async with httpx.AsyncClient(base_url=world.base, timeout=30) as http:
        submission_id = await f.submitted(http, runtime, world.tokens["earner"], credential)
        claimed = await http.post(
            "/api/v1/tasks/claim-next", headers=auth(world.tokens["reviewer"])
        )
        assert claimed.status_code == 201, claimed.text
    async with runtime.sessions() as session:
        artifact = (await session.exec(select(Artifact))).first()
        version = (await session.exec(select(SubmissionVersion))).first()
        task = (await session.exec(select(ReviewTask))).first()
    assert artifact is not None and version is not None and task is not None
    assert await check_evidence(runtime, version.id) == "in_review"  # already: a no-op
    # The catalogue's own quality (issue 18): a rating, a panel, a group, a recognition list.
    rater = await f.person(runtime, "rater", [Role.earner])
    await finished(runtime, rater, credential)
    rating = await ratings.rate_credential(
        runtime, rater, credential.id, dict.fromkeys(DIMENSIONS, 4), "Clear."
    )
    await f.person(runtime, "expert2", [Role.expert])
    panel = await panel_actions.convene(
        runtime,
        people["coordinator"],
        credential.id,
        "Seeded panel",
        ["expert@mcx.example", "expert2@mcx.example"],
    )
    async with runtime.sessions() as session:
        group = await groups.create_group(
            session, people["earner"], "Seeded group", credential_id=credential.id
        )
    world.ids |= {
        "rating_id": str(rating.id),
        "panel_id": str(panel.id),
        "group_id": str(group.id),
        "organisation": "ipa",
        "credential_id": str(credential.id),
        "submission_id": submission_id,
        "criterion_id": str(artifact.criterion_id),
        "artifact_id": str(artifact.id),
        "task_id": str(task.id),
        "appeal_id": str(uuid.uuid4()),
    }


async def _empty(runtime: Runtime) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    keys = [key async for key in runtime.redis.scan_iter(match=runtime.settings.redis_prefix + "*")]
    if keys:
        await runtime.redis.delete(*keys)


@pytest.fixture(scope="module")
def world(services: Urls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with mcx_serve(services, tmp_path_factory.mktemp("schemathesis")) as served:
        made = World(base=served.base)

        async def with_runtime(work: Any) -> None:
            runtime = await open_runtime(
                served.settings, Urls(database=services.database, redis=services.redis)
            )
            try:
                await work(runtime)
            finally:
                await runtime.close()

        try:
            asyncio.run(with_runtime(lambda runtime: _seed(runtime, made)))
            yield made
        finally:
            asyncio.run(with_runtime(_empty))


def _settings(world: World, folder: Path) -> Path:
    ids = {**world.ids, "organisation": "ipa", "kind": "holders"}
    pinned = "\n".join(f'"path.{name}" = "{value}"' for name, value in ids.items())
    path = folder / "schemathesis.toml"
    # TOML: the top-level tables before the array of operation tables.
    generation, operations = SETTINGS.split("[[operations]]", 1)
    path.write_text(f"{generation}\n[parameters]\n{pinned}\n\n[[operations]]{operations}")
    return path


@pytest.mark.parametrize("role", ROLES)
def test_every_answer_matches_the_document_for_every_role(
    world: World, role: str, tmp_path: Path
) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_settings(world, tmp_path)),
        "--no-color",
        "run",
        world.base + "/api/v1/openapi.json",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--request-timeout",
        "30",
        "--workers",
        "1",
    ]
    if role != "anonymous":
        command += ["--header", f"Authorization: Bearer {world.tokens[role]}"]
    ran = subprocess.run(  # noqa: S603 - schemathesis from this venv, against our server
        command, capture_output=True, text=True, timeout=900, check=False
    )
    report = ran.stdout + ran.stderr
    assert ran.returncode == 0, f"schemathesis as {role}:\n{report[-12000:]}"
    assert " generated" in report, report[-3000:]  # it reached the operations
