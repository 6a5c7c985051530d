"""Outgoing e-mail over SMTP (aiosmtplib), configured by MCX_SMTP_*. Without MCX_SMTP_HOST
MCX sends no mail, and says so to whoever asks for it."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from app.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


async def send(settings: Settings, to: str, subject: str, body: str) -> bool:
    """Send one plain-text message; False (logged) if there is no SMTP server or it refused."""
    if not settings.smtp_host:
        return False
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=TIMEOUT_SECONDS,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("mail to %s not sent: %s", to, exc)
        return False
    return True
