"""What a newcomer's first hour found (issue 15), through HTTP against real PostgreSQL and Redis:
word ranges, readable authoring errors, no CSRF token in addresses, the favicon, the demo's
calibration, the base URL of the address served. (The browser parts are in
tests/browser/test_first_hour.py.)"""

from __future__ import annotations

import html
import re

import httpx
import pytest
from pydantic import ValidationError
from sqlmodel import select

from app import access
from app.demo import content, load_demo
from app.models import CalibrationExample, Credential, QualityPolicy, User
from app.runtime import Runtime
from app.settings import load_settings, served_base_url
from app.specs import CriterionSpec
from tests import factories as f
from tests import media
from tests.helpers import csrf_from, log_in
from tests.journey import criteria, put_draft, sign_in, start
from tests.test_coordinator_authoring import _coordinator, builder_form

RANGE = [
    {
        "title": "Growth plan",
        "kind": "reflection",
        "required": True,
        "min_words": 400,
        "max_words": 600,
    }
]


def words(n: int) -> str:
    return " ".join(["we"] * n)


# --- 4. word ranges ---------------------------------------------------------------------------


async def test_a_reflection_outside_its_word_range_is_refused_at_the_check_and_at_submit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(runtime, submission_criteria=RANGE)
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    plan = (await criteria(runtime, credential))["Growth plan"]

    for count in (100, 3600):
        saved = await put_draft(client, token, submission_id, plan, text=words(count))
        assert saved.status_code == 200, saved.text
        check = await client.get(f"/submissions/{submission_id}/check")
        assert f"{count} words; write 400\u2013600 words" in check.text
        assert "Ready" not in check.text
        refused = await client.post(
            f"/submissions/{submission_id}/submit", data={"csrf_token": token}
        )
        assert refused.status_code == 422, refused.text
        assert "write 400\u2013600 words" in refused.text

    page = await client.get(f"/submissions/{submission_id}")
    assert 'data-max-words="600"' in page.text and "Write 400\u2013600 words." in page.text
    await put_draft(client, token, submission_id, plan, text=words(450))
    taken = await client.post(f"/submissions/{submission_id}/submit", data={"csrf_token": token})
    assert taken.status_code == 303, taken.text


def test_a_word_range_must_be_a_range_on_a_reflection() -> None:
    with pytest.raises(ValidationError, match="fewer than the least"):
        CriterionSpec(title="Plan", kind="reflection", min_words=600, max_words=400)
    with pytest.raises(ValidationError, match="only to a written reflection"):
        CriterionSpec(title="Plan", kind="document", max_words=400)


def test_every_demo_reflection_enforces_the_words_its_description_asks_for() -> None:
    seen = 0
    for credential in content.CREDENTIALS:
        for criterion in credential["submission_criteria"]:
            if criterion["kind"] != "reflection":
                continue
            seen += 1
            text = criterion["description"]
            if found := re.search(r"(\d+)-(\d+) words", text):
                asked = (int(found[1]), int(found[2]))
            else:
                found = re.search(r"Up to (\d+) words", text)
                assert found, text
                asked = (None, int(found[1]))  # type: ignore[assignment]
            assert (criterion.get("min_words"), criterion.get("max_words")) == asked, text
    assert seen >= 7


# --- 2. the base URL of the address actually served -------------------------------------------


def test_the_development_base_url_is_the_address_served_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MCX_BASE_URL", raising=False)
    settings = load_settings(_env_file=None)
    assert served_base_url(settings, "127.0.0.1", 8101) == "http://127.0.0.1:8101"
    assert served_base_url(settings, "0.0.0.0", 8000) == "http://127.0.0.1:8000"  # noqa: S104
    assert served_base_url(settings, "::1", 8000) == "http://[::1]:8000"
    monkeypatch.setenv("MCX_BASE_URL", "https://mcx.school.example")
    explicit = load_settings(_env_file=None)
    assert served_base_url(explicit, "127.0.0.1", 8101) == "https://mcx.school.example"


# --- 6. authoring errors a coordinator can read ------------------------------------------------


