"""What MCX pushes: the categories a person turns on or off, and for each kind of push its
category, time to live, urgency, and how it reads on a lock screen.

A reviewer's push never names an earner or a school: only the credential and the pool. The
text is built here from the notification's payload, never copied from free text a person typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class Category:
    label: str
    audience: str  # reviewer, earner or coordinator: who the settings page offers it to
    default: bool


CATEGORIES: dict[str, Category] = {
    "new_work": Category("There is new work I may claim in my pools", "reviewer", True),
    "claim": Category("My claim is about to run out, or has run out", "reviewer", True),
    "claimed": Category("A reviewer starts on my packet", "earner", False),
    "feedback": Category("A review of my packet arrives", "earner", True),
    "decision": Category("My packet is decided, or my appeal ruled on", "earner", True),
    "badge": Category("A badge is awarded, about to expire or revoked", "earner", True),
    "appeals": Category("An appeal waits for my ruling", "coordinator", True),
    "overdue": Category(
        "Work in my organisation waits past its time target (once a day)", "coordinator", True
    ),
}


@dataclass(frozen=True)
class Draft:
    """A push before it is addressed to a device."""

    kind: str
    title: str
    body: str
    target: str  # the path the tap opens (through /push/open/{id})
    data: dict[str, Any]


@dataclass(frozen=True)
class Kind:
    category: str
    ttl: int  # seconds the push service keeps it for a phone that is off; also how long it
    # may wait out quiet hours
    urgency: str  # RFC 8030 section 5.3: very-low, low, normal, high
    render: Callable[[Mapping[str, Any]], tuple[str, str, str]] | None = None


def _text(payload: Mapping[str, Any], name: str, limit: int = 120) -> str:
    value = payload.get(name)
    return str(value)[:limit] if value else ""


def _packet(payload: Mapping[str, Any]) -> str:
    return f"/submissions/{_text(payload, 'submission_id', 40)}"


def _decided(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    credential = _text(payload, "credential") or "your packet"
    if payload.get("decision") == "pass":
        return "You passed", f"{credential}: the reviewers' decision is in.", _packet(payload)
    return "Not yet", f"{credential}: read the feedback and revise.", _packet(payload)


def _ruled(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    state = {"upheld": "upheld", "overturned": "overturned"}.get(
        str(payload.get("state")), "ruled on"
    )
    return "Your appeal was ruled on", f"The decision was {state}.", _packet(payload)


KINDS: dict[str, Kind] = {
    # Reviewers. work.new and claim.expiring are made by app.push.outbox, not by notifications.
    "work.new": Kind("new_work", 15 * 60, "normal"),
    "claim.expiring": Kind("claim", 10 * 60, "high"),
    "claim.expired": Kind(
        "claim",
        HOUR,
        "normal",
        lambda p: ("Your claim ended", "The packet went back to the queue.", "/review"),
    ),
    # Earners.
    "submission.claimed": Kind(
        "claimed",
        2 * HOUR,
        "low",
        lambda p: (
            "Your packet is being reviewed",
            f"A reviewer started on {_text(p, 'credential') or 'your packet'}.",
            _packet(p),
        ),
    ),
    "review.received": Kind(
        "feedback",
        DAY,
        "normal",
        lambda p: (
            "New feedback",
            f"A review of {_text(p, 'credential') or 'your packet'} arrived.",
            _packet(p),
        ),
    ),
    "submission.decided": Kind("decision", 2 * DAY, "high", _decided),
    "appeal.ruled": Kind("decision", 2 * DAY, "normal", _ruled),
    "badge.awarded": Kind(
        "badge",
        7 * DAY,
        "normal",
        lambda p: (
            "You earned a badge",
            _text(p, "title") or "A new badge is in your wallet.",
            f"/badges/{_text(p, 'award_id', 40)}",
        ),
    ),
    "badge.expiring": Kind(
        "badge",
        3 * DAY,
        "low",
        lambda p: (
            "A badge expires soon",
            _text(p, "title"),
            f"/badges/{_text(p, 'award_id', 40)}",
        ),
    ),
    "badge.revoked": Kind(
        "badge",
        3 * DAY,
        "normal",
        lambda p: ("A badge was revoked", _text(p, "reason", 200), "/wallet"),
    ),
    # Coordinators.
    "appeal.opened": Kind(
        "appeals",
        2 * DAY,
        "normal",
        lambda p: (
            "An appeal to rule on",
            f"{_text(p, 'credential') or 'A credential'}: an earner appealed the decision.",
            "/coordinate/appeals",
        ),
    ),
    "work.overdue": Kind("overdue", DAY, "low"),
}

# The notification kinds that become pushes (the others stay in the bell).
FROM_NOTIFICATIONS = sorted(name for name, kind in KINDS.items() if kind.render is not None)


def from_notification(kind: str, payload: Mapping[str, Any]) -> Draft | None:
    """The push for a stored notification, or None when that kind is never pushed."""
    spec = KINDS.get(kind)
    if spec is None or spec.render is None:
        return None
    title, body, target = spec.render(payload)
    return Draft(kind=kind, title=title, body=body, target=target, data={})


def new_work(count: int, pool: str, credential: str, task_ids: list[str]) -> Draft:
    """The batched announcement of open work in one pool: no earner, no school."""
    noun = "review" if count == 1 else "reviews"
    where = "Expert review" if pool == "expert" else "Peer review"
    return Draft(
        kind="work.new",
        title=f"{count} new {noun} waiting",
        body=f"{where}: {credential}"[:200],
        target="/review",
        data={"task_ids": task_ids, "count": count},
    )


def claim_expiring(task_id: str, minutes: int, credential: str) -> Draft:
    return Draft(
        kind="claim.expiring",
        title=f"Your claim ends in {minutes} min",
        body=f"Submit or extend your review of a {credential} packet."[:200],
        target=f"/review/tasks/{task_id}",
        data={"task_id": task_id},
    )


def overdue(count: int, organisation: str) -> Draft:
    noun = "packet waits" if count == 1 else "packets wait"
    return Draft(
        kind="work.overdue",
        title=f"{count} {noun} past the time target",
        body=f"{organisation}: see queue health."[:200],
        target="/coordinate/health",
        data={},
    )
