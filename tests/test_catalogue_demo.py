"""The demo shows every part of issue 18: ratings with an answer (and one credential below
the minimum), one panel-certified credential, and the state recognising some credentials."""

from __future__ import annotations

import httpx

from app.demo import load_demo
from app.runtime import Runtime
from tests.helpers import log_in


async def test_the_demo_shows_ratings_a_certified_credential_and_a_state_list(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await load_demo(runtime)
    await load_demo(runtime)  # idempotent
    page = await client.get("/credentials/ipa/collaborative-leadership-coaching")
    assert "from 3 earners" in page.text and 'data-testid="rating-answer"' in page.text
    assert "<strong>Panel-certified</strong>" in page.text
    assert "Illinois State Board of Education: <strong>10 licence-renewal hours</strong>" in (
        page.text
    )
    few = await client.get("/credentials/ctq/leading-data-informed-team-inquiry")
    assert 'data-testid="ratings-too-few"' in few.text
    top = (await client.get("/api/v1/catalog", params={"sort": "rating"})).json()["credentials"]
    assert top[0]["certified"] and top[0]["stars"] is not None
    assert (await log_in(client, "recognizer@isbe.example", "recognizer-demo-1")).status_code == 303
    listed = await client.get("/recognition")
    assert listed.text.count('data-testid="recognition-row"') == 3
