"""Ratings of credentials (issue 18, part 1): only earners who finished rate, once; averages
and the distribution appear from the minimum count; the issuer answers once; flagged text is
hidden by a coordinator with the decision audited; the catalogue sorts by rating."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlmodel import col, select

from app.models import AuditEntry, Role
from app.ratings import MIN_RATINGS
from app.runtime import Runtime
from tests import factories as f
from tests.catalogue import earners_who_finished, finished, rate
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"


async def test_only_earners_who_finished_rate_and_only_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, max_attempts=2)
    starter = await f.person(runtime, "starter", [Role.earner])
    await finished(runtime, starter, credential, state="not_yet", versions=1)
    token = await f.token_for(runtime, starter)
    refused = await rate(client, token, credential)
    assert refused.status_code == 403 and refused.json()["error"] == "not_finished"

    out_of_attempts = await f.person(runtime, "tried", [Role.earner])
    await finished(runtime, out_of_attempts, credential, state="not_yet", versions=2)
    token = await f.token_for(runtime, out_of_attempts)
    assert (await rate(client, token, credential, clarity=2)).status_code == 201
    again = await rate(client, token, credential, clarity=5)
    assert again.status_code == 409 and again.json()["error"] == "already_rated"

    [passed] = await earners_who_finished(runtime, credential, 1)
    bad = await client.post(
        f"/api/v1/credentials/{credential.id}/ratings",
        json={"clarity": 6, "relevance": 4, "workload": 4, "feedback": 4},
        headers=f.auth(passed),
    )
    assert bad.status_code == 422 and "clarity" in bad.json()["detail"]


async def test_the_summary_appears_only_from_the_minimum_count(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    tokens = await earners_who_finished(runtime, credential, MIN_RATINGS)
    levels = [5, 3, 4]
    for token, level in zip(tokens[:-1], levels, strict=False):
        assert (await rate(client, token, credential, clarity=level)).status_code == 201
    early = (await client.get(f"/api/v1/credentials/{credential.id}/ratings")).json()
    assert early["summary"] == {
        "count": MIN_RATINGS - 1,
        "minimum": MIN_RATINGS,
        "shown": False,
        "overall": None,
        "averages": None,
        "distribution": None,
    }
    page = await client.get(f"/credentials/ipa/{credential.slug}")
    assert 'data-testid="ratings-too-few"' in page.text
    assert 'data-testid="ratings-overall"' not in page.text

    assert (await rate(client, tokens[-1], credential, clarity=levels[-1])).status_code == 201
    summary = (await client.get(f"/api/v1/credentials/{credential.id}/ratings")).json()["summary"]
    assert summary["shown"] and summary["count"] == 3
    assert summary["averages"]["clarity"] == 4.0 and summary["averages"]["relevance"] == 4.0
    # Overall per rating: (5+4+4+4)/4 = 4.25 -> 4 stars, 3.75 -> 4, 4.0 -> 4.
    assert summary["distribution"] == {"5": 0, "4": 3, "3": 0, "2": 0, "1": 0}
    assert summary["overall"] == 4.0
    page = await client.get(f"/credentials/ipa/{credential.slug}")
    assert 'data-testid="ratings-overall"' in page.text and "4.0 of 5 from 3 earners" in page.text


async def test_the_issuer_answers_once_and_nobody_else_can(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    [token] = await earners_who_finished(runtime, credential, 1)
    rating_id = (await rate(client, token, credential, text="Clear, but long.")).json()["id"]
    coordinator = await f.token_for(runtime, await f.person(runtime, "coord", [Role.coordinator]))
    await f.organisation(runtime, "ctq")
    other = await f.token_for(
        runtime, await f.person(runtime, "other", [Role.coordinator], org="ctq")
    )
    answer = {"answer": "Thanks: we trimmed the reflection to 500 words."}
    stranger = await client.post(
        f"/api/v1/ratings/{rating_id}/answer", json=answer, headers=f.auth(other)
    )
    assert stranger.status_code == 404
    earner = await client.post(
        f"/api/v1/ratings/{rating_id}/answer", json=answer, headers=f.auth(token)
    )
    assert earner.status_code == 404
    first = await client.post(
        f"/api/v1/ratings/{rating_id}/answer", json=answer, headers=f.auth(coordinator)
    )
    assert first.status_code == 200 and first.json()["answer"] == answer["answer"]
    second = await client.post(
        f"/api/v1/ratings/{rating_id}/answer",
        json={"answer": "Another go."},
        headers=f.auth(coordinator),
    )
    assert second.status_code == 409 and second.json()["error"] == "already_answered"
    public = (await client.get(f"/api/v1/credentials/{credential.id}/ratings")).json()
    assert public["ratings"][0]["answer"] == answer["answer"]
    page = await client.get(f"/credentials/ipa/{credential.slug}")
    assert "we trimmed the reflection" in page.text


async def test_flagged_text_is_hidden_by_a_coordinator_and_audited(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    [token] = await earners_who_finished(runtime, credential, 1)
    rating_id = (await rate(client, token, credential, text="The reviewer is an idiot.")).json()[
        "id"
    ]
    reader = await f.token_for(runtime, await f.person(runtime, "reader", [Role.earner]))
    flagged = await client.post(
        f"/api/v1/ratings/{rating_id}/flag", json={"reason": "Insult"}, headers=f.auth(reader)
    )
    assert flagged.status_code == 200 and flagged.json()["flagged"]
    twice = await client.post(
        f"/api/v1/ratings/{rating_id}/flag", json={"reason": "Again"}, headers=f.auth(reader)
    )
    assert twice.status_code == 409
    # Flagging alone hides nothing; only a coordinator of the issuer decides.
    refused = await client.post(
        f"/api/v1/ratings/{rating_id}/moderation", json={"hide": True}, headers=f.auth(reader)
    )
    assert refused.status_code == 404
    coordinator_user = await f.person(runtime, "coord", [Role.coordinator])
    coordinator = await f.token_for(runtime, coordinator_user)
    waiting = (await client.get("/api/v1/quality", headers=f.auth(coordinator))).json()
    assert [(r["id"], r["reason"]) for r in waiting["flagged_ratings"]] == [(rating_id, "Insult")]
    hidden = await client.post(
        f"/api/v1/ratings/{rating_id}/moderation",
        json={"hide": True, "note": "Personal attack"},
        headers=f.auth(coordinator),
    )
    assert hidden.status_code == 200 and hidden.json()["hidden"]
    public = (await client.get(f"/api/v1/credentials/{credential.id}/ratings")).json()
    assert public["ratings"][0]["text"] is None and public["ratings"][0]["hidden"]
    assert public["summary"]["count"] == 1  # the stars still count
    page = await client.get(f"/credentials/ipa/{credential.slug}")
    assert "idiot" not in page.text and 'data-testid="rating-hidden"' in page.text
    async with runtime.sessions() as session:
        audit = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.subject_id == rating_id)
                .order_by(col(AuditEntry.id))
            )
        ).all()
    assert [(a.action, a.actor_id) for a in audit][-1] == ("rating.hidden", coordinator_user.id)
    assert audit[-1].data == {"note": "Personal attack", "flag_reason": "Insult"}
    assert [a.action for a in audit] == ["rating.flagged", "rating.hidden"]
    waiting = (await client.get("/api/v1/quality", headers=f.auth(coordinator))).json()
    assert waiting["flagged_ratings"] == []


async def test_the_catalogue_sorts_top_rated_for_a_standard(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    intasc = [{"framework": "InTASC", "code": "InTASC 3"}]
    low = await f.credential(runtime, "low", title="Low Rated", alignments=intasc)
    high = await f.credential(runtime, "high", title="High Rated", alignments=intasc)
    few = await f.credential(runtime, "few", title="Aardvark Few Ratings", alignments=intasc)
    await f.credential(runtime, "other", title="Other Standard")
    for credential, level, count in ((low, 2, 3), (high, 5, 3), (few, 5, 1)):
        tokens = await earners_who_finished(runtime, credential, count, prefix=credential.slug)
        for token in tokens:
            given = {"clarity": level, "relevance": level, "workload": level, "feedback": level}
            assert (await rate(client, token, credential, **given)).status_code == 201
    found = (
        await client.get("/api/v1/catalog", params={"standard": "InTASC 3", "sort": "rating"})
    ).json()["credentials"]
    assert [c["title"] for c in found] == ["High Rated", "Low Rated", "Aardvark Few Ratings"]
    assert [c["stars"] for c in found] == [5.0, 2.0, None]
    page = await client.get("/catalog", params={"standard": "InTASC 3", "sort": "rating"})
    titles = re.findall(r'data-testid="catalog-result-link">([^<]+)</a>', page.text)
    assert titles == ["High Rated", "Low Rated", "Aardvark Few Ratings"]
    assert "5.0 of 5 from 3 ratings" in page.text
    by_title = await client.get("/api/v1/catalog", params={"standard": "InTASC 3"})
    assert [c["title"] for c in by_title.json()["credentials"]][0] == "Aardvark Few Ratings"
    assert (await client.get("/api/v1/catalog", params={"sort": "bogus"})).status_code == 422
    four_up = await client.get("/api/v1/catalog", params={"standard": "InTASC 3", "rated": "4"})
    assert [c["title"] for c in four_up.json()["credentials"]] == ["High Rated"]
    page = await client.get("/catalog", params={"rated": "3"})
    assert re.findall(r'data-testid="catalog-result-link">([^<]+)</a>', page.text) == ["High Rated"]


async def test_the_page_forms_rate_answer_and_hide(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    earner = await f.person(runtime, "pager", [Role.earner])
    await finished(runtime, earner, credential)
    await f.person(runtime, "coord", [Role.coordinator])
    assert (await log_in(client, "pager@mcx.example", PASSWORD)).status_code == 303
    href = f"/credentials/ipa/{credential.slug}"
    page = await client.get(href)
    assert 'data-testid="rate-credential-form"' in page.text
    token = await csrf_from(client, href)
    form = {"csrf_token": token, "clarity": "5", "relevance": "4", "workload": "3", "text": "Hi"}
    missing = await client.post(f"/credentials/{credential.id}/ratings", data=form)
    assert missing.status_code == 303
    page = await client.get(href)
    assert "Feedback received: give 1 to 5 stars." in page.text
    done = await client.post(f"/credentials/{credential.id}/ratings", data=form | {"feedback": "4"})
    assert done.status_code == 303
    page = await client.get(href)
    assert "your rating is in" in page.text
    assert 'data-testid="rate-credential-form"' not in page.text
    await client.post("/logout", data={"csrf_token": await csrf_from(client, href)})
    assert (await log_in(client, "coord@mcx.example", PASSWORD)).status_code == 303
    page = await client.get(href)
    rating_id = re.search(r'action="/ratings/([0-9a-f-]+)/answer"', page.text)
    assert rating_id
    token = await csrf_from(client, href)
    answered = await client.post(
        f"/ratings/{rating_id.group(1)}/answer", data={"csrf_token": token, "answer": "Thanks!"}
    )
    assert answered.status_code == 303
    hid = await client.post(f"/ratings/{rating_id.group(1)}/hide", data={"csrf_token": token})
    assert hid.status_code == 303
    page = await client.get(href)
    assert "Answer published." not in page.text  # one flash at a time: the latest
    assert "Text hidden; the stars still count." in page.text
    assert 'data-testid="rating-answer"' in page.text


async def test_two_taps_at_once_make_one_rating_and_one_answer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime)
    [token] = await earners_who_finished(runtime, credential, 1)
    both = await asyncio.gather(*(rate(client, token, credential) for _ in range(2)))
    assert sorted(r.status_code for r in both) == [201, 409]
    rating_id = next(r for r in both if r.status_code == 201).json()["id"]
    coordinator = await f.token_for(runtime, await f.person(runtime, "coord", [Role.coordinator]))
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/ratings/{rating_id}/answer",
                json={"answer": f"Answer {i}"},
                headers=f.auth(coordinator),
            )
            for i in range(2)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
