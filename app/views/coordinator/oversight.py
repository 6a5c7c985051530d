"""Appeals to rule on, one submission's record (tasks, outcomes, appeal and its audit trail),
and the log of what coordinators did, for the organisations I coordinate."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import appeals
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import (
    Appeal,
    AuditEntry,
    Credential,
    Outcome,
    ReviewTask,
    Submission,
    SubmissionVersion,
    User,
)
from app.templating import templates
from app.views.apikit import path_id
from app.views.coordinator.authoring import coordinated

APPEALS_SQL = text(
    """
    SELECT a.id, a.state, a.reason, a.ruling, a.created_at, a.ruled_at, o.rule, o.submission_id,
           c.title, ruler.name AS ruled_by
      FROM appeals a
      JOIN outcomes o ON o.id = a.outcome_id
      JOIN submissions s ON s.id = o.submission_id
      JOIN credentials c ON c.id = s.credential_id
      LEFT JOIN users ruler ON ruler.id = a.ruled_by_id
     WHERE c.organisation_id = ANY(:orgs)
     ORDER BY (a.state = 'open') DESC, a.created_at DESC
     LIMIT 200
    """
)
COORDINATOR_LOG_SQL = text(
    """
    SELECT e.id, e.action, e.subject_type, e.subject_id, e.data, e.created_at, u.name AS actor
      FROM audit_log e
      JOIN users u ON u.id = e.actor_id
     WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = e.actor_id
                      AND m.role = 'coordinator' AND m.organisation_id = ANY(:orgs))
       AND (e.subject_type IN ('credential', 'stack', 'organisation', 'user', 'submission'))
       AND (e.action NOT LIKE 'token.%' AND e.action NOT LIKE 'submission.submitted')
     ORDER BY e.id DESC
     LIMIT 200
    """
)


async def appeals_page(request: Request) -> Response:
    """GET /coordinate/appeals: open appeals first, with a ruling form each."""
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    async with request.app.state.runtime.sessions() as session:
        rows = (await session.execute(APPEALS_SQL, {"orgs": [o.id for o in organisations]})).all()
    return templates.TemplateResponse(
        request,
        "coordinator/appeals.html",
        {"appeals": rows, "flash": request.session.pop("flash", None)},
    )


async def rule(request: Request) -> Response:
    """POST /coordinate/appeals/{id}: uphold or overturn, with the ruling's words."""
    user = access.require_user(await current_user(request))
    appeal_id = path_id(request, "appeal_id")
    form = await request.form(max_files=0, max_fields=5)
    decision = form.get("decision")
    if decision not in ("uphold", "overturn"):
        raise ActionError("bad_decision", "Choose to uphold or to overturn.", 422)
    ruled = await appeals.rule_on_appeal(
        request.app.state.runtime,
        user,
        appeal_id,
        overturn=decision == "overturn",
        ruling=str(form.get("ruling", "")),
    )
    request.session["flash"] = f"Ruled: {ruled.state}. The earner has been told."
    return RedirectResponse("/coordinate/appeals", status_code=303)


async def submission_record(request: Request) -> Response:
    """GET /coordinate/submissions/{id}: every version, task, outcome, appeal and audit entry
    (every state change is logged by the database itself)."""
    user = access.require_user(await current_user(request))
    submission_id = path_id(request, "submission_id")
    async with request.app.state.runtime.sessions() as session:
        submission = await session.get(Submission, submission_id)
        credential = await session.get(Credential, submission.credential_id) if submission else None
        if (
            submission is None
            or credential is None
            or not await access.is_coordinator_of(session, user, credential.organisation_id)
        ):
            raise not_found("That submission")
        versions = (
            await session.exec(
                select(SubmissionVersion)
                .where(SubmissionVersion.submission_id == submission.id)
                .order_by(col(SubmissionVersion.number))
            )
        ).all()
        tasks = (
            await session.exec(
                select(ReviewTask, User.name)
                .outerjoin(User, col(User.id) == col(ReviewTask.reviewer_id))
                .where(ReviewTask.submission_id == submission.id)
                .order_by(col(ReviewTask.created_at))
            )
        ).all()
        outcomes = (
            await session.exec(select(Outcome).where(Outcome.submission_id == submission.id))
        ).all()
        appeal_rows = (
            await session.exec(
                select(Appeal)
                .join(Outcome, col(Outcome.id) == col(Appeal.outcome_id))
                .where(Outcome.submission_id == submission.id)
            )
        ).all()
        audit = (
            await session.exec(
                select(AuditEntry, User.name)
                .outerjoin(User, col(User.id) == col(AuditEntry.actor_id))
                .where(AuditEntry.subject_type == "submission")
                .where(AuditEntry.subject_id == str(submission.id))
                .order_by(col(AuditEntry.id))
            )
        ).all()
        earner = await session.get(User, submission.earner_id)
    return templates.TemplateResponse(
        request,
        "coordinator/submission.html",
        {
            "submission": submission,
            "credential": credential,
            "earner": earner,
            "versions": versions,
            "tasks": tasks,
            "outcomes": outcomes,
            "appeals": appeal_rows,
            "audit": audit,
        },
    )


async def coordinator_log(request: Request) -> Response:
    """GET /coordinate/audit: what the coordinators of my organisations did, newest first."""
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.execute(COORDINATOR_LOG_SQL, {"orgs": [o.id for o in organisations]})
        ).all()
    return templates.TemplateResponse(request, "coordinator/audit.html", {"entries": rows})


routes = [
    Route("/coordinate/appeals", appeals_page),
    Route("/coordinate/appeals/{appeal_id}", rule, methods=["POST"]),
    Route("/coordinate/submissions/{submission_id}", submission_record),
    Route("/coordinate/audit", coordinator_log),
]
