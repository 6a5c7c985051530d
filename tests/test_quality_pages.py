"""The quality pages through HTTP: the coordinator's alpha and reviewers, the policy form,
the reviewer's credit ledger (page, certificate, CSV) and comparison, earners' ratings."""

from __future__ import annotations

import csv
import io
import re
import uuid

import httpx
from sqlmodel import select

from app.agreement import alpha
from app.models import (
    FeedbackRating,
    Notification,
    QualityPolicy,
    Review,
    ReviewerStanding,
    Role,
    User,
)
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in
from tests.test_quality_escalation import _review

PASSWORD = "factory-password-1"


def _session(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A second browser on the same app (its own cookies)."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://testserver")


async def test_the_quality_page_shows_alpha_per_credential_and_criterion(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    # Three packets, each scored by two peers: (Plans, Acts) levels per review.
    scored = [([3, 3], [3, 2]), ([1, 0], [1, 1]), ([2, 2], [2, 3])]
    for i, (first, second) in enumerate(scored):
        earner_token = await f.token_for(runtime, await f.person(runtime, f"earner{i}"))
        await f.submitted(client, runtime, earner_token, credential)
        await _review(client, runtime, f"a{i}", first)
        await _review(client, runtime, f"b{i}", second)
    plans = [[a[0], b[0]] for a, b in scored]
    acts = [[a[1], b[1]] for a, b in scored]
    await log_in(client, coordinator.email, PASSWORD)
    page = await client.get("/coordinate/quality")
    assert page.status_code == 200
    values = re.findall(r'data-testid="alpha-value">([^<]+)<', page.text)
    assert values == [
        f"{alpha(plans + acts):.3f}",
        f"{alpha(plans):.3f}",
        f"{alpha(acts):.3f}",
    ]
    assert "Plans" in page.text and "Acts" in page.text
    assert values[1] == "1.000"  # Plans: the two peers always agreed
    detail = await client.get(f"/coordinate/quality/{credential.id}")
    assert detail.status_code == 200 and f"{alpha(plans + acts):.3f}" in detail.text
    assert detail.text.count('data-testid="reviewer-row"') == 6


async def test_quality_pages_are_for_the_issuers_coordinators_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    await f.organisation(runtime, "ctq")
    stranger = await f.person(runtime, "ctqcoord", [Role.coordinator], org="ctq")
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    await log_in(client, stranger.email, PASSWORD)
    assert (await client.get(f"/coordinate/quality/{credential.id}")).status_code == 404
    token = await csrf_from(client, "/coordinate/quality")
    refused = await client.post(
        f"/coordinate/quality/{credential.id}/policy",
        data={"csrf_token": token, "trust_floor": "0"},
    )
    assert refused.status_code == 404
    async with _session(client) as other:
        await log_in(other, reviewer.email, PASSWORD)
        assert (await other.get("/coordinate/quality")).status_code == 404
    async with runtime.sessions() as session:
        assert (await session.exec(select(QualityPolicy))).all() == []


async def test_the_policy_form_validates_every_field_and_a_refusal_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, coordinator.email, PASSWORD)
    token = await csrf_from(client, f"/coordinate/quality/{credential.id}")
    form = {
        "csrf_token": token,
        "calibration_required": "2",
        "calibration_tolerance": "1",
        "calibration_pass_percent": "75",
        "known_answer_percent": "80",  # over 50
        "trust_floor": "abc",
        "escalate_level_gap": "",
        "escalate_pass_margin": "",
        "reviewer_pd_hours": "NaN",
    }
    refused = await client.post(f"/coordinate/quality/{credential.id}/policy", data=form)
    assert refused.status_code == 422
    assert "Known-answer checks" in refused.text and "Trust floor" in refused.text
    assert "PD hours per review" in refused.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(QualityPolicy))).all() == []
    form.update(known_answer_percent="10", trust_floor="55", reviewer_pd_hours="0.5")
    form["escalate_on_appeal"] = "on"
    saved = await client.post(f"/coordinate/quality/{credential.id}/policy", data=form)
    assert saved.status_code == 303
    async with runtime.sessions() as session:
        policy = (await session.exec(select(QualityPolicy))).one()
    assert policy.trust_floor == 55 and policy.known_answer_percent == 10
    assert policy.escalate_on_appeal and not policy.escalate_on_disagreement
    assert policy.escalate_level_gap is None and str(policy.reviewer_pd_hours) == "0.50"


