"""Sharing: the public award page (Open Graph tags, LinkedIn for the earner, copy link, baked
downloads, verification link); privacy: blind awards hide the name, only public evidence is
indexable, the learner record is the earner's alone."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from jsonschema import Draft201909Validator
from sqlmodel import select

from app.models import Award, Submission
from app.runtime import Runtime
from tests import factories
from tests.helpers import log_in

PASSWORD = "factory-password-1"
SCHEMA = json.loads(
    (
        Path(__file__).parent
        / "data"
        / "openbadges"
        / "schemas"
        / "ob_v3p0_achievementcredential_schema.json"
    ).read_text()
)


async def test_the_award_page_shares_well(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime, title="Coaching <Cycles>")
    earner = await factories.person(runtime, "earner")
    award_id = await factories.award(runtime, earner, credential)
    base = runtime.settings.base_url

    page = await client.get(f"/badges/{award_id}")
    assert page.status_code == 200
    html = page.text
    assert '<meta property="og:title" content="Coaching &lt;Cycles&gt;">' in html
    assert f'<meta property="og:url" content="{base}/badges/{award_id}">' in html
    assert (
        f'<meta property="og:image" content="{base}/badges/achievements/{credential.id}/image.png">'
        in html
    )
    assert 'content="noindex"' in html  # no public evidence: found only through its link
    assert (
        f'href="/badges/{award_id}/baked.png"' in html
        and f'href="/badges/{award_id}/baked.svg"' in html
    )
    assert f'href="/verify?id={award_id}"' in html
    assert "data-copy-source" in html and "/static/badges.js" in html
    assert "linkedin-link" not in html  # only the earner adds it to their profile
    assert "Awarded to <strong>Earner</strong>" in html

    await log_in(client, "earner@mcx.example", PASSWORD)
    mine = (await client.get(f"/badges/{award_id}")).text
    start = mine.index('href="https://www.linkedin.com/profile/add?') + len('href="')
    link = mine[start : mine.index('"', start)].replace("&amp;", "&")
    fields = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert fields["name"] == "Coaching <Cycles>"
    assert fields["organizationName"] == "IPA Association"
    assert fields["certId"] == str(award_id)
    assert fields["certUrl"] == f"{base}/badges/{award_id}"
    assert {"issueYear", "issueMonth"} <= set(fields)


async def test_a_reviewed_award_carries_the_rubric_result_and_stays_blind(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from tests.test_marketplace import _peers, _review

    await factories.issuer(runtime)
    credential = await factories.credential(runtime, peer_reviews=1)
    earner = await factories.person(runtime, "earner")
    token = await factories.token_for(runtime, earner)
    await factories.submitted(client, runtime, token, credential)
    ((_, reviewer),) = await _peers(runtime, 1)
    assert (await _review(client, reviewer, 3)).status_code == 201
    async with runtime.sessions() as session:
        award = (await session.exec(select(Award))).one()
        submission = (await session.exec(select(Submission))).one()
    assert submission.privacy == "reviewers"

    document = (await client.get(f"/badges/{award.id}/credential")).json()
    assert Draft201909Validator(SCHEMA).is_valid(document)
    subject = document["credentialSubject"]
    assert "name" not in subject  # blind by default: the earner's name stays off
    described = {r["id"]: r for r in subject["achievement"]["resultDescription"]}
    assert len(subject["result"]) == 2
    for result in subject["result"]:
        levels = {
            level["id"]: level
            for level in described[result["resultDescription"]]["rubricCriterionLevel"]
        }
        assert levels[result["achievedLevel"]]["name"] == "Exceeds"
    page = (await client.get(f"/badges/{award.id}")).text
    assert "Earner" not in page and 'content="noindex"' in page
