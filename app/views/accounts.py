"""Sign up, log in, log out (here or everywhere), sessions, and personal API tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import col, func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.access import require_user
from app.actions import accounts
from app.auth import SESSION_AGE, current_user, session_id_of
from app.errors import ActionError
from app.models import ApiToken, CookieSession
from app.templating import templates
from app.views import form_fields


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a fresh log-in to another origin.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _start_session(
    request: Request, user_id: uuid.UUID, version: int, session_id: uuid.UUID
) -> None:
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session.update({"uid": str(user_id), "sv": version, "sid": str(session_id)})
    if csrf:
        request.session["csrf"] = csrf


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return templates.TemplateResponse(request, "signup.html", {"form": {}})
    form = await form_fields(request)
    runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as session:
            user, session_id = await accounts.sign_up(
                session,
                email=form.get("email", ""),
                name=form.get("name", ""),
                password=form.get("password", ""),
                school=form.get("school"),
            )
    except ActionError as error:
        form.pop("password", None)
        return templates.TemplateResponse(
            request, "signup.html", {"form": form, "error": error.detail}, status_code=error.status
        )
    _start_session(request, user.id, user.session_version, session_id)
    return RedirectResponse("/", status_code=303)


async def login(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        context = {"form": {}, "next": next_url, "flash": request.session.pop("flash", None)}
        return templates.TemplateResponse(request, "login.html", context)
    form = await form_fields(request)
    runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as session:
            user, session_id = await accounts.log_in(
                session,
                runtime.redis,
                runtime.settings,
                email=form.get("email", ""),
                password=form.get("password", ""),
                ip=request.client.host if request.client else "unknown",
            )
    except ActionError as error:
        context = {"form": {"email": form.get("email", "")}, "error": error.detail}
        context["next"] = next_url
        return templates.TemplateResponse(request, "login.html", context, status_code=error.status)
    _start_session(request, user.id, user.session_version, session_id)
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


async def logout(request: Request) -> Response:
    """POST /logout: end this session (server-side: a copy of the cookie stops working too);
    with everywhere=1 every session, and with tokens=1 every personal API token as well."""
    user = await current_user(request)
    form = await form_fields(request)
    session_id = session_id_of(request)
    done = None
    if user is not None:
        async with request.app.state.runtime.sessions() as session:
            if form.get("everywhere") == "1":
                done = await accounts.log_out_everywhere(
                    session, user, revoke_tokens=form.get("tokens") == "1"
                )
            elif session_id is not None:
                await accounts.log_out(session, user, session_id)
    request.session.clear()
    if done is None:
        return RedirectResponse("/", status_code=303)
    # Said on the log-in page, in what is now an anonymous session.
    request.session["flash"] = done.message()
    return RedirectResponse("/login", status_code=303)


async def security(request: Request) -> Response:
    """GET /account/security: how many sessions and API tokens are live, log-out here or
    everywhere (optionally revoking the tokens too)."""
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/account/security", status_code=303)
    since = datetime.now(UTC) - SESSION_AGE
    async with request.app.state.runtime.sessions() as session:
        sessions = (
            await session.exec(
                select(func.count())
                .select_from(CookieSession)
                .where(CookieSession.user_id == user.id)
                .where(col(CookieSession.seen_at) > since)
            )
        ).one()
        tokens = (
            await session.exec(
                select(func.count())
                .select_from(ApiToken)
                .where(ApiToken.user_id == user.id)
                .where(col(ApiToken.revoked_at).is_(None))
            )
        ).one()
    return templates.TemplateResponse(
        request,
        "security.html",
        {"sessions": sessions, "tokens": tokens},
    )


async def tokens(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/account/tokens", status_code=303)
    runtime = request.app.state.runtime
    created: str | None = None
    error: ActionError | None = None
    if request.method == "POST":
        form = await form_fields(request)
        try:
            async with runtime.sessions() as session:
                _, created = await accounts.create_api_token(session, user, form.get("name", ""))
        except ActionError as exc:
            error = exc
    async with runtime.sessions() as session:
        rows = (
            await session.exec(
                select(ApiToken)
                .where(ApiToken.user_id == user.id)
                .order_by(col(ApiToken.created_at).desc())
            )
        ).all()
    return templates.TemplateResponse(
        request,
        "tokens.html",
        {"tokens": rows, "created": created, "error": error.detail if error else None},
        status_code=error.status if error else 200,
    )


async def revoke_token(request: Request) -> Response:
    user = require_user(await current_user(request))
    try:
        token_id = uuid.UUID(request.path_params["token_id"])
    except ValueError:
        return RedirectResponse("/account/tokens", status_code=303)
    async with request.app.state.runtime.sessions() as session:
        await accounts.revoke_api_token(session, user, token_id)
    return RedirectResponse("/account/tokens", status_code=303)


routes = [
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account/security", security),
    Route("/account/tokens", tokens, methods=["GET", "POST"]),
    Route("/account/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
]
