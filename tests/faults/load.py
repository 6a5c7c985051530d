"""Reviewer phones as load: claim the next task, score it, submit; retry what gets a 503."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.factories import auth

# A phone waits Retry-After before trying again; the tests wait less to stay short.
RETRY_PAUSE = 0.2


@dataclass
class Ledger:
    """What the phones were told: the ground truth the database must match afterwards."""

    claims: dict[str, str] = field(default_factory=dict)  # task id -> reviewer token
    reviews: dict[str, str] = field(default_factory=dict)  # task id -> review id
    statuses: Counter[int] = field(default_factory=Counter)
    unavailable_without_hint: int = 0


async def call(
    ledger: Ledger, http: httpx.AsyncClient, method: str, url: str, **kwargs: object
) -> httpx.Response:
    """One request, repeated while the answer is 503 (which must carry Retry-After)."""
    while True:
        try:
            response = await http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            await asyncio.sleep(RETRY_PAUSE)
            continue
        ledger.statuses[response.status_code] += 1
        if response.status_code != 503:
            return response
        if not response.headers.get("retry-after", "").isdigit():
            ledger.unavailable_without_hint += 1
        await asyncio.sleep(RETRY_PAUSE)


async def review_one(ledger: Ledger, http: httpx.AsyncClient, token: str) -> bool:
    """Claim the next task and submit a passing review; False when there is no work."""
    claimed = await call(
        ledger,
        http,
        "POST",
        "/api/v1/tasks/claim-next",
        headers={**auth(token), "Idempotency-Key": uuid.uuid4().hex},
    )
    if claimed.status_code == 404:
        return False
    if claimed.status_code == 409 and claimed.json()["error"] == "already_taken":
        return True  # other phones were quicker to every task it tried
    assert claimed.status_code == 201, claimed.text
    task_id = claimed.json()["task_id"]
    assert task_id not in ledger.claims, f"task {task_id} was claimed twice"
    ledger.claims[task_id] = token
    task = await call(ledger, http, "GET", f"/api/v1/tasks/{task_id}", headers=auth(token))
    assert task.status_code == 200, task.text
    scores = [
        {"criterion_id": c["criterion_id"], "level_id": c["levels"][2]["level_id"]}
        for c in task.json()["rubric"]["criteria"]
    ]
    submitted = await call(
        ledger,
        http,
        "POST",
        f"/api/v1/tasks/{task_id}/review",
        json={
            "lease_version": task.json()["lease_version"],
            "scores": scores,
            "feedback": "Clear plan.",
        },
        headers={**auth(token), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert submitted.status_code == 201, submitted.text
    ledger.reviews[task_id] = submitted.json()["review_id"]
    return True


async def phones(
    ledger: Ledger, http: httpx.AsyncClient, tokens: list[str], stop: asyncio.Event
) -> None:
    """Every reviewer reviewing until `stop` is set."""

    async def phone(token: str) -> None:
        while not stop.is_set():
            if not await review_one(ledger, http, token):
                await asyncio.sleep(0.05)

    await asyncio.gather(*(phone(token) for token in tokens))
