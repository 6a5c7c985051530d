"""The Jinja2 environment shared by every page, with the CSRF token and the user in context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from app.csrf import csrf_token

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


def _context(request: Request) -> dict[str, Any]:
    return {
        "csrf_token": csrf_token(request),
        "user": getattr(request.state, "user", None),
        "roles": getattr(request.state, "roles", frozenset()),
    }


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_context])
