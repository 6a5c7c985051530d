"""Authoring pages: a new credential, editing one (six components, submission criteria,
alignments, the rubric builder), its badge image, and catalogue import/export."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import access, evidence
from app.actions import authoring, transfer
from app.actions.submissions import discard_unreferenced
from app.auth import current_user
from app.errors import ActionError, not_found
from app.models import ArtifactKind, Organisation, Role, User
from app.specs import CredentialSpec, error_sentence
from app.templating import templates
from app.views.apikit import body, caller, file_chunks, limited_body, path_id
from app.views.coordinator import form as authoring_form

KINDS = [(kind.value, kind.value.capitalize()) for kind in ArtifactKind]
MAX_IMPORT_BYTES = 2 * 1024 * 1024


async def coordinated(request: Request, user: User) -> list[Organisation]:
    """The organisations this person coordinates, by name; 404 when none."""
    async with request.app.state.runtime.sessions() as session:
        ids = {o for o, role in await access.roles_of(session, user) if role == Role.coordinator}
        if not ids:
            raise not_found("That page")
        rows = await session.exec(
            select(Organisation)
            .where(col(Organisation.id).in_(ids))
            .order_by(col(Organisation.name))
        )
        return list(rows.all())


async def big_form(request: Request) -> dict[str, str]:
    """A url-encoded form with many fields (the rubric builder has hundreds)."""
    form = await request.form(max_files=0, max_fields=1500)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if any("\x00" in key or "\x00" in value for key, value in fields.items()):
        raise ActionError("bad_text", "Text cannot contain NUL characters.", 400)
    fields.pop("csrf_token", None)
    return fields


def _render(
    request: Request,
    draft: authoring_form.Draft,
    *,
    action: str,
    heading: str,
    organisations: list[Organisation] | None = None,
    organisation: str = "",
    errors: dict[str, str] | None = None,
    summary: list[str] | None = None,
    credential_id: uuid.UUID | None = None,
    locked: bool = False,
) -> Response:
    return templates.TemplateResponse(
        request,
        "coordinator/author.html",
        {
            "draft": draft,
            "action": action,
            "heading": heading,
            "organisations": organisations or [],
            "organisation": organisation,
            "errors": errors or {},
            "summary": summary or [],
            "kinds": KINDS,
            "credential_id": credential_id,
            "locked": locked,
            "max_levels": authoring_form.MAX_LEVELS,
        },
        status_code=422 if errors else 200,
    )


def _validate(
    draft: authoring_form.Draft, fixed: dict[str, Any]
) -> tuple[CredentialSpec | None, dict[str, str], list[str]]:
    """The spec, or every error as {field: message} plus the summary list."""
    data, mapping, errors = authoring_form.spec_input(draft, fixed)
    summary = list(errors.values())
    try:
        spec = CredentialSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            # A list field (accepted file types) fails once per item: one sentence per field.
            loc = tuple(error["loc"])
            if len(loc) == 4 and loc[0] == "submission_criteria" and isinstance(loc[3], int):
                loc = loc[:3]
            field, words = authoring_form.field_of(loc, mapping)
            if field in errors:
                continue
            errors[field] = f"{words}: {error_sentence(field, error)}."
            summary.append(errors[field])
        return None, errors, summary
    return (spec, errors, summary) if errors else (spec, {}, [])


async def new_credential(request: Request) -> Response:
    """GET/POST /coordinate/credentials/new: author a credential; it starts as a draft."""
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    slugs = [o.slug for o in organisations]
    if request.method == "GET":
        return _render(
            request,
            authoring_form.new_draft(),
            action="/coordinate/credentials/new",
            heading="New credential",
            organisations=organisations,
            organisation=request.query_params.get("organisation", slugs[0]),
        )
    form = await big_form(request)
    draft = authoring_form.draft_from_form(form)
    organisation = form.get("organisation", "")
    page: dict[str, Any] = {
        "action": "/coordinate/credentials/new",
        "heading": "New credential",
        "organisations": organisations,
        "organisation": organisation,
    }
    if "add" in form:
        authoring_form.add_row(draft, form["add"])
        return _render(request, draft, **page)
    spec, errors, summary = _validate(draft, {"organisation": organisation, "status": "draft"})
    if organisation not in slugs:
        errors["organisation"] = "Organisation: choose one you coordinate."
        summary.insert(0, errors["organisation"])
    if spec is None or errors:
        return _render(request, draft, errors=errors, summary=summary, **page)
    try:
        async with request.app.state.runtime.sessions() as session:
            credential = await authoring.author_credential(session, user, spec)
    except ActionError as refused:
        if refused.code != "slug_taken":
            raise
        errors = {"slug": f"Short name (slug): {refused.detail}"}
        return _render(request, draft, errors=errors, summary=list(errors.values()), **page)
    request.session["flash"] = (
        "Created as a draft. Set its review policy, then pilot or publish it."
    )
    return RedirectResponse(f"/coordinate/credentials/{credential.id}", status_code=303)


async def edit_credential(request: Request) -> Response:
    """GET/POST /coordinate/credentials/{id}/edit: change the authored parts."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    async with request.app.state.runtime.sessions() as session:
        credential = await authoring.managed(session, user, credential_id)
        current = await transfer.spec_of(session, credential)
        locked = await authoring.has_submissions(session, credential.id)
    action = f"/coordinate/credentials/{credential_id}/edit"
    page: dict[str, Any] = {
        "action": action,
        "heading": f"Edit {credential.title}",
        "credential_id": credential_id,
        "locked": locked,
        "organisation": current.organisation,
    }
    if request.method == "GET":
        return _render(request, authoring_form.draft_of(current), **page)
    form = await big_form(request)
    draft = authoring_form.draft_from_form(form)
    if "add" in form:
        authoring_form.add_row(draft, form["add"])
        return _render(request, draft, **page)
    # Status and review policy belong to the settings form: carried over unchanged.
    fixed = current.model_dump(
        include={
            "organisation",
            "status",
            "pilot_spots",
            "stakes",
            "peer_reviews",
            "expert_reviews",
            "lease_minutes",
            "blind_review",
            "exclude_same_school",
            "target_hours",
        }
    )
    spec, errors, summary = _validate(draft, fixed)
    if spec is None or errors:
        return _render(request, draft, errors=errors, summary=summary, **page)
    try:
        async with request.app.state.runtime.sessions() as session:
            changed = await authoring.edit_credential(session, user, credential_id, spec)
    except ActionError as refused:
        if refused.status == 404:
            raise
        field = "slug" if refused.code == "slug_taken" else "form"
        errors = {field: refused.detail}
        return _render(request, draft, errors=errors, summary=[refused.detail], **page)
    request.session["flash"] = (
        "Saved: " + ", ".join(part.replace("_", " ") for part in changed) + "."
        if changed
        else "Nothing changed."
    )
    return RedirectResponse(f"/coordinate/credentials/{credential_id}", status_code=303)


