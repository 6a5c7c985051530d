"""Overdue review work offered to experts (see app.actions.overdue)."""

from __future__ import annotations

from typing import Any

from app.actions.overdue import offer_overdue_to_experts


async def offer_overdue(ctx: dict[str, Any]) -> int:
    return await offer_overdue_to_experts(ctx["runtime"])
