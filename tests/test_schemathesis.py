"""schemathesis against /api/v1/openapi.json on a real `mcx serve`, as every role: no answer is
a 5xx, and every answer matches the document (status, content type, body schema).

Bounded for CI: a few generated cases per operation (plus one with the real ids of the seeded
world), each sent once per role. The server runs in its own process (schemathesis calls are
blocking), on this run's database and a Redis prefix of its own; both are emptied afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
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

MAX_EXAMPLES = int(os.environ.get("MCX_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ("anonymous", "earner", "reviewer", "expert", "coordinator", "recognizer")


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


def test_no_5xx_and_every_answer_matches_the_document(world: World) -> None:
    schema = schemathesis.openapi.from_dict(httpx.get(world.base + "/api/v1/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[int] = Counter()
    assert len(operations) >= 25
    for operation in operations:
        named = {
            p.name: world.ids[p.name] for p in operation.path_parameters if p.name in world.ids
        }
        # The seeded objects (reaching past "not found" into the actions), random values, and
        # values that break the document on purpose.
        cases = st.one_of(
            operation.as_strategy(path_parameters=named),
            operation.as_strategy(),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call_as_every_role(case: Any) -> None:
            for role in ROLES:
                headers = {} if role == "anonymous" else auth(world.tokens[role])
                response = case.call_and_validate(
                    base_url=world.base, headers=headers, checks=CHECKS, timeout=30
                )
                statuses[response.status_code] += 1

        call_as_every_role()
    # The run reached past the doors: successes, refusals of bad input, and "not yours".
    assert statuses[200] and statuses[422] and statuses[404], statuses