async def test_the_credit_ledger_matches_completed_reviews(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first = await f.credential(runtime, "first", title="=HYPERLINK(evil)")
    second = await f.credential(runtime, "second")
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, first, reviewer_pd_hours="0.5")
    reviewer = await f.person(runtime, "rev", [Role.reviewer])
    token = await f.token_for(runtime, reviewer)
    for i, credential in enumerate([first, first, second]):
        earner_token = await f.token_for(runtime, await f.person(runtime, f"earner{i}"))
        await f.submitted(client, runtime, earner_token, credential)
        claim = await client.post("/api/v1/tasks/claim-next", headers=auth(token))
        version, scores = await f.scores_for(client, token, claim.json()["task_id"], 2)
        await client.post(
            f"/api/v1/tasks/{claim.json()['task_id']}/review",
            json={"lease_version": version, "scores": scores, "feedback": "Good."},
            headers=auth(token),
        )
    # A claimed but unfinished review earns nothing.
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner9"))
    await f.submitted(client, runtime, earner_token, first)
    assert (await client.post("/api/v1/tasks/claim-next", headers=auth(token))).status_code == 201
    async with runtime.sessions() as session:
        completed = (
            await session.exec(
                select(Review).where(Review.reviewer_id == reviewer.id, Review.state == "submitted")
            )
        ).all()
    assert len(completed) == 3
    await log_in(client, reviewer.email, PASSWORD)
    page = (await client.get("/review/credit")).text
    assert page.count('data-testid="credit-entry"') == 3
    assert "3 completed review(s), 1.00 PD hour(s)." in page
    certificate = (await client.get("/review/credit/certificate")).text
    assert 'data-testid="certificate-reviews">3<' in certificate
    assert 'data-testid="certificate-hours">1.00<' in certificate
    exported = await client.get("/review/credit.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["review_id"] for r in rows) == sorted(str(r.id) for r in completed)
    assert sorted(r["pd_hours"] for r in rows) == ["0.00", "0.50", "0.50"]
    # A spreadsheet will not run a credential title as a formula.
    assert {r["credential"] for r in rows} == {"'=HYPERLINK(evil)", "Credential second"}


async def test_earners_rate_feedback_a_flag_reaches_the_coordinator_and_trust(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    earner = await f.person(runtime, "earner")
    earner_token = await f.token_for(runtime, earner)
    await f.submitted(client, runtime, earner_token, credential)
    await _review(client, runtime, "p1", [2, 2])
    await _review(client, runtime, "p2", [2, 3])
    async with runtime.sessions() as session:
        review = (await session.exec(select(Review))).first()
    assert review is not None
    await log_in(client, earner.email, PASSWORD)
    rate_url = f"/me/reviews/{review.id}/rate"
    token = await csrf_from(client, rate_url)
    refused = await client.post(
        rate_url, data={"csrf_token": token, "helpfulness": "2", "inappropriate": "on"}
    )
    assert refused.status_code == 422 and "Say what was inappropriate" in refused.text
    refused = await client.post(rate_url, data={"csrf_token": token, "helpfulness": "9"})
    assert refused.status_code == 422
    rated = await client.post(
        rate_url,
        data={
            "csrf_token": token,
            "helpfulness": "1",
            "inappropriate": "on",
            "comment": "Mocked my accent.",
        },
    )
    assert rated.status_code == 303
    again = await client.post(rate_url, data={"csrf_token": token, "helpfulness": "5"})
    assert again.status_code == 409
    async with runtime.sessions() as session:
        rating = (await session.exec(select(FeedbackRating))).one()
        standing = (
            await session.exec(
                select(ReviewerStanding).where(ReviewerStanding.reviewer_id == review.reviewer_id)
            )
        ).one()
        told = (
            await session.exec(
                select(Notification.kind).where(Notification.user_id == coordinator.id)
            )
        ).all()
    assert rating.helpfulness == 1 and rating.inappropriate
    assert standing.components["helpfulness"] == {"score": 0.0, "count": 1}
    assert told == ["feedback.flagged"]
    # Another earner cannot rate (or see) feedback on someone else's packet.
    async with _session(client) as other:
        await log_in(other, (await f.person(runtime, "nosy")).email, PASSWORD)
        assert (await other.get(rate_url)).status_code == 404
    async with _session(client) as coord:
        await log_in(coord, coordinator.email, PASSWORD)
        page = (await coord.get(f"/coordinate/quality/{credential.id}")).text
        assert "Mocked my accent." in page
        resolved = await coord.post(
            f"/coordinate/quality/flags/{rating.id}/resolve",
            data={"csrf_token": await csrf_from(coord, f"/coordinate/quality/{credential.id}")},
        )
        assert resolved.status_code == 303
        assert "Mocked my accent." not in (await coord.get("/coordinate/quality")).text


async def test_after_the_outcome_reviewers_see_how_their_scores_compared(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner_token = await f.token_for(runtime, await f.person(runtime, "earner"))
    await f.submitted(client, runtime, earner_token, credential)
    first = await _review(client, runtime, "p1", [3, 2])
    async with runtime.sessions() as session:
        review = await session.get(Review, uuid.UUID(first.json()["review_id"]))
        assert review is not None
        reviewer = await session.get(User, review.reviewer_id)
    assert reviewer is not None
    await log_in(client, reviewer.email, PASSWORD)
    waiting = (await client.get(f"/review/history/{review.id}/compare")).text
    assert "The decision is not in yet" in waiting
    await _review(client, runtime, "p2", [2, 2])
    page = (await client.get(f"/review/history/{review.id}/compare")).text
    mine = re.findall(r'data-testid="compare-mine">([^<]+)<', page)
    consensus = re.findall(r'data-testid="compare-consensus">([^<]+)<', page)
    assert [m.strip() for m in mine] == ["Exceeds", "Meets"]
    assert consensus == ["Meets", "Meets"]
    assert "(+1)" in page and "Decision: <strong>Pass</strong>" in page
    # Somebody else's review is not theirs to compare.
    async with _session(client) as other:
        await log_in(other, (await f.person(runtime, "p3", [Role.reviewer])).email, PASSWORD)
        assert (await other.get(f"/review/history/{review.id}/compare")).status_code == 404


async def test_coordinators_add_calibration_examples_with_a_reference_and_reason_per_criterion(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from app.models import CalibrationExample, CalibrationReference
    from tests.test_quality_calibration import _levels

    credential = await f.credential(runtime)
    coordinator = await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, coordinator.email, PASSWORD)
    url = f"/coordinate/quality/{credential.id}"
    page = (await client.get(url)).text
    assert 'data-testid="example-form"' in page
    levels = await _levels(runtime, credential)
    form = {
        "csrf_token": await csrf_from(client, url),
        "title": "A strong coaching cycle",
        "evidence": "I met with three teachers weekly and we reviewed video together.",
        f"level-{levels[0][0]}": str(levels[0][1][3]),
        f"why-{levels[0][0]}": "Plans are sequenced and tied to student data.",
        f"level-{levels[1][0]}": str(levels[1][1][2]),
        f"why-{levels[1][0]}": "",  # no reason given
    }
    refused = await client.post(f"{url}/examples", data=form)
    assert refused.status_code == 422
    assert "Explain the reference level for “Acts”" in refused.text
    assert "A strong coaching cycle" in refused.text  # the form comes back as typed
    async with runtime.sessions() as session:
        assert (await session.exec(select(CalibrationExample))).all() == []
    form[f"why-{levels[1][0]}"] = "Acts on the plan, with one missed follow-up."
    added = await client.post(f"{url}/examples", data=form)
    assert added.status_code == 303
    async with runtime.sessions() as session:
        example = (await session.exec(select(CalibrationExample))).one()
        references = (await session.exec(select(CalibrationReference))).all()
    assert example.title == "A strong coaching cycle"
    assert {r.level_id for r in references} == {levels[0][1][3], levels[1][1][2]}
    assert "A strong coaching cycle" in (await client.get(url)).text
    # The sample is no earner's packet: it takes no pilot spot, and nobody can log in as
    # the account that holds it.
    from app.actions.submissions import spots_taken

    async with runtime.sessions() as session:
        assert await spots_taken(session, credential.id) == 0
        holder = (
            await session.exec(
                select(User).where(User.email == "calibration-samples@ipa.mcx.invalid")
            )
        ).one()
    assert not holder.is_active
