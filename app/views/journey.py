"""The sentences the earner's-journey notifications read as (issue 10), for the bell and the
notifications page: nudges, study-group comments, coaching, evidence flags."""

from __future__ import annotations

import uuid
from typing import Any


def _id(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def describe(kind: str, payload: dict[str, Any]) -> tuple[str, str | None] | None:
    """(text, link) for a journey notification; None for any other kind."""
    credential = str(payload.get("credential") or "your credential")
    submission = _id(payload.get("submission_id"))
    packet = f"/submissions/{submission}" if submission else None
    if kind == "nudge.idle_draft":
        return f"Your draft for {credential} is waiting for you; everything is saved.", packet
    if kind == "nudge.pilot_spots":
        left = int(payload.get("left") or 0)
        return f"Only {left} pilot spot(s) left for {credential}: submit to hold one.", packet
    if kind == "nudge.waiting_work":
        count = int(payload.get("tasks") or 0)
        return f"{count} packet(s) in your pools have waited past the time target.", "/review"
    if kind == "group.comment":
        author = str(payload.get("author") or "A group member")
        return (
            f"{author} commented on your draft in {payload.get('group') or 'your group'}.",
            packet,
        )
    if kind == "coaching.requested":
        earner = str(payload.get("earner") or "An earner")
        return f"{earner} asked for coaching on {credential}.", "/coaching"
    if kind == "coaching.closed":
        return "Your coaching request was closed. " + str(payload.get("note") or ""), packet
    if kind == "integrity.flagged":
        return f"Evidence for {credential} matches another earner's: please review.", "/integrity"
    return None
