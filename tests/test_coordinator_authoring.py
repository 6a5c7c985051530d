"""Authoring credentials through the pages and the API: the builder form, its errors, the
status workflow, editing rules, and the badge image."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlmodel import col, func, select

from app.models import (
    AuditEntry,
    Credential,
    Role,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriterion,
)
from app.runtime import Runtime
from tests import factories as f
from tests import media
from tests.factories import auth
from tests.helpers import csrf_from, log_in

PASSWORD = "factory-password-1"


async def _coordinator(client: httpx.AsyncClient, runtime: Runtime) -> str:
    await f.organisation(runtime)
    await f.person(runtime, "coord", [Role.coordinator])
    await log_in(client, "coord@mcx.example", PASSWORD)
    return await csrf_from(client, "/coordinate/credentials/new")


def builder_form(token: str, **changes: str) -> dict[str, str]:
    """The form as a coordinator fills it: two artifacts, one standard, a two-criterion rubric."""
    form = {
        "csrf_token": token,
        "organisation": "ipa",
        "title": "Feedback That Moves Learning",
        "slug": "feedback-moves",
        "summary": "Give feedback students act on.",
        "topic": "Assessment",
        "pd_hours": "7.5",
        "competency": "Gives timely, specific feedback.",
        "key_method": "Feedback cycles.",
        "method_components": "Plan, give, follow up.",
        "research_resources": "Hattie & Timperley (2007).",
        "criteria-0-title": "Reflection",
        "criteria-0-kind": "reflection",
        "criteria-0-required": "1",
        "criteria-1-title": "Student work sample",
        "criteria-1-kind": "document",
        "criteria-1-required": "0",
        "criteria-1-accepted_types": "application/pdf",
        "criteria-1-max_mb": "5",
        "alignments-0-framework": "InTASC",
        "alignments-0-code": "6",
        "alignments-0-title": "Assessment",
        "alignments-0-url": "https://example.org/intasc/6",
        "rubric-min_level": "3",
        "rubric-min_points": "",
    }
    for row, title in enumerate(["Timeliness", "Specificity"]):
        form[f"rubric-{row}-title"] = title
        for level, (label, points) in enumerate(
            [("Not yet", 0), ("Approaching", 1), ("Meets", 2), ("Exceeds", 3)]
        ):
            form[f"rubric-{row}-levels-{level}-label"] = label
            form[f"rubric-{row}-levels-{level}-points"] = str(points)
            form[f"rubric-{row}-levels-{level}-descriptor"] = f"{title} {label.lower()}"
    form.update(changes)
    return form


async def test_a_coordinator_authors_a_credential_from_scratch_with_the_form(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    blank = await client.get("/coordinate/credentials/new")
    assert blank.status_code == 200 and 'name="rubric-0-levels-3-label"' in blank.text
    # "Add" buttons give another row without saving anything.
    more = await client.post("/coordinate/credentials/new", data=builder_form(token, add="rubric"))
    assert more.status_code == 200 and 'name="rubric-2-title"' in more.text
    made = await client.post("/coordinate/credentials/new", data=builder_form(token))
    assert made.status_code == 303, made.text
    credential_id = uuid.UUID(made.headers["location"].rsplit("/", 1)[1])
    async with runtime.sessions() as session:
        credential = await session.get(Credential, credential_id)
        assert credential is not None
        assert (credential.status, credential.slug, str(credential.pd_hours)) == (
            "draft",
            "feedback-moves",
            "7.50",
        )
        criteria = (
            await session.exec(
                select(SubmissionCriterion)
                .where(SubmissionCriterion.credential_id == credential_id)
                .order_by(col(SubmissionCriterion.position))
            )
        ).all()
        assert [(c.title, c.kind, c.required) for c in criteria] == [
            ("Reflection", "reflection", True),
            ("Student work sample", "document", False),
        ]
        assert criteria[1].accepted_types == ["application/pdf"]
        assert criteria[1].max_bytes == 5 * 1024 * 1024
        rubric = (
            await session.exec(select(Rubric).where(Rubric.credential_id == credential_id))
        ).one()
        assert rubric.min_level == 2
        levels = (
            await session.exec(
                select(func.count())
                .select_from(RubricLevel)
                .join(RubricCriterion, col(RubricCriterion.id) == col(RubricLevel.criterion_id))
                .where(RubricCriterion.rubric_id == rubric.id)
            )
        ).one()
        assert levels == 8
        audit = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.subject_id == str(credential_id))
            )
        ).all()
        assert [a.action for a in audit] == ["credential.created"] and audit[0].actor_id
    # Publish it through the settings form: it has a rubric and a required artifact.
    settings_token = await csrf_from(client, f"/coordinate/credentials/{credential_id}")
    published = await client.post(
        f"/coordinate/credentials/{credential_id}",
        data={"csrf_token": settings_token, "status": "published"},
    )
    assert published.status_code == 303
    page = await client.get("/credentials/ipa/feedback-moves")
    assert page.status_code == 200 and "Specificity" in page.text


async def test_every_error_of_the_builder_is_shown_and_nothing_is_saved(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    bad = builder_form(
        token,
        slug="Not A Slug",
        title="",
        **{
            "criteria-0-kind": "hologram",
            "criteria-1-max_mb": "lots",
            "alignments-0-url": "javascript:alert(1)",
            "rubric-1-levels-2-points": "0",  # points must rise
            "rubric-min_level": "0",
        },
    )
    refused = await client.post("/coordinate/credentials/new", data=bad)
    assert refused.status_code == 422
    for field in (
        "slug",
        "title",
        "criteria-0-kind",
        "criteria-1-max_mb",
        "alignments-0-url",
        "rubric-1-title",
        "rubric-min_level",
    ):
        assert f'data-testid="error-{field}"' in refused.text, field
    assert 'value="Not A Slug"' in refused.text  # what was typed comes back
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Credential))).one() == 0


async def test_publishing_needs_a_rubric_and_a_required_artifact(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    form = builder_form(token, **{"criteria-0-required": "0"})
    form = {k: v for k, v in form.items() if not k.startswith("rubric-")}
    made = await client.post("/coordinate/credentials/new", data=form)
    assert made.status_code == 303
    credential_id = made.headers["location"].rsplit("/", 1)[1]
    settings_token = await csrf_from(client, f"/coordinate/credentials/{credential_id}")
    for status in ("published", "pilot"):
        refused = await client.post(
            f"/coordinate/credentials/{credential_id}",
            data={"csrf_token": settings_token, "status": status, "pilot_spots": "3"},
        )
        assert refused.status_code == 422 and "needs a rubric" in refused.text
    # The API says the same for a spec that asks to be published without them.
    coordinator_token = await f.token_for(runtime, await _user(runtime, "coord@mcx.example"))
    spec = f.credential_spec("api-made", status="draft").model_dump(mode="json")
    spec.update(status="published", rubric=None)
    answer = await client.post("/api/v1/credentials", json=spec, headers=auth(coordinator_token))
    assert answer.status_code == 422 and "needs a rubric" in answer.json()["detail"]


async def _user(runtime: Runtime, email: str):  # type: ignore[no-untyped-def]
    from app.models import User

    async with runtime.sessions() as session:
        return (await session.exec(select(User).where(User.email == email))).one()


async def test_editing_replaces_a_draft_but_locks_criteria_once_earners_submit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _coordinator(client, runtime)
    coordinator = await _user(runtime, "coord@mcx.example")
    token = await f.token_for(runtime, coordinator)
    credential = await f.credential(runtime, "editable")
    spec = f.credential_spec("editable").model_dump(mode="json")
    spec["title"] = "Renamed"
    spec["rubric"]["criteria"][0]["title"] = "Plans well"
    edited = await client.put(
        f"/api/v1/credentials/{credential.id}", json=spec, headers=auth(token)
    )
    assert edited.status_code == 200 and set(edited.json()["changed"]) == {"title", "rubric"}
    async with runtime.sessions() as session:
        versions = (
            await session.exec(select(Rubric.version).where(Rubric.credential_id == credential.id))
        ).all()
    assert versions == [1]  # nothing was scored yet: replaced, not versioned
    earner = await f.person(runtime, "earner")
    await f.submitted(client, runtime, await f.token_for(runtime, earner), credential)
    spec["submission_criteria"].pop()
    locked = await client.put(
        f"/api/v1/credentials/{credential.id}", json=spec, headers=auth(token)
    )
    assert locked.status_code == 409 and locked.json()["error"] == "criteria_locked"
    spec = f.credential_spec("editable").model_dump(mode="json")
    spec["title"] = "Renamed"
    spec["rubric"]["min_level"] = 1
    revised = await client.put(
        f"/api/v1/credentials/{credential.id}", json=spec, headers=auth(token)
    )
    assert revised.status_code == 200 and revised.json()["changed"] == ["rubric"]
    async with runtime.sessions() as session:
        versions = (
            await session.exec(
                select(Rubric.version)
                .where(Rubric.credential_id == credential.id)
                .order_by(col(Rubric.version))
            )
        ).all()
    assert versions == [1, 2]  # the submitted packet keeps version 1
    # Another organisation's coordinator cannot edit it, and it looks missing.
    await f.organisation(runtime, "ctq")
    other = await f.person(runtime, "other", [Role.coordinator], org="ctq")
    refused = await client.put(
        f"/api/v1/credentials/{credential.id}",
        json=spec,
        headers=auth(await f.token_for(runtime, other)),
    )
    assert refused.status_code == 404


async def test_the_badge_image_must_be_a_real_png_or_jpeg(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _coordinator(client, runtime)
    credential = await f.credential(runtime, "pictured")
    token = await csrf_from(client, f"/coordinate/credentials/{credential.id}")
    url = f"/coordinate/credentials/{credential.id}/image"
    for name, body, kind in (
        ("badge.png", media.pdf(), "application/pdf"),
        ("badge.png", media.png()[:40], "image/png"),
    ):
        refused = await client.post(
            url, data={"csrf_token": token}, files={"image": (name, body, kind)}
        )
        assert refused.status_code == 422, refused.text
    async with runtime.sessions() as session:
        assert (await session.get(Credential, credential.id)).badge_image is None  # type: ignore[union-attr]
    saved = await client.post(
        url, data={"csrf_token": token}, files={"image": ("badge.png", media.png(), "image/png")}
    )
    assert saved.status_code == 303
    async with runtime.sessions() as session:
        image = (await session.get(Credential, credential.id)).badge_image  # type: ignore[union-attr]
    assert image and image.endswith(".png")
    served = await client.get(image)
    assert served.status_code == 200 and served.content == media.png()
    assert served.headers["content-type"] == "image/png"
    assert (await client.get("/credential-images/../../etc/passwd.png")).status_code == 404


async def test_a_coordinator_makes_a_stack_of_ordered_credentials(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await _coordinator(client, runtime)
    for slug in ("one", "two", "three"):
        await f.credential(runtime, slug, title=f"Credential {slug}")
    token = await csrf_from(client, "/coordinate/stacks")
    form = {
        "csrf_token": token,
        "organisation": "ipa",
        "title": "Teacher Leadership",
        "slug": "teacher-leadership",
        "description": "All three make a teacher leader.",
        "credential-0": "three",
        "credential-1": "one",
    }
    twice = await client.post("/coordinate/stacks", data={**form, "credential-2": "one"})
    assert twice.status_code == 422 and "appears twice" in twice.text
    made = await client.post("/coordinate/stacks", data=form)
    assert made.status_code == 303
    page = await client.get("/coordinate/stacks")
    assert re.search(r"<li>Credential three</li><li>Credential one</li>", page.text)
    again = await client.post("/coordinate/stacks", data=form)
    assert again.status_code == 422 and "already exists" in again.text
    await f.organisation(runtime, "ctq")
    other = await f.person(runtime, "other", [Role.coordinator], org="ctq")
    refused = await client.post(
        "/api/v1/stacks",
        json={"slug": "x", "organisation": "ipa", "title": "X", "credentials": ["one", "two"]},
        headers=auth(await f.token_for(runtime, other)),
    )
    assert refused.status_code == 404


async def test_a_validity_period_is_authored_and_checked(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Badges may expire N months after their award: 1 to 240, or blank for never."""
    token = await _coordinator(client, runtime)
    blank = await client.get("/coordinate/credentials/new")
    assert 'name="validity_months"' in blank.text
    for wrong in ("0", "241", "a year", "1.5"):
        refused = await client.post(
            "/coordinate/credentials/new", data=builder_form(token, validity_months=wrong)
        )
        assert refused.status_code == 422, wrong
        assert 'data-testid="error-validity_months"' in refused.text, wrong
        assert "Valid for (months)" in refused.text
        assert f'value="{wrong}"' in refused.text
    made = await client.post(
        "/coordinate/credentials/new", data=builder_form(token, validity_months="24")
    )
    assert made.status_code == 303, made.text
    credential_id = uuid.UUID(made.headers["location"].rsplit("/", 1)[1])
    edit = await client.get(f"/coordinate/credentials/{credential_id}/edit")
    assert 'name="validity_months" value="24"' in edit.text
    never = await client.post(
        "/coordinate/credentials/new",
        data=builder_form(token, slug="never-expires", validity_months=""),
    )
    assert never.status_code == 303, never.text
    async with runtime.sessions() as session:
        found = {c.slug: c.validity_months for c in (await session.exec(select(Credential))).all()}
    assert found == {"feedback-moves": 24, "never-expires": None}
