"""Sign up, log in, log out, and personal API tokens."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.access import require_user
from app.actions import accounts
from app.auth import current_user
from app.errors import ActionError
from app.models import ApiToken
from app.templating import templates
from app.views import form_fields


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a fresh log-in to another origin.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _start_session(request: Request, user_id: uuid.UUID, version: int) -> None:
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session.update({"uid": str(user_id), "sv": version})
    if csrf:
        request.session["csrf"] = csrf


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return templates.TemplateResponse(request, "signup.html", {"form": {}})
    form = await form_fields(request)
    runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as session:
            user = await accounts.create_user(
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
    _start_session(request, user.id, user.session_version)
    return RedirectResponse("/", status_code=303)


async def login(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return templates.TemplateResponse(request, "login.html", {"form": {}, "next": next_url})
    form = await form_fields(request)
    runtime = request.app.state.runtime
    try:
        async with runtime.sessions() as session:
            user = await accounts.log_in(
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
    _start_session(request, user.id, user.session_version)
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


async def logout(request: Request) -> Response:
    user = await current_user(request)
    form = await form_fields(request)
    if user is not None and form.get("everywhere") == "1":
        async with request.app.state.runtime.sessions() as session:
            await accounts.log_out_everywhere(session, user)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


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
    Route("/account/tokens", tokens, methods=["GET", "POST"]),
    Route("/account/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
]
