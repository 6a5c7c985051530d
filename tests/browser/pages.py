"""What a browser test does to a page: log in through the real form, check accessibility with
axe-core, take a screenshot.

axe-core is vendored (tests/browser/vendor/, refreshed by scripts/vendor_axe.sh) and injected
into the page under test; nothing is downloaded while tests run.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page

ROOT = Path(__file__).resolve().parent.parent.parent
VENDOR = Path(__file__).resolve().parent / "vendor"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# The bar the product sets (WCAG 2.1 AA), plus axe's best practices; WCAG 2.2-only rules such
# as target-size are left out until the product adopts 2.2.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("critical", "serious")

_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: 'tag', values: tags },
    resultTypes: ['violations'],
  });
  return {
    version: axe.version,
    violations: result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({
        target: n.target.map(String).join(' '),
        html: n.html,
        summary: n.failureSummary || '',
      })),
    })),
  };
}"""


class ViolationNode(TypedDict):
    target: str
    html: str
    summary: str


class Violation(TypedDict):
    id: str
    impact: str | None
    help: str
    helpUrl: str
    nodes: list[ViolationNode]


async def login(page: Page, email: str, password: str) -> None:
    """Log in through /login as a person would; fails the test, quoting the page, if refused.

    Returns once the browser has left /login for the page the form redirected to."""
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Log in", exact=True).click()
    if urlsplit(page.url).path == "/login":
        said = await page.locator(".error").all_inner_texts()
        pytest.fail(f"log-in as {email} was refused: {said or 'no message'}", pytrace=False)


@functools.cache
def _axe_source() -> str:
    return (VENDOR / "axe.min.js").read_text(encoding="utf-8")


def pinned_axe_version() -> str:
    return (VENDOR / "axe-core.version").read_text(encoding="utf-8").strip()


async def axe(page: Page) -> list[Violation]:
    """Every axe-core violation (any impact) of the page as it is now, against AXE_TAGS."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated, not added as an inline <script>: MCX's Content-Security-Policy forbids
        # those, and the test must not weaken the policy it runs under.
        await page.evaluate(_axe_source())
    result = await page.evaluate(_RUN_AXE, AXE_TAGS)
    # A half-refreshed vendor folder would test with an axe nobody chose.
    assert result["version"] == pinned_axe_version(), result["version"]
    violations: list[Violation] = result["violations"]
    return violations


def blocking(violations: list[Violation]) -> list[Violation]:
    """The serious and critical ones: what a browser test must not let through."""
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[Violation], where: str) -> str:
    """A readable list: rule, impact, help link, then each offending element and the fix."""
    lines = [f"axe-core: {len(violations)} violation(s) on {where}"]
    for violation in violations:
        lines.append(
            f"  [{violation['impact']}] {violation['id']}: {violation['help']}"
            f" ({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            lines.append(f"      at {node['target']}: {node['html'][:160]}")
            for line in node["summary"].splitlines():
                lines.append(f"        {line}")
    return "\n".join(lines)


async def assert_accessible(page: Page) -> None:
    """Fail the test, listing them, if axe finds any serious or critical violation."""
    found = blocking(await axe(page))
    if found:
        pytest.fail(describe(found, page.url), pytrace=False)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120] or "page"


async def screenshot(page: Page, test_name: str, name: str) -> Path:
    """A full-page PNG at test-artifacts/screenshots/<test>--<name>.png; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_slug(test_name)}--{_slug(name)}.png"
    await page.screenshot(path=path, full_page=True, animations="disabled")
    return path
