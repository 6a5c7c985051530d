"""Baking: PNG (iTXt openbadges / openbadgecredential) and SVG (openbadges:assertion /
openbadges:credential) round-trip, from the issuer's image when set, else a drawn one."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from app.badges import baking
from app.models import Credential
from app.runtime import Runtime
from tests import factories

FIXTURES = Path(__file__).parent / "data" / "openbadges" / "fixtures" / "ob30"


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/verify")
    found = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page.text)
    assert found
    return found.group(1)


def test_the_validators_baked_images_carry_their_credential() -> None:
    for name in ("simple-jwt.png", "simple-jwt.svg"):
        found = baking.unbake((FIXTURES / name).read_bytes())
        assert found.version == "3.0" and found.payload.count(".") == 2
    from_json = baking.unbake((FIXTURES / "simple-json.png").read_bytes())
    assert json.loads(from_json.payload)["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


def test_baking_round_trips_and_replaces_an_earlier_badge() -> None:
    png = (FIXTURES / "simple-jwt.png").read_bytes()
    rebaked = baking.bake_png(png, "header.payload.signature")
    assert baking.unbake(rebaked) == baking.Baked("3.0", "header.payload.signature")
    assert rebaked.count(b"openbadgecredential") == 1  # the old chunk went
    two = baking.bake_png(rebaked, '{"type": "Assertion"}', version="2.0")
    assert baking.unbake(two) == baking.Baked("2.0", '{"type": "Assertion"}')
    assert Image.open(io.BytesIO(two)).size == Image.open(io.BytesIO(png)).size

    svg = '<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>'
    tricky = 'a<b>&"c"]]>'
    assert baking.unbake(baking.bake_svg(svg, tricky).encode()).payload == tricky
    assert baking.unbake(baking.bake_svg(svg, "x", version="2.0").encode()).version == "2.0"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"GIF89a", "PNG or an SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "damaged"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "carries no Open Badge"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><svg>&a;</svg>',
            "cannot be read",
        ),
    ],
)
def test_unreadable_images_are_refused_in_words(data: bytes, words: str) -> None:
    with pytest.raises(baking.BakingError, match=words):
        baking.unbake(data)


async def test_downloaded_baked_badges_verify(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime, title="Data Coaching Ωmega")
    award_id = await factories.award(runtime, await factories.person(runtime, "e"), credential)
    token = await _csrf(client)
    for kind, media in (("png", "image/png"), ("svg", "image/svg+xml")):
        answer = await client.get(f"/badges/{award_id}/baked.{kind}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media)
        assert "attachment" in answer.headers["content-disposition"]
        found = baking.unbake(answer.content)
        assert found.version == "3.0" and found.payload.count(".") == 2
        verdict = await client.post(
            "/verify.json",
            content=answer.content,
            headers={"content-type": media, "x-csrf-token": token},
        )
        assert verdict.json()["result"] == "valid", verdict.json()
        assert verdict.json()["awardId"] is None  # verified from the image alone

        ob2 = await client.get(f"/badges/{award_id}/baked.{kind}", params={"version": "2.0"})
        carried = baking.unbake(ob2.content)
        assert carried.version == "2.0"
        assert json.loads(carried.payload)["id"].endswith(f"/badges/{award_id}.json")
    png = (await client.get(f"/badges/{award_id}/baked.png")).content
    assert Image.open(io.BytesIO(png)).size == (512, 512)  # the drawn default
    assert (await client.get(f"/badges/{award_id}/baked.gif")).status_code == 404
    assert (
        await client.get(f"/badges/{award_id}/baked.png", params={"version": "9"})
    ).status_code == 400


async def test_the_issuers_own_image_is_used_when_set(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    async with runtime.sessions() as session:
        # The catalogue spec has no image field yet; coordinators' images live under static/.
        stored = await session.get(Credential, credential.id)
        assert stored is not None
        stored.badge_image = "/static/icons/maskable-192.png"
        await session.commit()
    award_id = await factories.award(runtime, await factories.person(runtime, "e"), credential)
    png = (await client.get(f"/badges/{award_id}/baked.png")).content
    assert Image.open(io.BytesIO(png)).size == (192, 192)
    assert baking.unbake(png).version == "3.0"
