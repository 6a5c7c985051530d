"""GET /coordinate/quality/{credential_id}/what-if: the credential's review rules, current and
proposed, tried in memory on a simulated population (app.simulation.whatif). It reads the
rubric and settings and writes nothing, so it is a plain GET form."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import access
from app.actions import policy
from app.actions.escalations import rubric_shape
from app.actions.submissions import latest_rubric
from app.auth import current_user
from app.models import QualityPolicy, Stakes
from app.simulation.population import Mix
from app.simulation.whatif import MAX_PACKETS, MAX_PEERS, Crowd, Scenario, what_if
from app.templating import templates
from app.views.apikit import path_id

# name: (label, smallest, largest, default)
CROWD: dict[str, tuple[str, int, int, int]] = {
    "packets": ("Packets to simulate", 20, MAX_PACKETS, 200),
    "peers": ("Peer reviewers", 5, MAX_PEERS, 30),
    "careless": ("Careless reviewers (%)", 0, 60, 20),
    "harsh": ("Harsh reviewers (%)", 0, 30, 5),
    "lenient": ("Lenient reviewers (%)", 0, 30, 5),
    "noisy": ("Noisy reviewers (%)", 0, 30, 10),
}


def _crowd(query: dict[str, str], errors: dict[str, str]) -> Crowd:
    values: dict[str, int] = {}
    for name, (label, low, high, default) in CROWD.items():
        raw = query.get(name, "").strip()
        try:
            values[name] = int(raw) if raw else default
        except ValueError:
            values[name] = default
            errors[name] = f"{label}: a whole number from {low} to {high}."
            continue
        if not low <= values[name] <= high:
            errors[name] = f"{label}: a whole number from {low} to {high}."
    shares = values["careless"] + values["harsh"] + values["lenient"] + values["noisy"]
    if shares > 90:
        errors["careless"] = (
            "The unreliable shares add up to more than 90 %; leave some accurate reviewers."
        )
    return Crowd(
        packets=values["packets"],
        peers=values["peers"],
        mix=Mix(
            careless=values["careless"] / 100,
            harsh=values["harsh"] / 100,
            lenient=values["lenient"] / 100,
            noisy=values["noisy"] / 100,
            colluding=0.0,
            slow=0.0,
        ),
    )


def _proposal(
    query: dict[str, str], current: QualityPolicy, peer_reviews: int, errors: dict[str, str]
) -> tuple[int, QualityPolicy]:
    if not query:
        return peer_reviews, current
    values, problems = policy.parse_policy(query)
    errors.update(problems)
    proposed = QualityPolicy(credential_id=current.credential_id)
    for name, value in values.items():
        setattr(proposed, name, value)
    raw = query.get("peer_reviews", "").strip()
    try:
        peers = int(raw)
    except ValueError:
        peers = peer_reviews
        errors["peer_reviews"] = "Peer reviews per packet: a whole number from 1 to 9."
    if not 1 <= peers <= 9:
        errors["peer_reviews"] = "Peer reviews per packet: a whole number from 1 to 9."
    return peers, proposed


async def what_if_page(request: Request) -> Response:
    user = access.require_user(await current_user(request))
    credential_id = path_id(request, "credential_id")
    query = {k: v for k, v in request.query_params.items() if k != "run"}
    async with request.app.state.runtime.sessions() as session:
        credential = await access.managed_credential(session, user, credential_id)
        current = await policy.policy_for(session, credential.id)
        rubric = await latest_rubric(session, credential.id)
        shape = await rubric_shape(session, rubric.id) if rubric else None
    errors: dict[str, str] = {}
    peers, proposed = _proposal(query, current, credential.peer_reviews, errors)
    crowd = _crowd(query, errors)
    context: dict[str, Any] = {
        "credential": credential,
        "current": current,
        "proposed": proposed,
        "peers": peers,
        "query": query,
        "crowd_fields": CROWD,
        "integers": policy.INTEGERS,
        "flags": policy.FLAGS,
        "errors": errors,
        "high_stakes": credential.stakes == Stakes.high,
        "results": None,
    }
    if shape is not None and shape.criteria and not errors:
        context["results"] = [
            ("Now", what_if(shape, Scenario(credential.peer_reviews, current), crowd)),
            ("What if", what_if(shape, Scenario(peers, proposed), crowd)),
        ]
    return templates.TemplateResponse(
        request,
        "quality/whatif.html",
        context,
        status_code=422 if errors else 200,
    )


routes = [Route("/coordinate/quality/{credential_id}/what-if", what_if_page)]
