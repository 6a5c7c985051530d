"""A malformed form body is a 400 with a clear message, on every route (issue 16, item 3).

The outside probe sent `--XX\\r\\nNone--XX--\\r\\n` as `multipart/form-data; boundary=XX` to the
artifact upload (POST and PUT) and got a 500 from the multipart parser.
"""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from app.models import Role
from app.runtime import Runtime
from tests import factories as f
from tests import media
from tests.factories import auth
from tests.helpers import csrf_from, log_in
from tests.test_security import PASSWORD, _sample_path, state_changing_routes

MULTIPART = {"Content-Type": "multipart/form-data; boundary=XX"}
BODIES = [
    b"--XX\r\nNone--XX--\r\n",  # the probe's body
    b"--XX\r\nContent-Disposition form-data\r\n\r\nabc\r\n--XX--\r\n",  # a header without ':'
    b"--XX\r\n\r\n\r\n--XX--\r\n",  # a part without headers
    b"no boundary at all",
]


async def _artifact_paths(client: httpx.AsyncClient, runtime: Runtime, token: str) -> list[str]:
    credential = await f.credential(runtime)
    started = await client.post(
        "/api/v1/submissions", json={"credential_id": str(credential.id)}, headers=auth(token)
    )
    assert started.status_code == 201, started.text
    submission_id = started.json()["id"]
    criteria = (await client.get(f"/api/v1/credentials/{credential.id}")).json()
    by_kind = {c["kind"]: c["criterion_id"] for c in criteria["submission_criteria"]}
    criterion_id = by_kind["document"]
    return [
        f"/api/v1/submissions/{submission_id}/artifacts/{criterion_id}",
        f"/submissions/{submission_id}/artifacts/{criterion_id}",
    ]


async def test_the_probes_multipart_body_is_a_400_on_the_artifact_upload(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    earner = await f.person(runtime, "earner")
    token = await f.token_for(runtime, earner)
    api_path, _ = await _artifact_paths(client, runtime, token)
    for method in ("POST", "PUT"):
        for body in BODIES:
            answer = await client.request(
                method, api_path, content=body, headers={**MULTIPART, **auth(token)}
            )
            assert answer.status_code == 400, (method, body, answer.text)
            # The parser's errors are `bad_form`; Starlette's own form checks (a part with no
            # name, too many files) are its 400 with their reason.
            assert answer.json()["error"] in ("bad_form", "http_error")
            assert len(answer.json()["detail"]) > 20
    # Nothing was attached, and the upload slot was given back: a good file still goes in.
    slots = await runtime.redis.zcard(f"{runtime.settings.redis_prefix}uploading:{earner.id}")
    assert slots == 0
    fine = await client.post(
        api_path, files={"file": ("plan.pdf", media.pdf(), "application/pdf")}, headers=auth(token)
    )
    assert fine.status_code == 201, fine.text


async def test_every_state_changing_route_answers_a_malformed_form_without_a_5xx(
    app: Starlette, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await f.organisation(runtime)
    await f.person(runtime, "ada", [Role.reviewer, Role.coordinator])
    assert (await log_in(client, "ada@mcx.example", PASSWORD)).status_code == 303
    csrf = await csrf_from(client, "/notifications")
    token = await f.token_for(runtime, await f.person(runtime, "earner"))
    api_path, page_path = await _artifact_paths(client, runtime, token)
    headers = {**MULTIPART, "X-CSRF-Token": csrf}
    # The page form of a real packet (the earner's own session) says 400 with the reason.
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as earner_browser:
        assert (await log_in(earner_browser, "earner@mcx.example", PASSWORD)).status_code == 303
        earner_csrf = await csrf_from(earner_browser, "/notifications")
        page = await earner_browser.post(
            page_path, content=BODIES[0], headers={**MULTIPART, "X-CSRF-Token": earner_csrf}
        )
        assert page.status_code == 400, page.text
        assert "form data could not be read" in page.text
    # The log-in form itself (no session needed to reach it).
    login = await client.post("/login", content=BODIES[0], headers=headers)
    assert login.status_code == 400
    assert "form data could not be read" in login.text
    routes = state_changing_routes(app)
    assert len(routes) >= 35
    for method, pattern in routes:
        path = _sample_path(pattern)
        for body in BODIES[:2]:
            answer = await client.request(method, path, content=body, headers=headers)
            assert answer.status_code < 500, (method, pattern, answer.status_code, answer.text)
