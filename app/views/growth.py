"""The growth plan: pick standards and stacks, see the gap per standard as a chart, and the
credentials MCX recommends next. Reminder preferences (nudges) live here too: both are about
how an educator keeps moving."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import growth
from app.actions import nudges
from app.actions.growth import set_goals
from app.errors import ActionError
from app.models import Stack
from app.templating import templates
from app.views.apikit import caller
from app.views.earner.responses import see_other

BAR_WIDTH = 220  # the chart's bar area in SVG units; labels sit above each bar


def chart(gaps: list[growth.Gap]) -> dict[str, object]:
    """Bar geometry for the server-rendered SVG: per standard, earned / in progress / not
    started as segments of one bar scaled to the standard's credential count."""
    rows = []
    for index, gap in enumerate(gaps):
        total = max(gap.total, 1)
        widths = [
            BAR_WIDTH * len(part) / total for part in (gap.earned, gap.in_progress, gap.not_started)
        ]
        y = 10 + index * 48
        rows.append(
            {
                "gap": gap,
                "y": y,
                "segments": [
                    {"x": 0 + sum(widths[:i]), "width": w, "class": name, "count": count}
                    for i, (w, name, count) in enumerate(
                        zip(
                            widths,
                            ("earned", "in-progress", "not-started"),
                            (len(gap.earned), len(gap.in_progress), len(gap.not_started)),
                            strict=True,
                        )
                    )
                    if w > 0
                ],
            }
        )
    return {"rows": rows, "height": 20 + len(gaps) * 48, "width": BAR_WIDTH + 80}


async def page(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /growth: the plan, the gap chart, the recommendations."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        chosen, stacks = await growth.goals_of(session, user)
        gaps = await growth.gaps(session, user, chosen)
        recommendations = await growth.recommend(session, user, chosen, stacks)
        all_standards = await growth.standards(session)
        all_stacks = (await session.exec(select(Stack).order_by(col(Stack.title)))).all()
    return templates.TemplateResponse(
        request,
        "journey/growth.html",
        {
            "gaps": gaps,
            "chart": chart(gaps),
            "recommendations": recommendations,
            "standards": all_standards,
            "stacks": all_stacks,
            "chosen": {s.key for s in chosen},
            "chosen_stacks": {s.id for s in stacks},
            "error": error.detail if error else None,
        },
        status_code=error.status if error else 200,
    )


async def show(request: Request) -> Response:
    return await page(request)


async def save(request: Request) -> Response:
    """POST /growth (repeated fields `standard` = framework|code and `stack` = id)."""
    runtime, user = await caller(request)
    form = await request.form(max_files=0, max_fields=100)
    keys = [v for v in form.getlist("standard") if isinstance(v, str)]
    try:
        stack_ids = [uuid.UUID(v) for v in form.getlist("stack") if isinstance(v, str)]
    except ValueError:
        return await page(
            request, error=ActionError("unknown_stack", "Pick stacks from the list.", 422)
        )
    try:
        async with runtime.sessions() as session:
            await set_goals(session, user, keys, stack_ids)
    except ActionError as error:
        if error.status == 401:
            raise
        return await page(request, error=error)
    return see_other("/growth")


async def reminders(request: Request, *, error: ActionError | None = None) -> Response:
    """GET /me/reminders: how and when MCX reminds me (nudges)."""
    runtime, user = await caller(request)
    async with runtime.sessions() as session:
        preference = await nudges.preference_of(session, user.id)
    return templates.TemplateResponse(
        request,
        "journey/reminders.html",
        {
            "preference": preference,
            "zones": ZONES,
            "mail_enabled": bool(runtime.settings.smtp_host),
            "error": error.detail if error else None,
        },
        status_code=error.status if error else 200,
    )


async def show_reminders(request: Request) -> Response:
    return await reminders(request)


async def save_reminders(request: Request) -> Response:
    """POST /me/reminders (fields `in_app`, `email`, `quiet_start`, `quiet_end`, `timezone`)."""
    runtime, user = await caller(request)
    form = await request.form(max_files=0, max_fields=20)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        start, end = int(fields.get("quiet_start", "0")), int(fields.get("quiet_end", "0"))
    except ValueError:
        return await reminders(
            request,
            error=ActionError("bad_hours", "Quiet hours are whole hours from 0 to 23.", 422),
        )
    try:
        async with runtime.sessions() as session:
            await nudges.set_preferences(
                session,
                user,
                in_app=fields.get("in_app") == "yes",
                email=fields.get("email") == "yes",
                quiet_start=start,
                quiet_end=end,
                timezone=fields.get("timezone", "UTC"),
            )
    except ActionError as error:
        if error.status == 401:
            raise
        return await reminders(request, error=error)
    return see_other("/me/reminders")


# The zones offered; set_preferences accepts any IANA name.
ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
]

routes = [
    Route("/growth", show),
    Route("/growth", save, methods=["POST"]),
    Route("/me/reminders", show_reminders),
    Route("/me/reminders", save_reminders, methods=["POST"]),
]