async def test_authoring_errors_are_one_sentence_per_field(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    bad = builder_form(
        token,
        slug="Feedback That Moves",
        pd_hours="lots",
        **{
            "criteria-1-accepted_types": "pdf word doc",  # three words, three pattern failures
            "criteria-0-min_words": "four hundred",
            "alignments-0-url": "example.org/intasc",
        },
    )
    refused = await client.post("/coordinate/credentials/new", data=bad)
    assert refused.status_code == 422
    page = html.unescape(refused.text)
    summary = re.search(r'data-testid="author-errors">(.*?)</div>', page, re.S)
    assert summary, page
    said = re.findall(r'class="field-error"[^>]*>([^<]*)<', page) + re.findall(
        r"<li>([^<]*)</li>", summary[1]
    )
    for developer_words in ("String should", "pattern", "^[a-z", "Input should", "_types"):
        assert not [m for m in said if developer_words in m], (developer_words, said)
    expected = {
        "slug": "Short name (slug): use lowercase letters, digits and single hyphens",
        "pd_hours": "PD credit hours: give a number.",
        "criteria-1-accepted_types": "Submission criterion 2, accepted file types: give media "
        "types such as application/pdf or image/png, separated by commas.",
        "criteria-0-min_words": "Submission criterion 1, least words: give a whole number",
        "alignments-0-url": "Alignment 1, link: give a full web address starting with https://",
    }
    for field, message in expected.items():
        assert f'data-testid="error-{field}"' in refused.text, field
        # Once next to the field and once in the summary at the top; never once per word.
        assert page.count(message) == 2, (message, page.count(message))


# --- 11. the CSRF token never travels in an address --------------------------------------------


async def test_the_csrf_token_is_a_form_field_or_header_never_in_the_address(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    credential = await f.credential(
        runtime, submission_criteria=[{"title": "Plan", "kind": "document", "required": True}]
    )
    await f.person(runtime, "ada")
    token = await sign_in(client, "ada@mcx.example")
    submission_id = await start(client, token, credential)
    plan = (await criteria(runtime, credential))["Plan"]
    url = f"/submissions/{submission_id}/artifacts/{plan}"
    pdf = {"file": ("plan.pdf", media.pdf(), "application/pdf")}

    for page in (f"/submissions/{submission_id}", "/verify"):
        text = (await client.get(page)).text
        assert "csrf_token=" not in text, page  # no form action or link carries it
        assert 'name="csrf_token"' in text, page

    in_address = await client.post(f"{url}?csrf_token={token}", files=pdf)
    assert in_address.status_code == 403
    # The token must be the form's first field: only that much of an upload is read to find it.
    late = await client.post(url, files={**pdf, "csrf_token": (None, token)})  # type: ignore[dict-item]
    assert late.status_code == 403
    field = await client.post(url, data={"csrf_token": token}, files=pdf)
    assert field.status_code == 303, field.text
    header = await client.post(url, files=pdf, headers={"X-CSRF-Token": token})
    assert header.status_code == 303, header.text
    verified = await client.post(
        "/verify", data={"csrf_token": token}, files={"image": ("x.png", media.png(), "image/png")}
    )
    assert verified.status_code == 200 and "Not a trustworthy badge" in verified.text


# --- 13. the demo meets calibration, known answers and trust ----------------------------------


async def test_the_demo_calibrates_its_reviewers_but_one(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    report = await load_demo(runtime)
    peer = content.CREDENTIALS  # every one has a peer pool
    assert report.created["calibration examples"] == 2 * len(peer) >= 10
    async with runtime.sessions() as session:
        for raw in peer:
            credential = (
                await session.exec(select(Credential).where(Credential.slug == raw["slug"]))
            ).one()
            policy = await session.get(QualityPolicy, credential.id)
            assert policy and policy.calibration_required == 1 and policy.known_answer_percent
            examples = (
                await session.exec(
                    select(CalibrationExample).where(
                        CalibrationExample.credential_id == credential.id
                    )
                )
            ).all()
            assert len(examples) == 2, raw["slug"]

    # A calibrated reviewer sees "Calibrated"; the newcomer is asked to calibrate first.
    assert (await log_in(client, "reviewer1@mcx.example", "reviewer-demo-1")).status_code == 303
    ready = (await client.get("/review/calibration")).text
    assert ready.count("Calibrated") >= len(peer) and 'data-testid="calibrate-link"' not in ready
    await client.post("/logout", data={"csrf_token": await csrf_from(client, "/review")})
    assert (await log_in(client, "reviewer4@mcx.example", "reviewer-demo-4")).status_code == 303
    newcomer = (await client.get("/review/calibration")).text
    assert newcomer.count('data-testid="calibrate-link"') == len(peer)
    async with runtime.sessions() as session:
        reviewer4 = (
            await session.exec(select(User).where(User.email == "reviewer4@mcx.example"))
        ).one()
        assert await access.reviewer_pools(session, reviewer4) == set()  # gated until calibrated
    assert (await load_demo(runtime)).created["calibration examples"] == 0
