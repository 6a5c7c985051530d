"""Stand-ins for the outside world of Web Push: a push service (an HTTP server on 127.0.0.1
that records what MCX's worker sends and answers as scripted) and a browser's subscription
(a P-256 key pair and auth secret, made here as a browser makes them), with the checks a
real push service and browser would make: the VAPID JWT (RFC 8292) and aes128gcm (RFC 8291),
decrypted here by hand from the RFCs, not by the library MCX encrypts with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from joserfc import jwt
from joserfc.jwk import ECKey
from multidict import CIMultiDict


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: CIMultiDict[str]  # case-insensitive, as HTTP headers are
    body: bytes
    at: float


@dataclass
class PushService:
    """Answers 201 unless `script[path]` lists (status, headers) answers to give first."""

    origin: str = ""
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def to(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/push/{name}"]

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received(
                request.path, CIMultiDict(request.headers), await request.read(), time.monotonic()
            )
        )
        answers = self.script.get(request.path)
        status, headers = answers.pop(0) if answers else (201, {})
        return web.Response(status=status, headers=headers)


@asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    app = web.Application()
    app.router.add_post("/push/{name}", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    service.origin = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()


def vapid_claims(received: Received, published_key: str) -> dict[str, Any]:
    """What a push service checks (RFC 8292): `vapid t=JWT,k=KEY`, the key is the one the
    subscription was made with, and the JWT is ES256-signed by it; returns the claims."""
    scheme, _, params = received.headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert parts["k"] == published_key
    point = unb64url(parts["k"])
    assert len(point) == 65 and point[0] == 4
    key = ECKey.import_key(
        {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:])}
    )
    token = jwt.decode(parts["t"], key, algorithms=["ES256"])  # raises on a bad signature
    assert token.header["alg"] == "ES256"
    return dict(token.claims)


@dataclass
class Device:
    """A browser's push subscription: its ECDH key pair and 16-byte auth secret."""

    endpoint: str
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, server_key: str) -> dict[str, Any]:
        """PushSubscription.toJSON(), plus the key it was made with, as push.js posts it."""
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(self.public_raw), "auth": b64url(self.auth)},
            "server_key": server_key,
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        """RFC 8291 section 3 + RFC 8188: one aes128gcm record, decrypted as the browser does."""
        salt, rs, idlen = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
        sender = body[21 : 21 + idlen]
        record = body[21 + idlen :]
        assert rs >= 18 and len(record) <= rs
        shared = self.private.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        )
        ikm = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=self.auth,
            info=b"WebPush: info\x00" + self.public_raw + sender,
        ).derive(shared)
        prk = hmac.new(salt, ikm, hashlib.sha256).digest()  # HKDF-Extract(salt, IKM)
        cek = HKDFExpand(hashes.SHA256(), 16, b"Content-Encoding: aes128gcm\x00").derive(prk)
        nonce = HKDFExpand(hashes.SHA256(), 12, b"Content-Encoding: nonce\x00").derive(prk)
        plain = AESGCM(cek).decrypt(nonce, record, None)
        text = plain.rstrip(b"\x00")
        assert text.endswith(b"\x02"), "the last record ends with the 0x02 delimiter"
        return dict(json.loads(text[:-1]))
