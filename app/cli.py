"""The `mcx` command: run, serve, worker, migrate, demo, queue rebuild, user add, keys rotate,
push rotate-key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from app.settings import Settings, SettingsError, load_settings, served_base_url

if TYPE_CHECKING:
    from app.runtime import Runtime

T = TypeVar("T")
log = logging.getLogger("mcx")


def _with_runtime(settings: Settings, job: Callable[..., Awaitable[T]]) -> T:
    from app.runtime import open_runtime

    async def run() -> T:
        runtime = await open_runtime(settings)
        try:
            return await job(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from alembic import command

    from app.db import alembic_config
    from app.runtime import resolve_urls

    urls = resolve_urls(settings)
    try:
        command.upgrade(alembic_config(urls.database), "head")
        made = asyncio.run(_publish_missing_keys(settings, urls.database))
        # The deployment's VAPID key is made with its schema (idempotent; the app would make
        # it on first use anyway), so the first person to opt in finds it ready.
        asyncio.run(_ensure_vapid_key(settings, urls.database))
    finally:
        urls.stop_embedded()
    print("Database is at the newest schema.")
    if made:
        print(f"Made {made} signing keys for organisations that had none.")
    return 0


async def _publish_missing_keys(settings: Settings, database: str) -> int:
    """Organisations made before keys came with them get theirs (idempotent)."""
    from app.badges import keys
    from app.db import make_engine, make_sessions

    engine = make_engine(database, pool_size=1)
    try:
        async with make_sessions(engine)() as session:
            return await keys.publish_missing(session, settings.secret_key)
    finally:
        await engine.dispose()


async def _ensure_vapid_key(settings: Settings, database_url: str) -> None:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from app.db import make_engine
    from app.push import keys

    engine = make_engine(database_url)
    try:
        async with AsyncSession(engine) as session:
            await keys.current_key(session, settings.secret_key)
    finally:
        await engine.dispose()


def cmd_push_rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    from app.push import keys

    async def job(runtime: Runtime) -> tuple[str, int]:
        from app.db import require_current_schema

        await require_current_schema(runtime.engine)
        async with runtime.sessions() as session:
            key = await keys.rotate_key(session, runtime.settings.secret_key)
            return key.public_key, await keys.subscriptions_on_retired_keys(session)

    public, waiting = _with_runtime(settings, job)
    print(f"New VAPID public key: {public}")
    print(
        f"{waiting} device(s) still use a retired key; it keeps signing for them until their "
        "browser subscribes again (the settings page does so on its next visit)."
    )
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.demo import load_demo

    async def job(runtime: Runtime) -> Any:
        from app.db import require_current_schema

        await require_current_schema(runtime.engine)
        return await load_demo(runtime)

    report = _with_runtime(settings, job)
    made = ", ".join(f"{count} {what}" for what, count in report.created.items())
    print(f"Demo loaded ({made} new).")
    print("\n".join(["", *_login_lines(settings.base_url, report.logins)]))
    return 0


def _login_lines(base_url: str, logins: list[tuple[str, str, str]]) -> list[str]:
    width = max(len(email) for email, _, _ in logins)
    lines = [f"Log in at {base_url}/login as any of:"]
    lines += [f"  {email:<{width}}  {password:<18} {roles}" for email, password, roles in logins]
    return lines


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, load the demo, then supervise the web app and the worker (see app.supervisor)."""
    from alembic import command

    from app import supervisor
    from app.db import alembic_config, require_current_schema
    from app.demo import load_demo
    from app.runtime import Urls, open_runtime, resolve_urls

    base_url = served_base_url(settings, args.host, args.port)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    print("Starting MCX: PostgreSQL, Redis, migrations, demo data ...", flush=True)
    urls = resolve_urls(settings)
    try:
        settings = settings.model_copy(
            update={"database_url": urls.database, "redis_url": urls.redis, "base_url": base_url}
        )
        command.upgrade(alembic_config(urls.database), "head")
        shared = Urls(database=urls.database, redis=urls.redis)  # closing it stops nothing

        async def demo() -> Any:
            runtime = await open_runtime(settings, shared)
            try:
                await require_current_schema(runtime.engine)
                return await load_demo(runtime)
            finally:
                await runtime.close()

        report = asyncio.run(demo())
        print("Starting the web app and the worker ...", flush=True)
        where = (
            f"PostgreSQL and Redis run from {settings.data_dir.resolve()} (their logs: "
            "postgres/log, redis/redis.log)"
            if urls.embedded
            else "PostgreSQL and Redis from DATABASE_URL and REDIS_URL"
        )
        banner = [
            "",
            *_login_lines(base_url, report.logins),
            "",
            f"{where}; the web app and the worker log warnings here.",
            f"MCX is running at {base_url}  (Ctrl-C stops it)",
        ]
        return supervisor.run(
            supervisor.Supervisor(
                env=supervisor.children_env(urls.database, urls.redis, base_url),
                host=args.host,
                port=args.port,
                redis_url=urls.redis,
                health_key=settings.redis_prefix + "arq:queue:health-check",
                log_level=args.log_level,
            ),
            banner,
        )
    finally:
        urls.stop_embedded()


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    from app.actions import accounts, catalog
    from app.errors import ActionError
    from app.models import Role

    roles = [part.strip() for part in args.roles.split(",") if part.strip()]
    for role in roles:
        if role not in Role.__members__:
            print(f"Unknown role '{role}'. Roles: {', '.join(Role.__members__)}", file=sys.stderr)
            return 2
    password = args.password or os.environ.get("MCX_NEW_USER_PASSWORD", "")

    async def job(runtime: Runtime) -> Any:
        async with runtime.sessions() as session:
            memberships = []
            if roles:
                organisation = await catalog.organisation_by_slug(session, args.organisation or "")
                if organisation is None:
                    raise ActionError(
                        "unknown_organisation",
                        f"No organisation '{args.organisation}' (give --organisation SLUG).",
                    )
                memberships = [(organisation, Role(role)) for role in roles]
            return await accounts.create_user(
                session,
                email=args.email,
                name=args.name,
                password=password,
                school=args.school,
                memberships=memberships,
            )

    try:
        user = _with_runtime(settings, job)
    except ActionError as error:
        print(f"Not added: {error.detail}", file=sys.stderr)
        return 1
    print(f"Added {user.email} ({', '.join(roles) or 'no roles'}).")
    return 0


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from app.actions import awards, catalog

    async def job(runtime: Runtime) -> list[str] | None:
        async with runtime.sessions() as session:
            organisation = await catalog.organisation_by_slug(session, args.organisation)
        if organisation is None:
            return None
        return await awards.rotate_issuer_keys(runtime, organisation.id)

    kids = _with_runtime(settings, job)
    if kids is None:
        print(f"No organisation '{args.organisation}'.", file=sys.stderr)
        return 1
    print(
        f"New signing keys for {args.organisation}: {', '.join(kids)}. "
        "The old keys stay published, so badges signed with them still verify."
    )
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_queue_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from app import queue

    async def job(runtime: Runtime) -> dict[str, int]:
        return await queue.rebuild(runtime.engine, runtime.redis, runtime.settings)

    counts = _with_runtime(settings, job)
    print(
        f"Live queue rebuilt from PostgreSQL: {counts['open']} open, {counts['claimed']} claimed."
    )
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.runtime import resolve_urls

    # Start embedded servers once here; worker processes inherit their URLs, and the base
    # URL of the address actually served (unless MCX_BASE_URL says otherwise).
    urls = resolve_urls(settings)
    os.environ["DATABASE_URL"] = urls.database
    os.environ["REDIS_URL"] = urls.redis
    os.environ["MCX_BASE_URL"] = served_base_url(settings, args.host, args.port)
    print(f"MCX web app serving {os.environ['MCX_BASE_URL']}", flush=True)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the
    # `finally` below still stops the embedded servers.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            # Phones send small JSON; refuse big frames before buffering them.
            ws_max_size=64 * 1024,
            proxy_headers=True,
            log_level=args.log_level,
        )
    finally:
        urls.stop_embedded()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.main import run_worker

    return run_worker(settings, burst=args.burst)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcx", description="MCX, the micro-credential exchange.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="migrate, load the demo, run the web app and the worker together (laptop)"
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument(
        "--log-level", default="warning", help="of the web app and the worker (info: every request)"
    )
    run.set_defaults(run=cmd_run)
    serve = sub.add_parser("serve", help="run the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="web processes")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=cmd_serve)
    worker = sub.add_parser("worker", help="run the background worker (arq)")
    worker.add_argument("--burst", action="store_true", help="run queued jobs, then exit")
    worker.add_argument("--log-level", default="info")
    worker.set_defaults(run=cmd_worker)
    sub.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(
        run=cmd_migrate
    )
    sub.add_parser("demo", help="load the demo catalogue and people (idempotent)").set_defaults(
        run=cmd_demo
    )
    q = sub.add_parser("queue", help="the live review queue").add_subparsers(
        dest="queue", required=True
    )
    q.add_parser("rebuild", help="rebuild the Redis queue from PostgreSQL").set_defaults(
        run=cmd_queue_rebuild
    )
    key_commands = sub.add_parser("keys", help="issuer signing keys").add_subparsers(
        dest="keys", required=True
    )
    rotate = key_commands.add_parser(
        "rotate", help="new signing keys for an organisation (old ones stay published)"
    )
    rotate.add_argument("organisation", help="organisation slug")
    rotate.set_defaults(run=cmd_keys_rotate)
    push = sub.add_parser("push", help="Web Push").add_subparsers(dest="push", required=True)
    push.add_parser(
        "rotate-key", help="retire the VAPID key and make a new one for new subscriptions"
    ).set_defaults(run=cmd_push_rotate_key)
    user = sub.add_parser("user", help="manage people").add_subparsers(dest="user", required=True)
    add = user.add_parser("add", help="add a person")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument(
        "--password", help="at least 10 characters (or set MCX_NEW_USER_PASSWORD)", default=None
    )
    add.add_argument("--school", default=None)
    add.add_argument("--organisation", help="organisation slug for --roles")
    add.add_argument("--roles", default="", help="comma-separated: earner,reviewer,expert,...")
    add.set_defaults(run=cmd_user_add)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = getattr(logging, str(getattr(args, "log_level", "info")).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The embedded servers keep their logs in their own files (postgres/log, redis/redis.log);
    # pgserver would otherwise echo every initdb and pg_ctl line here.
    for noisy in ("pgserver", "app.embedded"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    return int(args.run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
