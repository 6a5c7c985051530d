"""The simulated people, acting on a compressed clock through MCX's public HTTP API.

One simulated hour lasts `scale` wall seconds. Earners start, write and submit their packet when
they arrive; reviewers and experts drop by now and then, claim the next task, take their time,
and score it according to their trait. Known-answer tasks look like any other task: reviewers
cannot tell them apart, and neither can this code (it only reads the packet's marker)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from app.simulation.population import (
    Earner,
    Population,
    Reviewer,
    Trait,
    available,
    next_available,
    score,
)
from bench.rigour.world import World

MARKER = re.compile(r"\[packet ([\w-]+)\]")
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WORDS = (
    "students discussion evidence lesson feedback inquiry questions model practice growth "
    "reading writing talk partners goals criteria rubric exit ticket data small groups "
    "vocabulary scaffold reflect revise assess conference anchor chart routine strategy"
).split()


class Clock:
    """Simulated hours since the start; one simulated hour lasts `scale` wall seconds."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.started = time.monotonic()

    def hours(self) -> float:
        return (time.monotonic() - self.started) / self.scale

    async def sleep(self, hours: float) -> None:
        await asyncio.sleep(max(0.0, hours) * self.scale)


@dataclass
class Log:
    """What the simulation saw happen (the database says the rest)."""

    submission_of: dict[str, str] = field(default_factory=dict)  # earner key -> submission id
    submitted_wall: dict[str, datetime] = field(default_factory=dict)
    reviews: Counter[str] = field(default_factory=Counter)  # reviewer key -> reviews submitted
    blocked_after: dict[str, int] = field(default_factory=dict)  # reviews done when refused
    refusals: Counter[str] = field(default_factory=Counter)  # refusal code -> count
    abandoned: int = 0
    late: int = 0  # reviews refused because the lease had run out
    expert_reviews: int = 0
    errors: list[str] = field(default_factory=list)
    # Wall seconds each API answer took, by request (ids folded): a simulated hour lasts
    # `scale` seconds, so these are time the simulated people spend waiting too.
    latency: dict[str, list[float]] = field(default_factory=dict)
    # Every claim's outcome: (simulated hour, reviewer key, what came of it).
    claims: list[tuple[float, str, str]] = field(default_factory=list)


def reflection(earner_key: str, rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(160))
    return f"[packet {earner_key}] {words.capitalize()}."


