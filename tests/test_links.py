"""The evidence link check never reaches inside MCX's network (issue 16, item 2).

The outside probe got `http://[::127.0.0.1]:PORT/` past the old filter (Python calls
IPv4-compatible and NAT64 addresses global), saw redirects followed with only the first host
checked, and the name resolved twice (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app import links
from app.links import UNREACHABLE, link_problem, public_address
from app.settings import Settings

INSIDE = [
    "127.0.0.1",
    "10.1.2.3",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104  (an address to refuse, not to bind)
    "224.0.0.1",
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::127.0.0.1",  # IPv4-compatible
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address
    "64:ff9b::7f00:1",
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:a00:1:8000:63bf:3fff:fdd2",  # Teredo, server 10.0.0.1
]
OUTSIDE = [
    "8.8.8.8",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("address", INSIDE)
def test_addresses_inside_a_network_are_refused_however_wrapped(address: str) -> None:
    assert public_address(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", OUTSIDE)
def test_public_addresses_are_allowed_however_wrapped(address: str) -> None:
    assert public_address(ipaddress.ip_address(address)) is True


class _Site(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]]

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.seen.append((self.path, self.headers.get("Host", "")))
        parts = urlsplit(self.path)
        if parts.path == "/hop":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
        elif parts.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
        else:
            self.send_response(200 if parts.path == "/ok" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """A web server on 127.0.0.1: its port, and every (path, Host) it was asked for."""
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Site,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def only_loopback_one_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend 127.0.0.1 is a public address (and nothing else is) to test redirects."""
    monkeypatch.setattr(links, "public_address", lambda a: str(a) == "127.0.0.1")


async def test_an_ipv4_compatible_literal_is_not_fetched(
    site: tuple[int, list[tuple[str, str]]], settings: Settings
) -> None:
    port, seen = site
    for host in ("[::127.0.0.1]", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "127.0.0.1"):
        assert await link_problem(f"http://{host}:{port}/ok", settings) == UNREACHABLE
    assert seen == []


async def test_every_redirect_hop_is_checked(
    site: tuple[int, list[tuple[str, str]]], settings: Settings, only_loopback_one_is_public: None
) -> None:
    port, seen = site
    assert await link_problem(f"http://127.0.0.1:{port}/hop?to=/ok", settings) is None
    inside = f"http://127.0.0.2:{port}/ok"
    assert await link_problem(f"http://127.0.0.1:{port}/hop?to={inside}", settings) == UNREACHABLE
    assert [path for path, _ in seen] == ["/hop?to=/ok", "/ok", f"/hop?to={inside}"]
    assert await link_problem(f"http://127.0.0.1:{port}/loop", settings) == (
        f"the link redirects more than {links.MAX_REDIRECTS} times"
    )
    assert (
        await link_problem(f"http://127.0.0.1:{port}/hop?to=file:///etc/passwd", settings)
        == UNREACHABLE
    )


async def test_the_name_is_resolved_once_and_the_checked_address_is_used(
    site: tuple[int, list[tuple[str, str]]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    only_loopback_one_is_public: None,
) -> None:
    port, seen = site
    answers: list[str] = []

    async def rebinding(host: str, _port: int) -> list[ipaddress.IPv4Address]:
        # First the checked answer, then an inside one: a second resolution would be caught.
        answers.append(host)
        return [ipaddress.IPv4Address("127.0.0.1" if len(answers) == 1 else "10.0.0.1")]

    monkeypatch.setattr(links, "lookup", rebinding)
    assert await link_problem(f"http://rebind.example:{port}/ok", settings) is None
    assert answers == ["rebind.example"]
    # The request reached the checked address, still naming the link's host.
    assert seen == [("/ok", f"rebind.example:{port}")]


async def test_a_private_intranet_can_opt_in(
    site: tuple[int, list[tuple[str, str]]], settings: Settings
) -> None:
    port, _ = site
    local = settings.model_copy(update={"link_check_private": True})
    assert await link_problem(f"http://127.0.0.1:{port}/ok", local) is None
    assert await link_problem(f"http://127.0.0.1:{port}/hop?to=/gone", local) == (
        "the link does not open (the server answered 404)"
    )


def _certificate(names: list[str]) -> tuple[bytes, bytes, bytes]:
    """A test CA's certificate, and a key and certificate it signed for `names` (PEM)."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = datetime.now(UTC)

    def build(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = build("MCX test CA", ca_key, "MCX test CA", ca_key, True)
    leaf = build(names[0], leaf_key, "MCX test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), key_pem, leaf.public_bytes(pem)


async def test_https_keeps_the_name_for_sni_and_the_certificate(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    only_loopback_one_is_public: None,
) -> None:
    ca_pem, key_pem, cert_pem = _certificate(["secure.example"])
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Site,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    async def pinned(host: str, _port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("127.0.0.1")]

    monkeypatch.setattr(links, "lookup", pinned)
    monkeypatch.setattr(links, "TLS_VERIFY", ssl.create_default_context(cadata=ca_pem.decode()))
    try:
        assert await link_problem(f"https://secure.example:{port}/ok", settings) is None
        assert names == ["secure.example"]
        assert seen == [("/ok", f"secure.example:{port}")]
        # A certificate that does not name the link's host is not trusted.
        wrong = await link_problem(f"https://other.example:{port}/ok", settings)
        assert wrong == "the link does not open (no server answered)"
        assert len(seen) == 1
    finally:
        server.shutdown()
        server.server_close()
