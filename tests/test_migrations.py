"""Migrations create the whole schema, agree with the models, and the app refuses to run without."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from app.db import SchemaNotCurrent, alembic_config, make_engine
from app.main import create_app
from app.runtime import Runtime, Urls
from app.settings import Settings
from tests.conftest import _admin


@pytest.fixture
async def empty_database(services: Urls) -> AsyncIterator[str]:
    """A brand-new database on the test server, dropped afterwards."""
    name = f"mcx_empty_{uuid.uuid4().hex[:8]}"
    await _admin(services.database, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(services.database).set(database=name).render_as_string(False)
    finally:
        await _admin(services.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_migrate_on_an_empty_database_creates_every_table(empty_database: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables


async def test_models_and_migrations_agree(services: Urls) -> None:
    """No pending autogenerate diff: every model change comes with its migration."""

    def diff(sync: Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    engine = make_engine(services.database)
    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == []


async def test_the_app_refuses_an_unmigrated_database(
    empty_database: str, services: Urls, settings: Settings
) -> None:
    app = create_app(settings, Urls(database=empty_database, redis=services.redis))
    with pytest.raises(SchemaNotCurrent, match="run `mcx migrate`"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_database_guards_states_itself(runtime: Runtime) -> None:
    """Check constraints hold even for writes that bypass the Python models."""
    async with runtime.engine.begin() as conn:
        org = await conn.scalar(
            text(
                "INSERT INTO organisations (id, slug, name, description, created_at) "
                "VALUES (gen_random_uuid(), 'o', 'O', '', now()) RETURNING id"
            )
        )
    with pytest.raises(IntegrityError, match="ck_credential_stakes"):
        async with runtime.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO credentials (id, organisation_id, slug, title, summary, topic, "
                    "status, competency, key_method, method_components, research_resources, "
                    "pd_hours, stakes, peer_reviews, expert_reviews, blind_review, "
                    "exclude_same_school, created_at, updated_at) VALUES (gen_random_uuid(), "
                    ":org, 'c', 'C', '', '', 'draft', '', '', '', '', 0, 'medium', 2, 1, true, "
                    "false, now(), now())"
                ),
                {"org": org},
            )
