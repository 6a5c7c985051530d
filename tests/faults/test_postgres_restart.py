"""PostgreSQL crashes and comes back under load: requests fail cleanly (503 + Retry-After,
nothing half-written) and MCX recovers by itself, without being restarted."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from app.models import Role
from tests import factories as f
from tests.factories import auth
from tests.faults.conftest import Cluster, until

EARNERS = 24


async def test_postgres_crash_and_restart_under_load_fails_cleanly_and_recovers(
    cluster: Cluster,
) -> None:
    rt = cluster.runtime
    credential = await f.credential(rt)
    earners = [
        await f.token_for(rt, await f.person(rt, f"earner{i}", [Role.earner]))
        for i in range(EARNERS)
    ]
    base = await cluster.serve()
    statuses: Counter[int] = Counter()
    no_hint = 0
    started: set[str] = set()  # earners told 201
    stop = asyncio.Event()

    async def earner(token: str) -> None:
        """Looks around and starts one submission, like a phone; retries after a 503."""
        nonlocal no_hint
        done = False
        while not stop.is_set():
            for method, path, body in (
                ("GET", "/api/v1/me", None),
                ("GET", "/api/v1/credentials", None),
                ("GET", "/api/v1/tasks", None),
                *(
                    []
                    if done
                    else [
                        (
                            "POST",
                            "/api/v1/submissions",
                            {"credential_id": str(credential.id), "privacy": "reviewers"},
                        )
                    ]
                ),
            ):
                try:
                    response = await http.request(method, path, json=body, headers=auth(token))
                except httpx.TransportError:
                    statuses[0] += 1
                    continue
                statuses[response.status_code] += 1
                if response.status_code == 503:
                    no_hint += not response.headers.get("retry-after", "").isdigit()
                    assert response.json()["error"] == "unavailable"
                elif method == "POST" and response.status_code in (201, 409):
                    # 409: an earlier attempt committed although its answer was lost.
                    done = True
                    if response.status_code == 201:
                        started.add(token)
                else:
                    assert response.status_code == 200, (path, response.text)
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        load = asyncio.gather(*(earner(token) for token in earners))
        await until(lambda: _seen(statuses, 200, 50), what="load before the crash")

        await asyncio.to_thread(cluster.pg.crash)
        await until(lambda: _seen(statuses, 503, 5), what="503s while PostgreSQL is down")
        assert (await http.get("/readyz")).status_code == 503
        await asyncio.to_thread(cluster.pg.start_again)

        async def recovered() -> bool:
            return (await http.get("/api/v1/me", headers=auth(earners[0]))).status_code == 200

        await until(recovered, what="MCX answering again after PostgreSQL came back")
        stop.set()
        await load
        assert cluster.alive("serve")  # recovered without a restart
        # Every pooled connection works again, not just the first one tried.
        answers = await asyncio.gather(
            *(http.get("/api/v1/me", headers=auth(token)) for token in earners)
        )
        assert [a.status_code for a in answers] == [200] * EARNERS
        assert (await http.get("/readyz")).status_code == 200

    assert statuses[500] == 0 and no_hint == 0, statuses
    await rt.engine.dispose()  # the test's own pooled connections died with the server too
    # Nothing half-written: every submission has its first version, and nobody told 201 is
    # missing one; nobody holds two.
    assert (
        await cluster.count(
            "SELECT count(*) FROM submissions s"
            " WHERE NOT EXISTS (SELECT 1 FROM submission_versions v WHERE v.submission_id = s.id)"
        )
        == 0
    )
    holders = await cluster.count("SELECT count(DISTINCT earner_id) FROM submissions")
    assert holders == await cluster.count("SELECT count(*) FROM submissions")
    assert len(started) <= holders <= EARNERS


async def _seen(statuses: Counter[int], status: int, n: int) -> bool:
    await asyncio.sleep(0)
    return statuses[status] >= n


def test_only_connection_failures_count_as_unavailable() -> None:
    from sqlalchemy import exc as sa_exc

    from app.errors import is_unavailable

    lost = sa_exc.DBAPIError("SELECT 1", {}, ConnectionResetError("reset by peer"))
    assert is_unavailable(lost)
    assert is_unavailable(FileNotFoundError(2, "No such file or directory"))  # a unix socket
    # A bug stays a 500, and a missing file stays what it is.
    assert not is_unavailable(sa_exc.IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not is_unavailable(FileNotFoundError(2, "No such file", "/data/uploads/ab/cd"))
    assert not is_unavailable(ValueError("bad"))
