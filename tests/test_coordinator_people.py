"""People: invite by CSV or email list with a report of rows accepted and refused; accept an
invitation; certify an expert; suspend (cannot claim) and reinstate with a reason; load and
history pages."""

from __future__ import annotations

import re

import httpx
from sqlmodel import col, select

from app.models import AuditEntry, Invitation, Membership, Role, User
from app.runtime import Runtime
from tests import factories as f
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"
CSV = """email,name,school,roles
new.one@school.example,New One,Lincoln Elementary,reviewer
NEW.TWO@school.example,New Two,,reviewer;expert
not-an-email,Bad Row,,reviewer
existing@mcx.example,Existing,,expert
third@school.example,Third,,coordinator
new.one@school.example,Again,,reviewer
fourth@school.example,,,
"""


async def _coordinator(client: httpx.AsyncClient, runtime: Runtime) -> str:
    await f.organisation(runtime)
    await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, "coord@mcx.example", PASSWORD)
    return await csrf_from(client, "/coordinate/people")


async def test_a_csv_invite_reports_accepted_and_refused_rows(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    await f.person(runtime, "existing", [Role.reviewer])
    answer = await client.post(
        "/coordinate/people/invite",
        data={"csrf_token": token, "organisation": "ipa", "roles": "reviewer"},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    accepted = re.findall(
        r'data-testid="accepted-row"><th[^>]*>(\d+)</th><td[^>]*>([^<]+)<', answer.text
    )
    refused = re.findall(
        r'data-testid="refused-row"><th[^>]*>(\d+)</th><td[^>]*>([^<]*)</td><td[^>]*>([^<]+)<',
        answer.text,
    )
    assert [(line, email) for line, email in accepted] == [
        ("2", "new.one@school.example"),
        ("3", "new.two@school.example"),
        ("5", "existing@mcx.example"),
        ("8", "fourth@school.example"),  # blank roles: the form's default, reviewer
    ]
    assert [(line, email) for line, email, _ in refused] == [
        ("4", "not-an-email"),
        ("6", "third@school.example"),
        ("7", "new.one@school.example"),
    ]
    reasons = {line: why for line, _, why in refused}
    assert "not valid" in reasons["4"]
    assert "unknown role &#39;coordinator&#39;" in reasons["6"]
    assert "earlier in the list" in reasons["7"]
    links = re.findall(r'value="(http://[^"]+/invite/[^"]+)"', answer.text)
    assert len(links) == 3  # the three new accounts; the existing one just gains a role
    async with runtime.sessions() as session:
        two = (await session.exec(select(User).where(User.email == "new.two@school.example"))).one()
        roles = (
            await session.exec(select(Membership.role).where(Membership.user_id == two.id))
        ).all()
        assert sorted(roles) == ["expert", "reviewer"]
        existing = (
            await session.exec(select(User).where(User.email == "existing@mcx.example"))
        ).one()
        roles = (
            await session.exec(select(Membership.role).where(Membership.user_id == existing.id))
        ).all()
        assert sorted(roles) == ["expert", "reviewer"]
        assert len((await session.exec(select(Invitation))).all()) == 3
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "people.invited"))
        ).one()
        assert len(audit.data["refused"]) == 3
    # The invited person sets a password through the link, which then stops working.
    path = "/invite/" + links[0].rsplit("/invite/", 1)[1]
    client.cookies.clear()
    page = await client.get(path)
    assert page.status_code == 200 and "new.one@school.example" in page.text
    form_token = await csrf_from(client, path)
    weak = await client.post(path, data={"csrf_token": form_token, "password": "short"})
    assert weak.status_code == 422
    done = await client.post(
        path, data={"csrf_token": form_token, "password": "a-good-long-password"}
    )
    assert done.status_code == 303
    assert (await client.get(path)).status_code == 404
    logged = await log_in(client, "new.one@school.example", "a-good-long-password")
    assert logged.status_code == 303
    # A plain list of emails works too.
    token = await _coordinator_again(client)
    listed = await client.post(
        "/coordinate/people/invite",
        data={
            "csrf_token": token,
            "organisation": "ipa",
            "roles": "expert",
            "emails": "a@x.example, b@x.example\nbad",
        },
    )
    assert listed.text.count('data-testid="accepted-row"') == 2
    assert listed.text.count('data-testid="refused-row"') == 1


async def _coordinator_again(client: httpx.AsyncClient) -> str:
    await log_in(client, "coord@mcx.example", PASSWORD)
    return await csrf_from(client, "/coordinate/people")


async def test_a_suspended_reviewer_cannot_claim_until_reinstated_and_experts_are_certified(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    credential = await f.credential(runtime)
    reviewer = await f.person(runtime, "rita", [Role.reviewer])
    earner = await f.person(runtime, "earner")
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    rita = await f.token_for(runtime, reviewer)
    person = f"/coordinate/people/{reviewer.id}"
    async with runtime.sessions() as session:
        ipa = (
            await session.exec(
                select(Membership.organisation_id).where(Membership.user_id == reviewer.id)
            )
        ).one()
    no_reason = await client.post(
        f"{person}/suspend", data={"csrf_token": token, "organisation": str(ipa), "reason": ""}
    )
    assert no_reason.status_code == 422
    suspended = await client.post(
        f"{person}/suspend",
        data={"csrf_token": token, "organisation": str(ipa), "reason": "Scores not calibrated"},
    )
    assert suspended.status_code == 303
    page = await client.get(person)
    assert "suspended: Scores not calibrated" in page.text
    assert (await client.get("/api/v1/tasks", headers=auth(rita))).json() in ([], {"tasks": []})
    refused = await client.post("/api/v1/tasks/claim-next", headers=auth(rita))
    assert refused.status_code in (404, 409), refused.text
    reinstated = await client.post(
        f"{person}/reinstate",
        data={"csrf_token": token, "organisation": str(ipa), "reason": "Recalibrated"},
    )
    assert reinstated.status_code == 303
    claim = await client.post("/api/v1/tasks/claim-next", headers=auth(rita))
    assert claim.status_code == 201, claim.text
    certified = await client.post(
        f"{person}/certify", data={"csrf_token": token, "organisation": str(ipa)}
    )
    assert certified.status_code == 303
    async with runtime.sessions() as session:
        roles = (
            await session.exec(select(Membership.role).where(Membership.user_id == reviewer.id))
        ).all()
        actions = (
            await session.exec(
                select(AuditEntry.action)
                .where(AuditEntry.subject_id == str(reviewer.id))
                .order_by(col(AuditEntry.id))
            )
        ).all()
    assert sorted(roles) == ["expert", "reviewer"]
    assert [a for a in actions if a.startswith("person.")] == [
        "person.suspended",
        "person.reinstated",
        "person.certified_expert",
    ]
    listing = await client.get("/coordinate/people")
    assert "Rita" in listing.text and 'data-testid="person-row"' in listing.text
    # Another organisation's coordinator cannot see or touch this reviewer.
    await f.organisation(runtime, "ctq")
    await f.person(runtime, "other", [Role.coordinator], org="ctq")
    await log_in(client, "other@mcx.example", PASSWORD)
    other_token = await csrf_from(client, "/coordinate/people")
    assert (await client.get(person)).status_code == 404
    refused = await client.post(
        f"{person}/suspend",
        data={"csrf_token": other_token, "organisation": str(ipa), "reason": "not mine"},
    )
    assert refused.status_code == 404
