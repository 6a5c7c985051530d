"""The growth plan: the standards and stacks an earner works toward."""

from __future__ import annotations

import uuid

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import growth
from app.errors import ActionError
from app.models import GrowthGoal, Stack, User

MAX_GOALS = 40


async def set_goals(
    session: AsyncSession, user: User, standard_keys: list[str], stack_ids: list[uuid.UUID]
) -> int:
    """Replace the earner's goals; every standard must be one an open credential aligns to
    and every stack must exist, or nothing changes. Returns the number of goals."""
    if len(standard_keys) + len(stack_ids) > MAX_GOALS:
        raise ActionError("too_many", f"Pick at most {MAX_GOALS} goals.", 422)
    known = {s.key: s for s in await growth.standards(session)}
    unknown = [k for k in standard_keys if k not in known]
    if unknown:
        raise ActionError("unknown_standard", "Pick standards from the list.", 422)
    stacks = set((await session.exec(select(Stack.id).where(col(Stack.id).in_(stack_ids)))).all())
    if set(stack_ids) - stacks:
        raise ActionError("unknown_stack", "Pick stacks from the list.", 422)
    await session.exec(delete(GrowthGoal).where(col(GrowthGoal.user_id) == user.id))
    for key in dict.fromkeys(standard_keys):
        standard = known[key]
        session.add(GrowthGoal(user_id=user.id, framework=standard.framework, code=standard.code))
    for stack_id in dict.fromkeys(stack_ids):
        session.add(GrowthGoal(user_id=user.id, stack_id=stack_id))
    await session.commit()
    return len(set(standard_keys)) + len(set(stack_ids))
