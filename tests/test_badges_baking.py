"""Baking: PNG (iTXt openbadges / openbadgecredential) and SVG (openbadges:assertion /
openbadges:credential) round-trip, from the issuer's image when set, else a drawn one."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree
from PIL import Image

from app.badges import baking, images
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


async def test_svgs_are_baked_as_the_baking_sections_say(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """OB 3.0: the VC-JWT in the `verify` attribute of <openbadges:credential>, no text.
    OB 2.0: <openbadges:assertion verify="assertion URL"> with the assertion JSON in CDATA.
    Both, and the 1EdTech fixture, go round through /verify with no cookie or token."""
    await factories.issuer(runtime)
    credential = await factories.credential(runtime)
    award_id = await factories.award(runtime, await factories.person(runtime, "e"), credential)
    base = runtime.settings.base_url

    ob3 = (await client.get(f"/badges/{award_id}/baked.svg")).content
    element = ElementTree.fromstring(ob3).find(f"{{{baking.OB3_NS}}}credential")
    assert element is not None
    assert element.get("verify", "").count(".") == 2
    assert not (element.text or "").strip() and len(element) == 0

    ob2 = (await client.get(f"/badges/{award_id}/baked.svg", params={"version": "2.0"})).text
    assertion = ElementTree.fromstring(ob2).find(f"{{{baking.OB2_NS}}}assertion")
    assert assertion is not None
    assert assertion.get("verify") == f"{base}/badges/{award_id}.json"
    assert "<![CDATA[{" in ob2
    assert json.loads(assertion.text or "")["id"] == assertion.get("verify")

    fixture = (FIXTURES / "simple-jwt.svg").read_bytes()
    published = ElementTree.fromstring(fixture).find(f"{{{baking.OB3_NS}}}credential")
    assert published is not None
    rebaked = baking.bake_svg(
        images.drawn_svg("Teamwork", "Example"), baking.unbake(fixture).payload
    )
    again = ElementTree.fromstring(rebaked).find(f"{{{baking.OB3_NS}}}credential")
    assert again is not None and again.get("verify") == published.get("verify")

    for image, award in (
        (ob3, None),
        (ob2.encode(), str(award_id)),
        (fixture, None),
        (rebaked.encode(), None),
    ):
        verdict = await client.post(
            "/verify.json", content=image, headers={"content-type": "image/svg+xml"}
        )
        assert verdict.json()["result"] == "valid", verdict.json()
        assert verdict.json()["awardId"] == award


def test_json_credentials_go_in_cdata_and_older_placements_still_read() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>'
    document = json.dumps({"type": ["VerifiableCredential"], "name": "a ]]> b <c> & d"})
    baked = baking.bake_svg(svg, document)
    assert baked.count("<![CDATA[") == 2  # "]]>" split across two sections
    assert baking.unbake(baked.encode()) == baking.Baked("3.0", document)
    # The JWT as element text (how MCX and some bakers wrote it before) is still read.
    legacy = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/'
        'ob/v3p0"><openbadges:credential>a.b.c</openbadges:credential></svg>'
    )
    assert baking.unbake(legacy.encode()) == baking.Baked("3.0", "a.b.c")
    # OB 2.0 with only the URL in `verify` (a hosted badge without the JSON) reads as the URL.
    url_only = baking.bake_svg(svg, "https://mcx.example/badges/x.json", version="2.0")
    assert baking.unbake(url_only.encode()) == baking.Baked(
        "2.0", "https://mcx.example/badges/x.json"
    )
