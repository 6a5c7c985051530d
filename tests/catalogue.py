"""Helpers for the catalogue-quality tests (issue 18): earners who finished a credential,
panellists, and the people of a recognizer organisation."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.models import Credential, Role, Submission, SubmissionVersion, User
from app.runtime import Runtime
from tests import factories as f


async def finished(
    runtime: Runtime, earner: User, credential: Credential, state: str = "passed", versions: int = 1
) -> None:
    """A packet already decided (`state`) after `versions` submitted versions: the outcome
    machinery is tested elsewhere; the rating rule only reads the state and the count."""
    async with runtime.sessions() as session:
        submission = Submission(credential_id=credential.id, earner_id=earner.id, state=state)
        session.add(submission)
        await session.flush()
        for number in range(1, versions + 1):
            session.add(
                SubmissionVersion(
                    submission_id=submission.id, number=number, submitted_at=datetime.now(UTC)
                )
            )
        await session.commit()


async def earners_who_finished(
    runtime: Runtime, credential: Credential, count: int, prefix: str = "finisher"
) -> list[str]:
    """`count` earners who passed the credential, each with an API token."""
    tokens = []
    for i in range(count):
        earner = await f.person(runtime, f"{prefix}{i}", [Role.earner])
        await finished(runtime, earner, credential)
        tokens.append(await f.token_for(runtime, earner))
    return tokens


def stars(clarity: int, relevance: int = 4, workload: int = 4, feedback: int = 4) -> dict:
    return {"clarity": clarity, "relevance": relevance, "workload": workload, "feedback": feedback}


async def rate(
    client: httpx.AsyncClient, token: str, credential: Credential, text: str = "", **given: int
) -> httpx.Response:
    return await client.post(
        f"/api/v1/credentials/{credential.id}/ratings",
        json=stars(**given) | {"text": text} if given else stars(4) | {"text": text},
        headers=f.auth(token),
    )
