"""The earner's packets: start one, list mine, the packet page (and its live status as JSON),
and the lifecycle buttons: submit, take back, withdraw, resubmit after "not yet", appeal."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import access
from app.actions import appeals, coaching, submissions
from app.csrf import csrf_token
from app.errors import ActionError
from app.models import User
from app.runtime import Runtime
from app.templating import templates
from app.views import form_fields
from app.views.apikit import caller, path_id
from app.views.earner.packet import LIVE_KINDS, PRIVACY_CHOICES, Packet, load_packet
from app.views.earner.progress import my_packets, stack_progress
from app.views.earner.responses import json_errors, see_other

# Refusals that mean "not yours" or "log in": answered as such, never as the page with a note.
_NOT_A_PAGE_ERROR = (401, 404)


def packet_href(submission_id: uuid.UUID) -> str:
    return f"/submissions/{submission_id}"


async def _packet(request: Request, submission_id: uuid.UUID) -> Packet:
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        submission, credential = await access.access_submission(session, user, submission_id)
        return await load_packet(
            session, submission, credential, owner=submission.earner_id == user.id
        )


async def render_packet(
    request: Request,
    submission_id: uuid.UUID,
    *,
    error: ActionError | None = None,
    criterion_id: uuid.UUID | None = None,
) -> Response:
    """The packet page; with `error`, its message (next to `criterion_id` when given) and
    its status code, so a refused form is answered on the page it came from."""
    packet = await _packet(request, submission_id)
    return templates.TemplateResponse(
        request,
        "earner/packet.html",
        {
            "packet": packet,
            "error": error.detail if error else None,
            "error_criterion": criterion_id,
            "live_kinds": " ".join(LIVE_KINDS),
            "privacy_choices": PRIVACY_CHOICES,
        },
        status_code=error.status if error else 200,
    )


async def show(request: Request) -> Response:
    """GET /submissions/{id}: the packet page (the earner's, or read-only for its coordinators)."""
    return await render_packet(request, path_id(request, "submission_id"))


async def my_submissions(request: Request) -> Response:
    """GET /me/submissions: my packets with their status, and my progress through stacks."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        rows = await my_packets(session, user)
        stacks = await stack_progress(session, user)
    return templates.TemplateResponse(
        request, "earner/submissions.html", {"rows": rows, "stacks": stacks}
    )


def packet_json(request: Request, packet: Packet) -> dict[str, Any]:
    """The live parts of the packet page as data (level labels resolved), plus `fragment`:
    the same parts as HTML from the page's own template, for earner.js to swap in."""
    outcome = packet.current.outcome
    return {
        "id": str(packet.submission.id),
        "state": packet.submission.state,
        "status": {
            "key": packet.status.key,
            "label": packet.status.label,
            "detail": packet.status.detail,
        },
        "editable": packet.editable,
        "version": packet.current.number,
        "missing": packet.missing,
        "outcome": {
            "decision": outcome.decision,
            "label": outcome.label,
            "rule": outcome.rule,
            "badge_url": f"/badges/{outcome.award_id}" if outcome.award_id else None,
        }
        if outcome
        else None,
        "feedback": [
            {
                "review": feedback.number,
                "recommendation": feedback.recommendation,
                "feedback": feedback.overall,
                "scores": [
                    {
                        "criterion": score.criterion,
                        "level": score.level,
                        "points": score.points,
                        "comment": score.comment,
                    }
                    for score in feedback.scores
                ],
            }
            for feedback in packet.current.feedback
        ],
        "fragment": templates.get_template("earner/_live.html").render(
            packet=packet, csrf_token=csrf_token(request)
        ),
    }


@json_errors
async def status_json(request: Request) -> Response:
    """GET /submissions/{id}/status.json: what earner.js refetches on a live event."""
    packet = await _packet(request, path_id(request, "submission_id"))
    return JSONResponse(packet_json(request, packet), headers={"Cache-Control": "no-store"})


async def start(request: Request) -> Response:
    """POST /credentials/{credential_id}/start (field `privacy`): a new packet, then its page."""
    runtime, user = await caller(request)
    credential_id = path_id(request, "credential_id")
    form = await form_fields(request)
    async with runtime.sessions() as session:
        submission = await submissions.start_submission(
            session, user, credential_id, form.get("privacy") or "reviewers"
        )
    return see_other(packet_href(submission.id))


Lifecycle = Callable[[Runtime, User, uuid.UUID, dict[str, str]], Awaitable[object]]


def _lifecycle(step: Lifecycle, doc: str) -> Callable[[Request], Awaitable[Response]]:
    """A form button on the packet page: run one action, then back to the page (303), or
    the page again with the action's message and status code."""

    async def endpoint(request: Request) -> Response:
        runtime, user = await caller(request)
        submission_id = path_id(request, "submission_id")
        form = await form_fields(request)
        try:
            await step(runtime, user, submission_id, form)
        except ActionError as error:
            if error.status in _NOT_A_PAGE_ERROR:
                raise
            return await render_packet(request, submission_id, error=error)
        return see_other(packet_href(submission_id))

    endpoint.__name__ = step.__name__.lstrip("_")  # the route's name
    endpoint.__doc__ = doc
    return endpoint


async def _submit(
    runtime: Runtime, user: User, submission_id: uuid.UUID, _: dict[str, str]
) -> object:
    return await submissions.submit_evidence(runtime, user, submission_id)


async def _withdraw(
    runtime: Runtime, user: User, submission_id: uuid.UUID, _: dict[str, str]
) -> object:
    return await submissions.withdraw_submission(runtime, user, submission_id)


async def _take_back(
    runtime: Runtime, user: User, submission_id: uuid.UUID, _: dict[str, str]
) -> object:
    return await submissions.edit_submission(runtime, user, submission_id)


async def _resubmit(
    runtime: Runtime, user: User, submission_id: uuid.UUID, _: dict[str, str]
) -> object:
    async with runtime.sessions() as session:
        return await submissions.resubmit(session, user, submission_id)


async def _appeal(
    runtime: Runtime, user: User, submission_id: uuid.UUID, form: dict[str, str]
) -> object:
    return await appeals.appeal_outcome(runtime, user, submission_id, form.get("reason", ""))


submit = _lifecycle(_submit, "POST /submissions/{id}/submit: hand the packet in.")
withdraw = _lifecycle(_withdraw, "POST /submissions/{id}/withdraw: until the first claim.")
edit = _lifecycle(_take_back, "POST /submissions/{id}/edit: back to draft, until the first claim.")
resubmit = _lifecycle(_resubmit, "POST /submissions/{id}/resubmit: a new version after not yet.")
appeal = _lifecycle(_appeal, "POST /submissions/{id}/appeal (field `reason`): contest not yet.")


async def _coaching(
    runtime: Runtime, user: User, submission_id: uuid.UUID, form: dict[str, str]
) -> object:
    return await coaching.request_coaching(runtime, user, submission_id, form.get("message", ""))


request_coaching = _lifecycle(
    _coaching, "POST /submissions/{id}/coaching (field `message`): after the last not yet."
)