async def badge_image(request: Request) -> Response:
    """POST /coordinate/credentials/{id}/image (multipart `image`): a PNG or JPEG badge."""
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        await authoring.managed(session, user, credential_id)
    limited = limited_body(request, authoring.MAX_BADGE_BYTES + 64 * 1024)
    form = await limited.form(max_files=1, max_fields=2)
    upload = form.get("image")
    if upload is None or isinstance(upload, str):
        raise ActionError("file_required", "Choose a PNG or JPEG image to upload.", 422)
    stored = await evidence.store_stream(
        file_chunks(upload),
        uploads_dir=runtime.settings.uploads_dir,
        max_bytes=authoring.MAX_BADGE_BYTES,
        filename=upload.filename,
    )
    try:
        async with runtime.sessions() as session:
            await authoring.set_badge_image(session, user, credential_id, stored)
    except ActionError:
        await discard_unreferenced(runtime, stored)
        raise
    request.session["flash"] = "Badge image saved."
    return RedirectResponse(f"/coordinate/credentials/{credential_id}", status_code=303)


async def credential_image(request: Request) -> Response:
    """GET /credential-images/{sha}.{png|jpg}: a badge image (public, immutable)."""
    name = request.path_params["name"]
    sha, _, ext = name.partition(".")
    media = {"png": "image/png", "jpg": "image/jpeg"}.get(ext)
    if media is None or len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        raise not_found("That image")
    path = evidence.path_for(request.app.state.runtime.settings.uploads_dir, sha)
    if not path.is_file():
        raise not_found("That image")
    return FileResponse(
        path, media_type=media, headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


async def export_catalogue(request: Request) -> Response:
    """GET /coordinate/catalogue/{organisation}.json (?shape=ob3 for OB 3.0 achievements)."""
    user = access.require_user(await current_user(request))
    runtime = request.app.state.runtime
    slug = request.path_params["organisation"]
    async with runtime.sessions() as session:
        document = await transfer.export_catalogue(session, user, slug)
    if request.query_params.get("shape") == "ob3":
        body: Any = [
            transfer.achievement_of(CredentialSpec.model_validate(c), runtime.settings.base_url)
            for c in document["credentials"]
        ]
        filename = f"{slug}-achievements.json"
    else:
        body, filename = document, f"{slug}-catalogue.json"
    return Response(
        json.dumps(body, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def import_page(request: Request) -> Response:
    """GET/POST /coordinate/catalogue/import: paste or upload a catalogue; every error listed."""
    user = access.require_user(await current_user(request))
    organisations = await coordinated(request, user)
    context: dict[str, Any] = {"organisations": organisations, "errors": [], "imported": None}
    if request.method == "GET":
        return templates.TemplateResponse(request, "coordinator/import.html", context)
    limited = limited_body(request, MAX_IMPORT_BYTES + 64 * 1024)
    form = await limited.form(max_files=1, max_fields=3)
    upload = form.get("file")
    raw: bytes | str = ""
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = await upload.read(MAX_IMPORT_BYTES + 1)
    else:
        pasted = form.get("document")
        raw = pasted if isinstance(pasted, str) else ""
    status = 200
    try:
        if not raw or len(raw) > MAX_IMPORT_BYTES:
            raise transfer.InvalidCatalogue(
                [{"path": "(document)", "message": "give a catalogue of up to 2 MB"}]
            )
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise transfer.InvalidCatalogue(
                [{"path": "(document)", "message": "this is not valid JSON"}]
            ) from None
        async with request.app.state.runtime.sessions() as session:
            context["imported"] = await transfer.import_catalogue(session, user, data)
    except transfer.InvalidCatalogue as refused:
        context["errors"] = refused.errors
        status = 422
    return templates.TemplateResponse(
        request, "coordinator/import.html", context, status_code=status
    )


# --- the JSON API ---------------------------------------------------------------------------


async def api_create(request: Request) -> JSONResponse:
    """POST /api/v1/credentials: a CredentialSpec; 201 with the new id."""
    runtime, user = await caller(request)
    spec = await body(request, CredentialSpec)
    async with runtime.sessions() as session:
        credential = await authoring.author_credential(session, user, spec)
    return JSONResponse({"id": str(credential.id), "status": credential.status}, status_code=201)


async def api_edit(request: Request) -> JSONResponse:
    """PUT /api/v1/credentials/{id}: the authored parts, as a CredentialSpec."""
    runtime, user = await caller(request)
    spec = await body(request, CredentialSpec)
    async with runtime.sessions() as session:
        changed = await authoring.edit_credential(
            session, user, path_id(request, "credential_id"), spec
        )
    return JSONResponse({"changed": changed})


async def api_export(request: Request) -> JSONResponse:
    """GET /api/v1/organisations/{organisation}/catalogue: the export document."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        document = await transfer.export_catalogue(
            session, user, request.path_params["organisation"]
        )
    return JSONResponse(document)


async def api_import(request: Request) -> JSONResponse:
    """POST /api/v1/catalogue: import; 422 {"errors": [{path, message}, ...]} writes nothing."""
    runtime, user = await caller(request)
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise ActionError("too_large", "A catalogue is limited to 2 MB.", 413)
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise ActionError("bad_json", "The request body is not valid JSON.", 400) from None
    try:
        async with runtime.sessions() as session:
            made = await transfer.import_catalogue(session, user, data)
    except transfer.InvalidCatalogue as refused:
        return JSONResponse(
            {"error": refused.code, "detail": refused.detail, "errors": refused.errors},
            status_code=422,
        )
    return JSONResponse({"imported": made}, status_code=201)


routes = [
    Route("/coordinate/credentials/new", new_credential, methods=["GET", "POST"]),
    Route("/coordinate/credentials/{credential_id}/edit", edit_credential, methods=["GET", "POST"]),
    Route("/coordinate/credentials/{credential_id}/image", badge_image, methods=["POST"]),
    Route("/credential-images/{name}", credential_image),
    Route("/coordinate/catalogue/import", import_page, methods=["GET", "POST"]),
    Route("/coordinate/catalogue/{organisation}.json", export_catalogue),
    Route("/api/v1/credentials", api_create, methods=["POST"]),
    Route("/api/v1/credentials/{credential_id}", api_edit, methods=["PUT"]),
    Route("/api/v1/organisations/{organisation}/catalogue", api_export),
    Route("/api/v1/catalogue", api_import, methods=["POST"]),
]
