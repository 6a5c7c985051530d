"""Work peers cannot finish offered to experts: overdue packets, and tie-breaks nobody may
take (see app.actions.overdue)."""

from __future__ import annotations

from typing import Any

from app.actions.overdue import offer_overdue_to_experts, offer_stranded_tiebreaks


async def offer_overdue(ctx: dict[str, Any]) -> int:
    return await offer_overdue_to_experts(ctx["runtime"])


async def offer_stranded(ctx: dict[str, Any]) -> int:
    return await offer_stranded_tiebreaks(ctx["runtime"])
