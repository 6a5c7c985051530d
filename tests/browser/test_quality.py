"""The coordinator's quality page in a real browser: Krippendorff's alpha per credential and
per criterion, and the reviewers below the trust floor; the suspended reviewer's own
calibration page. Both pass axe at phone size. Data is made through the app's actions over
real HTTP; the coordinator and the reviewer use their phones."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from app.actions import calibration, reviews, tasks
from app.agreement import alpha
from app.models import Role
from tests import factories as f
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import assert_accessible, login
from tests.test_quality_calibration import _levels

PASSWORD = "factory-password-1"


async def test_the_quality_page_shows_alpha_and_reviewers_below_the_trust_floor(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    runtime = live_server.runtime
    credential = await f.credential(runtime, "coaching", title="Collaborative coaching")
    coordinator = await f.person(runtime, "coco", [Role.coordinator])
    await f.quality_policy(runtime, coordinator, credential, trust_floor=60)
    levels = await _levels(runtime, credential)
    # Three packets, each scored by two peers (levels of Plans, Acts).
    scored = [([3, 3], [3, 2]), ([1, 0], [1, 1]), ([2, 2], [2, 3])]
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for i, pair in enumerate(scored):
            earner_token = await f.token_for(runtime, await f.person(runtime, f"earner{i}"))
            await f.submitted(http, runtime, earner_token, credential)
            for j, positions in enumerate(pair):
                peer = await f.person(runtime, f"peer{i}{j}", [Role.reviewer])
                claim = await tasks.claim_next(runtime, peer)
                await reviews.write_review(
                    runtime,
                    peer,
                    claim.task_id,
                    claim.lease_version,
                    [
                        reviews.ScoreInput(criterion_id, ids[p])
                        for (criterion_id, ids), p in zip(levels, positions, strict=True)
                    ],
                    "Feedback for the earner.",
                    final=True,
                )
    # A reviewer misses two calibration examples: trust 37.5, under the floor of 60.
    sloppy = await f.person(runtime, "sam", [Role.reviewer])
    for i in range(2):
        example = await f.calibration_example(runtime, coordinator, credential, [2, 2], f"Ex {i}")
        await calibration.attempt_example(
            runtime, sloppy, example.id, {cid: ids[0] for cid, ids in levels}
        )

    page = await (await phone()).new_page()
    await login(page, coordinator.email, PASSWORD)
    await page.goto("/coordinate")
    # A phone keeps the bar on one line: the places are in its menu.
    await page.get_by_text("Menu", exact=True).click()
    async with page.expect_navigation():
        await page.get_by_role("link", name="Quality", exact=True).click()
    table = page.get_by_test_id("quality-alpha")
    await expect(table).to_be_visible()
    plans = [[a[0], b[0]] for a, b in scored]
    acts = [[a[1], b[1]] for a, b in scored]
    await expect(table.get_by_test_id("alpha-credential")).to_contain_text("Collaborative coaching")
    await expect(
        table.get_by_test_id("alpha-credential").get_by_test_id("alpha-value")
    ).to_have_text(f"{alpha(plans + acts):.3f}")
    criteria = table.get_by_test_id("alpha-criterion")
    await expect(criteria).to_have_count(2)
    await expect(criteria.nth(0)).to_contain_text("Plans")
    await expect(criteria.nth(0).get_by_test_id("alpha-value")).to_have_text(f"{alpha(plans):.3f}")
    await expect(criteria.nth(1)).to_contain_text("Acts")
    await expect(criteria.nth(1).get_by_test_id("alpha-value")).to_have_text(f"{alpha(acts):.3f}")
    below = page.get_by_test_id("below-floor-row")
    await expect(below).to_have_count(1)
    await expect(below).to_contain_text("Sam")
    await expect(below.get_by_test_id("below-floor-trust")).to_have_text("38")
    await assert_accessible(page)
    await shot(page, "coordinator-quality")

    # The credential's own quality page: the same reviewer, with the override button.
    await page.goto(f"/coordinate/quality/{credential.id}")
    await expect(page.get_by_test_id("override")).to_have_count(1)
    await assert_accessible(page)
    await shot(page, "coordinator-quality-credential")

    # The suspended reviewer is told why, and where to recalibrate.
    mine = await (await phone()).new_page()
    await login(mine, sloppy.email, PASSWORD)
    await mine.goto("/review/calibration")
    await expect(mine.get_by_test_id("calibration-suspended")).to_contain_text(
        "fell below the floor of 60"
    )
    await assert_accessible(mine)
    await shot(mine, "reviewer-calibration-suspended")
