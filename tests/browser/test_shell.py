"""The app shell in a real browser at phone size: pages render, the log-in form works, the
shared pages pass axe-core, the manifest and its icons load, and the service worker keeps the
shell (and only the shell) for offline use."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from sqlmodel import select

from app.actions import accounts
from app.models import User
from app.views.shell import SHELL, shell_version
from tests.browser.conftest import ContextFactory, LiveServer, Shot
from tests.browser.pages import axe, blocking, describe, login

EMAIL = "earner1@mcx.example"
PASSWORD = "earner-demo-1"


async def _teacher(server: LiveServer) -> None:
    async with server.runtime.sessions() as session:
        await accounts.create_user(
            session, email=EMAIL, name="Ada Teacher", password=PASSWORD, school="Lincoln Elementary"
        )


async def _fits_the_screen(page: Page) -> None:
    # Phone-first: nothing may need sideways scrolling at 390 px.
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide on a {widths[1]} px screen"


async def _controlled(page: Page) -> str:
    """Wait (bounded by the page's timeout) until a service worker controls the page; returns
    its script URL."""
    try:
        await page.wait_for_function("() => navigator.serviceWorker?.controller != null")
    except PlaywrightTimeoutError:
        pytest.fail(f"no service worker took control of {page.url}: does base.html register it?")
    return str(await page.evaluate("() => navigator.serviceWorker.controller.scriptURL"))


async def test_a_teacher_opens_mcx_on_a_phone_and_logs_in(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    await _teacher(live_server)
    page = await (await phone()).new_page()

    await page.goto("/")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="MCX")).to_be_visible()
    await _fits_the_screen(page)
    await shot(page, "home")

    await page.goto("/login")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await _fits_the_screen(page)
    await shot(page, "login")

    await login(page, EMAIL, PASSWORD)
    assert page.url == live_server.url + "/"
    # A phone keeps the bar on one line: the name is at the top of the menu.
    await page.get_by_text("Menu", exact=True).click()
    await expect(page.locator("nav .who", has_text="Ada Teacher")).to_be_visible()
    await shot(page, "logged-in")


async def test_log_out_everywhere_from_the_menu_revokes_the_tokens_when_ticked(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    await _teacher(live_server)
    async with live_server.runtime.sessions() as session:
        user = (await session.exec(select(User).where(User.email == EMAIL))).one()
        _, token = await accounts.create_api_token(session, user, "district export")
    page = await (await phone()).new_page()
    await login(page, EMAIL, PASSWORD)
    await page.get_by_text("Menu", exact=True).click()
    await page.get_by_role("link", name="Sessions").click()
    await expect(page.get_by_role("heading", name="Sessions and security")).to_be_visible()
    await _fits_the_screen(page)
    box = page.get_by_label("Also revoke my 1 personal API token")
    await box.check()
    await shot(page, "security")
    await page.get_by_role("button", name="Log out everywhere").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Signed out of 1 session (this one included); revoked 1 personal API token."
    )
    assert page.url == live_server.url + "/login"
    answer = await page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 401


async def test_shared_pages_have_no_serious_accessibility_violations(
    live_server: LiveServer, phone: ContextFactory, desktop: ContextFactory, shot: Shot
) -> None:
    await _teacher(live_server)
    problems: list[str] = []
    page = await (await phone()).new_page()
    for path in ("/", "/login", "/signup", "/offline"):
        await page.goto(path)
        if found := blocking(await axe(page)):
            problems.append(describe(found, f"{path} (phone, logged out)"))
    await login(page, EMAIL, PASSWORD)
    for path in ("/", "/account/tokens", "/account/security"):
        await page.goto(path)
        if found := blocking(await axe(page)):
            problems.append(describe(found, f"{path} (phone, logged in)"))
    await shot(page, "tokens")

    wide = await (await desktop()).new_page()
    await wide.goto("/")
    if found := blocking(await axe(wide)):
        problems.append(describe(found, "/ (desktop, logged out)"))
    await shot(wide, "home-desktop")
    assert not problems, "\n\n".join(problems)


async def test_the_manifest_is_valid_and_its_icons_load(
    live_server: LiveServer, phone: ContextFactory
) -> None:
    page = await (await phone()).new_page()
    await page.goto("/")
    link = page.locator('link[rel="manifest"]')
    assert await link.count() == 1, "base.html should link the manifest"
    href = await link.get_attribute("href")
    assert href == "/manifest.webmanifest"

    answer = await page.request.get(href)
    assert answer.ok
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(await answer.body())
    assert manifest["name"] == "MCX"
    assert manifest["short_name"] == "MCX"
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    theme = await page.locator('meta[name="theme-color"]').get_attribute("content")
    assert manifest["theme_color"] == theme
    background = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == _rgb(manifest["background_color"])

    purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any")} <= purposes
    assert {("192x192", "maskable"), ("512x512", "maskable")} <= purposes
    for icon in manifest["icons"]:
        # Decoded by the browser itself, at the size the manifest promises.
        size = await page.evaluate(
            """async (src) => {
              const image = new Image();
              image.src = src;
              await image.decode();
              return `${image.naturalWidth}x${image.naturalHeight}`;
            }""",
            icon["src"],
        )
        assert size == icon["sizes"], icon


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


async def test_the_service_worker_keeps_the_shell_for_offline_use(
    live_server: LiveServer, phone: ContextFactory, shot: Shot
) -> None:
    context = await phone()
    page = await context.new_page()
    await page.goto("/")
    script = await _controlled(page)
    assert script == live_server.url + "/sw.js"
    scope = await page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == live_server.url + "/"
    worker_script = await page.request.get("/sw.js")
    assert worker_script.headers["content-type"].startswith("text/javascript")
    assert worker_script.headers["cache-control"] == "no-cache"  # updates are found at once

    await context.set_offline(True)
    await page.goto("/catalog")
    await expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    # The page kept its address, and its stylesheet came from the worker's cache.
    assert page.url == live_server.url + "/catalog"
    background = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(246, 247, 250)"
    await shot(page, "offline")

    # Back online, the offline page reloads the address by itself.
    await context.set_offline(False)
    await expect(page.get_by_role("heading", name="You are offline")).to_have_count(0)
    assert page.url == live_server.url + "/catalog"


async def test_the_service_worker_never_keeps_api_answers_or_pages(
    live_server: LiveServer, phone: ContextFactory
) -> None:
    await _teacher(live_server)
    context = await phone()
    page = await context.new_page()
    await login(page, EMAIL, PASSWORD)
    await _controlled(page)
    fetch = """async (path) => {
      try {
        const answer = await fetch(path);
        return answer.status;
      } catch (error) {
        return error.name;
      }
    }"""
    assert await page.evaluate(fetch, "/api/v1/credentials") == 200
    assert await page.evaluate(fetch, "/api/v1/me") == 200

    await context.set_offline(True)
    assert await page.evaluate(fetch, "/api/v1/credentials") == "TypeError"
    assert await page.evaluate(fetch, "/api/v1/me") == "TypeError"
    # What the worker stored is exactly the shell: no page, no API answer, nobody's name.
    stored = await page.evaluate(
        """async () => {
          const paths = [];
          for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
          }
          return paths;
        }"""
    )
    assert sorted(stored) == sorted(SHELL)
    assert await page.evaluate("() => caches.keys()") == [f"mcx-shell-{shell_version()}"]
    offline_copy = await page.evaluate(
        """async () => {
          const answer = await caches.match('/offline');
          return answer.text();
        }"""
    )
    assert "Ada Teacher" not in offline_copy
    assert "csrf_token" not in offline_copy
