"""People pages: reviewers and experts of my organisations with their load, inviting more
(email list or CSV, with a report of rows accepted and refused), one person's history,
certifying an expert, suspending and reinstating; and /invite/{token} to accept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import access
from app.actions import people
from app.auth import current_user
from app.errors import ActionError
from app.models import Membership, Organisation
from app.templating import templates
from app.views.apikit import limited_body, path_id
from app.views.coordinator.authoring import coordinated

MAX_CSV = 512 * 1024
LOAD_SQL = text(
    """
    SELECT u.id, u.name, u.email, coalesce(u.school, '') AS school, m.organisation_id, m.role,
           m.suspended_at, m.suspension_reason,
           (SELECT count(*) FROM review_tasks t WHERE t.reviewer_id = u.id
               AND t.state = 'claimed') AS claimed_now,
           (SELECT count(*) FROM reviews r WHERE r.reviewer_id = u.id AND r.state = 'submitted'
               AND r.submitted_at >= :since) AS recent,
           (SELECT count(*) FROM reviews r WHERE r.reviewer_id = u.id
               AND r.state = 'submitted') AS total
      FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.organisation_id = ANY(:orgs) AND m.role IN ('reviewer', 'expert')
     ORDER BY u.name, u.email, m.role
    """
)
HISTORY_SQL = text(
    """
    SELECT r.submitted_at, r.recommendation, c.title, t.pool, t.reason
      FROM reviews r
      JOIN review_tasks t ON t.id = r.task_id
      JOIN submissions s ON s.id = r.submission_id
      JOIN credentials c ON c.id = s.credential_id
     WHERE r.reviewer_id = :user AND r.state = 'submitted' AND c.organisation_id = ANY(:orgs)
     ORDER BY r.submitted_at DESC
     LIMIT 200
    """
)


async def people_page(request: Request, report: people.InviteReport | None = None) -> Response:
    """GET /coordinate/people: everyone who reviews for my organisations, and their load."""
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    since = datetime.now(UTC) - timedelta(days=30)
    async with request.app.state.runtime.sessions() as session:
        rows = (
            await session.execute(LOAD_SQL, {"orgs": [o.id for o in organisations], "since": since})
        ).all()
    names = {o.id: o.name for o in organisations}
    by_person: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        entry = by_person.setdefault(
            row.id,
            {
                "id": row.id,
                "name": row.name,
                "email": row.email,
                "school": row.school,
                "roles": [],
                "claimed_now": row.claimed_now,
                "recent": row.recent,
                "total": row.total,
            },
        )
        suspended = " (suspended)" if row.suspended_at else ""
        entry["roles"].append(f"{row.role} · {names[row.organisation_id]}{suspended}")
    return templates.TemplateResponse(
        request,
        "coordinator/people.html",
        {
            "people": list(by_person.values()),
            "organisations": organisations,
            "report": report,
            "flash": request.session.pop("flash", None),
        },
        status_code=200,
    )


async def people_list(request: Request) -> Response:
    return await people_page(request)


async def invite(request: Request) -> Response:
    """POST /coordinate/people/invite (multipart: organisation, roles, emails and/or file)."""
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    limited = limited_body(request, MAX_CSV + 64 * 1024)
    form = await limited.form(max_files=1, max_fields=5)
    upload = form.get("file")
    raw = ""
    if upload is not None and not isinstance(upload, str) and upload.filename:
        data = await upload.read(MAX_CSV + 1)
        if len(data) > MAX_CSV:
            raise ActionError("too_large", "A CSV of invitations is limited to 512 KB.", 413)
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ActionError("bad_csv", "The CSV must be UTF-8 text.", 422) from None
    else:
        pasted = form.get("emails")
        raw = pasted if isinstance(pasted, str) else ""
    if "\x00" in raw:
        raise ActionError("bad_text", "Text cannot contain NUL characters.", 400)
    slug = form.get("organisation")
    chosen = next((o for o in organisations if o.slug == slug), None)
    if chosen is None:
        raise ActionError("bad_organisation", "Choose one of your organisations.", 422)
    roles = form.get("roles")
    rows = people.parse_invites(raw, roles if isinstance(roles, str) and roles else "reviewer")
    if not rows:
        raise ActionError("nothing_to_invite", "Give at least one email address.", 422)
    async with request.app.state.runtime.sessions() as session:
        report = await people.invite_people(
            session, user, chosen.id, rows, request.app.state.runtime.settings.base_url
        )
    return await people_page(request, report)


async def person_page(request: Request) -> Response:
    """GET /coordinate/people/{user_id}: roles, load and review history in my organisations."""
    user = access.require_user(await current_user(request))
    async with request.app.state.runtime.sessions() as session:
        person, shared = await people.managed_person(session, user, path_id(request, "user_id"))
        memberships = (
            await session.exec(
                select(Membership, Organisation)
                .join(Organisation, col(Organisation.id) == col(Membership.organisation_id))
                .where(Membership.user_id == person.id)
                .where(col(Membership.organisation_id).in_(shared))
                .order_by(col(Organisation.name), col(Membership.role))
            )
        ).all()
        history = (await session.execute(HISTORY_SQL, {"user": person.id, "orgs": shared})).all()
        claimed = (
            await session.execute(
                text(
                    "SELECT count(*) FROM review_tasks WHERE reviewer_id = :u AND state = 'claimed'"
                ),
                {"u": person.id},
            )
        ).scalar_one()
    organisations: dict[uuid.UUID, dict[str, Any]] = {}
    for membership, organisation in memberships:
        entry = organisations.setdefault(
            organisation.id, {"organisation": organisation, "roles": [], "suspended": None}
        )
        entry["roles"].append(membership.role)
        if membership.suspended_at:
            entry["suspended"] = membership.suspension_reason
    return templates.TemplateResponse(
        request,
        "coordinator/person.html",
        {
            "person": person,
            "organisations": list(organisations.values()),
            "history": history,
            "claimed": claimed,
            "flash": request.session.pop("flash", None),
        },
    )


async def person_action(request: Request) -> Response:
    """POST /coordinate/people/{user_id}/{suspend|reinstate|certify} (organisation, reason)."""
    user = access.require_user(await current_user(request))
    person_id = path_id(request, "user_id")
    what = request.path_params["what"]
    form = await request.form(max_files=0, max_fields=5)
    try:
        organisation_id = uuid.UUID(str(form.get("organisation", "")))
    except ValueError:
        raise ActionError("bad_organisation", "Choose one of your organisations.", 422) from None
    reason = str(form.get("reason", ""))
    async with request.app.state.runtime.sessions() as session:
        if what == "certify":
            made = await people.certify_expert(session, user, person_id, organisation_id)
            flash = "Certified as an expert." if made else "Already an expert there."
        elif what in ("suspend", "reinstate"):
            changed = await people.set_suspension(
                session, user, person_id, organisation_id, suspend=what == "suspend", reason=reason
            )
            flash = (
                ("Suspended." if what == "suspend" else "Reinstated.") if changed else "No change."
            )
        else:
            raise ActionError("not_found", "That was not found.", 404)
    request.session["flash"] = flash
    return RedirectResponse(f"/coordinate/people/{person_id}", status_code=303)


async def invitation_page(request: Request) -> Response:
    """GET/POST /invite/{token}: an invited person chooses a password, then logs in."""
    token = request.path_params["token"]
    runtime = request.app.state.runtime
    error = None
    async with runtime.sessions() as session:
        _, invited = await people.invitation_for(session, token)
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=5)
            try:
                await people.accept_invitation(session, token, str(form.get("password", "")))
            except ActionError as refused:
                if refused.status == 404:
                    raise
                error = refused.detail
            else:
                request.session["flash"] = "Your password is set: log in."
                return RedirectResponse(f"/login?email={invited.email}", status_code=303)
    return templates.TemplateResponse(
        request,
        "coordinator/invitation.html",
        {"invited": invited, "error": error},
        status_code=422 if error else 200,
    )


routes = [
    Route("/coordinate/people", people_list),
    Route("/coordinate/people/invite", invite, methods=["POST"]),
    Route("/coordinate/people/{user_id}", person_page),
    Route("/coordinate/people/{user_id}/{what}", person_action, methods=["POST"]),
    Route("/invite/{token}", invitation_page, methods=["GET", "POST"]),
]
