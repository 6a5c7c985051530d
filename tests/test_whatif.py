"""The coordinator's what-if: the credential's own rules tried in memory on simulated people,
current against proposed, refusing bad input, for the credential's coordinators only, and
writing nothing."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import text

from app.actions.escalations import RubricShape
from app.models import QualityPolicy, Role, Rubric, RubricCriterion
from app.runtime import Runtime
from app.simulation.population import Mix
from app.simulation.whatif import Crowd, Scenario, what_if
from tests import factories as f
from tests.helpers import log_in

PASSWORD = "factory-password-1"


def _shape(criteria: int = 4, levels: int = 4, min_level: int = 2) -> RubricShape:
    rubric = Rubric(credential_id=uuid.uuid4(), min_level=min_level)
    rows = [
        RubricCriterion(id=uuid.uuid4(), rubric_id=rubric.id, position=i, title=f"C{i}")
        for i in range(criteria)
    ]
    return RubricShape(rubric, rows, {c.id: {p: p for p in range(levels)} for c in rows})


def _policy(**values: object) -> QualityPolicy:
    policy = QualityPolicy(credential_id=uuid.uuid4(), escalate_on_disagreement=False)
    for name, value in values.items():
        setattr(policy, name, value)
    return policy


def test_the_same_seed_gives_the_same_answer() -> None:
    shape, crowd = _shape(), Crowd(packets=150, peers=20)
    first = what_if(shape, Scenario(2, _policy()), crowd)
    again = what_if(shape, Scenario(2, _policy()), crowd)
    assert (first.right, first.false_pass, first.false_fail) == (
        again.right,
        again.false_pass,
        again.false_fail,
    )
    assert first.decided == 150


def test_more_eyes_and_escalation_make_more_decisions_right() -> None:
    shape, crowd = _shape(), Crowd(packets=400, peers=40)
    one = what_if(shape, Scenario(1, _policy()), crowd)
    three = what_if(shape, Scenario(3, _policy()), crowd)
    escalating = what_if(shape, Scenario(2, _policy(escalate_on_disagreement=True)), crowd)
    assert one.escalated == 0
    # With the triggers off only MCX's standing rule escalates: peers agree but the median
    # levels say otherwise (three "not yet"s failing on different criteria). Rare.
    assert three.escalated < 0.02 * three.decided
    assert three.right > one.right
    assert escalating.escalated > 0
    assert escalating.right > one.right
    # Every packet was decided once; an escalation adds exactly one expert review.
    assert escalating.reviews == 2 * escalating.decided + escalating.escalated


def test_known_answer_checks_suspend_careless_reviewers_and_calibration_keeps_harsh_ones_out() -> (
    None
):
    shape = _shape()
    crowd = Crowd(packets=300, peers=30, mix=Mix(careless=0.3, harsh=0.1, lenient=0.0))
    gated = what_if(
        shape,
        Scenario(
            2,
            _policy(
                calibration_required=2,
                calibration_pass_percent=75,
                known_answer_percent=30,
                trust_floor=60,
            ),
        ),
        crowd,
    )
    open_door = what_if(shape, Scenario(2, _policy()), crowd)
    assert gated.known_answer_checks > 0 and open_door.known_answer_checks == 0
    assert gated.suspended.get("careless", 0) >= 3
    assert gated.kept_out >= 1 and open_door.kept_out == 0
    assert gated.right > open_door.right


async def test_the_page_compares_current_and_proposed_rules_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=1)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, coordinator.email, PASSWORD)

    async def rows() -> tuple[int, ...]:
        async with runtime.engine.connect() as conn:
            counted = await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM quality_policies), "
                    "(SELECT count(*) FROM audit_log), (SELECT count(*) FROM submissions), "
                    "(SELECT count(*) FROM users)"
                )
            )
            return tuple(counted.one())

    before = await rows()
    page = await client.get(f"/coordinate/quality/{credential.id}/what-if")
    assert page.status_code == 200
    assert 'data-testid="whatif-results"' in page.text
    asked = await client.get(
        f"/coordinate/quality/{credential.id}/what-if",
        params={
            "peer_reviews": "3",
            "calibration_required": "0",
            "calibration_tolerance": "0",
            "calibration_pass_percent": "75",
            "known_answer_percent": "0",
            "trust_floor": "40",
            "escalate_on_disagreement": "on",
            "packets": "120",
            "peers": "25",
            "careless": "20",
            "harsh": "5",
            "lenient": "5",
            "noisy": "10",
            "run": "1",
        },
    )
    assert asked.status_code == 200
    right = re.search(r'data-testid="row-right">.*?</tr>', asked.text, re.S)
    assert right is not None
    now, proposed = re.findall(r">([\d.]+) %<", right.group(0))
    assert float(proposed) > float(now)  # three peers and escalation beat one peer
    escalated = re.search(r'data-testid="row-escalated">.*?</tr>', asked.text, re.S)
    assert escalated is not None
    assert re.findall(r">([\d.]+) %<", escalated.group(0))[0] == "0.0"
    assert 'value="3"' in asked.text  # the form keeps what was asked
    assert await rows() == before


async def test_bad_input_is_refused_with_every_reason(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, coordinator.email, PASSWORD)
    page = await client.get(
        f"/coordinate/quality/{credential.id}/what-if",
        params={"peer_reviews": "0", "trust_floor": "many", "packets": "100000", "careless": "60",
                "harsh": "30", "noisy": "30"},
    )  # fmt: skip
    assert page.status_code == 422
    assert 'data-testid="whatif-results"' not in page.text
    assert "Peer reviews per packet: a whole number from 1 to 9." in page.text
    assert "Trust floor: a whole number from 0 to 100." in page.text
    assert "Packets to simulate: a whole number from 20 to 400." in page.text
    assert "more than 90 %" in page.text


async def test_only_the_credentials_coordinators_may_simulate(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.organisation(runtime, "ctq")
    elsewhere = await f.person(runtime, "other", [Role.coordinator], org="ctq")
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    for who in (elsewhere, reviewer):
        await log_in(client, who.email, PASSWORD)
        page = await client.get(f"/coordinate/quality/{credential.id}/what-if")
        assert page.status_code == 404, who.email
        client.cookies.clear()
    anonymous = await client.get(f"/coordinate/quality/{credential.id}/what-if")
    assert anonymous.status_code in (302, 303, 401)


async def test_the_page_offers_and_applies_the_third_peer_and_trust_weighting(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, peer_reviews=2)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, coordinator.email, PASSWORD)
    page = await client.get(f"/coordinate/quality/{credential.id}/what-if")
    for name in ("tiebreak_peer", "tiebreak_min_trust", "trust_weighted", "collusion_guard"):
        assert f'name="{name}"' in page.text
    common = {
        "peer_reviews": "2",
        "calibration_required": "2",
        "calibration_tolerance": "0",
        "calibration_pass_percent": "75",
        "known_answer_percent": "30",
        "trust_floor": "65",
        "tiebreak_min_trust": "80",
        "escalate_on_disagreement": "on",
        "packets": "300",
        "peers": "40",
        "run": "1",
    }
    experts_only = await client.get(f"/coordinate/quality/{credential.id}/what-if", params=common)
    third_first = await client.get(
        f"/coordinate/quality/{credential.id}/what-if",
        params={**common, "tiebreak_peer": "on", "trust_weighted": "on"},
    )
    assert experts_only.status_code == third_first.status_code == 200

    def figures(html: str, row: str) -> list[str]:
        found = re.search(rf'data-testid="{row}">.*?</tr>', html, re.S)
        assert found is not None
        return re.findall(r'data-label="[^"]+">([^<]*)<', found.group(0))

    assert figures(experts_only.text, "row-tiebreaks")[1] == "0 of 0 asked"
    settled, asked = re.findall(r"\d+", figures(third_first.text, "row-tiebreaks")[1])
    assert int(asked) > 0 and 0 < int(settled) <= int(asked)
    # The third peer takes work off the experts.
    share = [float(v.rstrip(" %")) for v in figures(third_first.text, "row-escalated")]
    before = [float(v.rstrip(" %")) for v in figures(experts_only.text, "row-escalated")]
    assert share[1] < before[1]
    assert 'name="tiebreak_peer" value="on" checked' in third_first.text