class Actor:
    def __init__(self, world: World, http: httpx.AsyncClient, log: Log, key: str) -> None:
        self.world = world
        self.http = http
        self.log = log
        self.key = key
        self.headers = {"Authorization": f"Bearer {world.tokens[key]}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        began = time.monotonic()
        try:
            response = await self.http.request(method, path, headers=self.headers, **kwargs)
        except httpx.TransportError as exc:
            # Counted (the report shows every one), and the person carries on next visit.
            self.log.errors.append(f"{method} {path}: {exc!r}")
            raise
        request = f"{method} {ID.sub('{id}', path)}"
        self.log.latency.setdefault(request, []).append(time.monotonic() - began)
        if response.status_code >= 500:
            self.log.errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response


async def earner(actor: Actor, who: Earner, clock: Clock, rng: random.Random) -> None:
    await clock.sleep(who.arrives_at - clock.hours())
    for _ in range(3):
        try:
            await _hand_in(actor, who, rng)
            return
        except httpx.TransportError:
            await clock.sleep(0.5)  # already counted; the earner tries again a little later


async def _hand_in(actor: Actor, who: Earner, rng: random.Random) -> None:
    world = actor.world
    started = await actor.call(
        "POST", "/api/v1/submissions", json={"credential_id": str(world.credential_id)}
    )
    if started.status_code != 201:
        actor.log.errors.append(f"start {who.key}: {started.status_code} {started.text[:200]}")
        return
    submission_id = started.json()["id"]
    attached = await actor.call(
        "PUT",
        f"/api/v1/submissions/{submission_id}/artifacts/{world.criterion_id}",
        json={"text": reflection(who.key, rng)},
    )
    submitted = await actor.call("POST", f"/api/v1/submissions/{submission_id}/submit")
    if attached.status_code >= 300 or submitted.status_code >= 300:
        actor.log.errors.append(f"submit {who.key}: {attached.status_code} {submitted.text[:200]}")
        return
    actor.log.submission_of[who.key] = submission_id
    actor.log.submitted_wall[who.key] = datetime.now(UTC)


async def _partner_task(actor: Actor, who: Reviewer) -> httpx.Response | None:
    """A colluder's side channel: the partner said which packet is theirs; claim its open task
    by id, if MCX still lists it for this reviewer."""
    packet = actor.log.submission_of.get(who.partner or "")
    if packet is None:
        return None
    listed = await actor.call("GET", "/api/v1/tasks")
    if listed.status_code != 200:
        return None
    mine = [t for t in listed.json()["tasks"] if t.get("packet") == packet]
    if not mine:
        return None
    return await actor.call("POST", f"/api/v1/tasks/{mine[0]['task_id']}/claim")


async def review_once(
    actor: Actor,
    who: Reviewer,
    truths: dict[str, tuple[int, ...]],
    clock: Clock,
    rng: random.Random,
    hours: float,
    *,
    grab: bool = False,
) -> bool:
    """Claim one task and review it; False when there was nothing (or no right) to claim.
    With `grab`, a colluder's partner's packet, by id, or nothing."""
    claimed = await _partner_task(actor, who) if grab else None
    if grab and (claimed is None or claimed.status_code != 201):
        return False
    if claimed is None:
        claimed = await actor.call("POST", "/api/v1/tasks/claim-next")
    if claimed.status_code == 404:
        actor.log.claims.append((clock.hours(), who.key, "nothing"))
        return False
    if claimed.status_code != 201:
        code = str(claimed.json().get("error", claimed.status_code))  # {"error": code, ...}
        actor.log.claims.append((clock.hours(), who.key, code))
        actor.log.refusals[code] += 1
        actor.log.blocked_after.setdefault(who.key, actor.log.reviews[who.key])
        return False
    claim = claimed.json()
    read = await actor.call("GET", f"/api/v1/tasks/{claim['task_id']}")
    if read.status_code != 200:
        # The claim was lost in between (a lease run out on a loaded machine): counted.
        actor.log.errors.append(f"task {claim['task_id']}: {read.status_code} {read.text[:200]}")
        return False
    task = read.json()
    found = MARKER.search(task["evidence"][0]["text"] or "")
    if found is None or found.group(1) not in truths:
        actor.log.errors.append(f"task {claim['task_id']}: no packet marker")
        return False
    packet = found.group(1)
    actor.log.claims.append(
        (clock.hours(), who.key, "check" if packet.startswith("cal-") else "work")
    )
    if who.trait == Trait.slow and rng.random() < 0.5:
        actor.log.abandoned += 1  # claimed, then forgotten: the lease runs out
        return True
    await clock.sleep(hours)
    levels = score(who, truths[packet], rng, owner=packet)
    criteria = task["rubric"]["criteria"]
    scores = [
        {
            "criterion_id": c["criterion_id"],
            "level_id": sorted(c["levels"], key=lambda lv: lv["points"])[level]["level_id"],
        }
        for c, level in zip(criteria, levels, strict=True)
    ]
    sent = await actor.call(
        "POST",
        f"/api/v1/tasks/{claim['task_id']}/review",
        json={
            "lease_version": claim["lease_version"],
            "scores": scores,
            "feedback": "Scored against the rubric; see each criterion.",
        },
    )
    if sent.status_code == 409:
        actor.log.late += 1
    elif sent.status_code >= 300:
        actor.log.errors.append(f"review {who.key}: {sent.status_code} {sent.text[:200]}")
    else:
        actor.log.reviews[who.key] += 1
        if who.trait == Trait.expert:
            actor.log.expert_reviews += 1
    return True


async def reviewer(
    actor: Actor,
    who: Reviewer,
    truths: dict[str, tuple[int, ...]],
    clock: Clock,
    rng: random.Random,
    stop: asyncio.Event,
    *,
    visit_hours: float,
    review_hours: float,
) -> None:
    """While their schedule lets them, drop by every ~visit_hours (exponential), review up to
    four tasks (another with chance 0.7), leave; outside it, wait for the next window."""
    while not stop.is_set():
        at = clock.hours() + rng.expovariate(1.0 / visit_hours)
        if not available(who.schedule, at):
            at = next_available(who.schedule, at) + rng.uniform(0.0, 1.0)
        await clock.sleep(at - clock.hours())
        for _ in range(4):
            try:
                if stop.is_set() or not await review_once(
                    actor, who, truths, clock, rng, review_hours
                ):
                    break
            except httpx.TransportError:
                break  # already counted; try again on the next visit
            if rng.random() < 0.3:
                break


async def colluder(
    actor: Actor,
    who: Reviewer,
    truths: dict[str, tuple[int, ...]],
    clock: Clock,
    rng: random.Random,
    stop: asyncio.Event,
    *,
    review_hours: float,
) -> None:
    """The grab: the partner messages when their packet is in; from then on, whatever the
    hour, the colluder looks for it in their open work every quarter hour or so (the list shows
    the oldest first: a new packet may show only once the work ahead of it is taken), claims it
    by id as soon as it shows and passes it; after GRAB_HOURS they give up."""
    while not stop.is_set() and who.partner not in actor.log.submission_of:
        await clock.sleep(0.1)
    until = clock.hours() + GRAB_HOURS
    while not stop.is_set() and clock.hours() < until:
        await clock.sleep(rng.uniform(0.05, 0.4))
        try:
            if await review_once(actor, who, truths, clock, rng, review_hours, grab=True):
                return
        except httpx.TransportError:
            continue  # already counted


# How long a colluder keeps looking for their partner's packet.
GRAB_HOURS = 24.0


def review_hours(population: Population, who: Reviewer) -> float:
    params = population.params
    if who.trait == Trait.expert:
        return params.expert_review_hours
    if who.trait == Trait.careless:
        return params.careless_review_hours
    return params.review_hours
