"""What an earner sees of a packet: its status in words, each criterion with its artifact,
feedback with the rubric's level labels (never reviewer names: review is blind both ways),
the outcome with its badge, and earlier versions. Reads only; every write is an action."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import evidence
from app.actions import groups
from app.actions.catalog import criteria_of
from app.actions.groups import CommentView
from app.actions.submissions import EDITABLE
from app.models import (
    Artifact,
    ArtifactKind,
    CoachingRequest,
    Credential,
    Decision,
    Privacy,
    ReviewTask,
    Submission,
    SubmissionState,
    SubmissionVersion,
    TaskState,
)
from app.views.earner.feedback import (
    Feedback,
    OutcomeView,
    feedback_by_version,
    outcomes_by_version,
)

KIND_LABEL = {
    ArtifactKind.video: "Video",
    ArtifactKind.audio: "Audio recording",
    ArtifactKind.image: "Image",
    ArtifactKind.document: "Document",
    ArtifactKind.link: "Link",
    ArtifactKind.reflection: "Written reflection",
}
# What the file picker offers; the server still reads the real type from the bytes.
KIND_ACCEPT = {
    ArtifactKind.video: "video/*",
    ArtifactKind.audio: "audio/*",
    ArtifactKind.image: "image/*",
    ArtifactKind.document: ",".join(
        [".pdf", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"]
        + sorted(evidence.KIND_TYPES[ArtifactKind.document])
    ),
}
# Kinds a phone can record on the spot (the `capture` attribute opens the camera).
CAPTURE_KINDS = {ArtifactKind.video, ArtifactKind.image}
# Who may see the evidence (app.access.access_artifact) and the name on the badge page.
PRIVACY_CHOICES = [
    (Privacy.reviewers, "Reviewers only", "only the reviewers who claim it; no name on the badge"),
    (Privacy.organisation, "My organisation", "also the issuer's reviewers; name on the badge"),
    (Privacy.public, "Public", "anyone with the badge link"),
]
# Notification kinds that change what the packet page shows (live.js delivers them).
LIVE_KINDS = (
    "submission.checking",
    "submission.queued",
    "submission.claimed",
    "submission.returned",
    "submission.decided",
    "review.received",
    "badge.awarded",
    "appeal.ruled",
    "coaching.closed",
)


@dataclass(frozen=True)
class Status:
    """The packet's state as an earner reads it; `key` is finer than the stored state."""

    key: str  # draft checking waiting under_review not_yet passed returned withdrawn
    label: str
    detail: str


def status_of(state: str, check_error: str | None, tasks: Sequence[ReviewTask]) -> Status:
    """In review splits into "waiting for a reviewer" (no one has it now) and "under review"."""
    live = [t for t in tasks if t.state != TaskState.cancelled]
    done = sum(t.state == TaskState.completed for t in live)
    if state == SubmissionState.in_review:
        if any(t.state in (TaskState.claimed, TaskState.completed) for t in live):
            return Status(
                "under_review",
                "Under review",
                f"{done} of {len(live)} reviews received." if live else "A reviewer has it.",
            )
        return Status(
            "waiting",
            "Waiting for a reviewer",
            "Your packet is in the queue; a qualified reviewer will pick it up.",
        )
    return {
        SubmissionState.draft: Status(
            "draft", "Draft", "Add your evidence for each criterion, then submit."
        ),
        SubmissionState.checking: Status(
            "checking", "Checking", "MCX is checking your files before reviewers see them."
        ),
        SubmissionState.returned: Status(
            "returned",
            "Returned",
            f"Returned with a reason: {check_error or 'the evidence check failed.'}",
        ),
        SubmissionState.not_yet: Status(
            "not_yet", "Not yet", "Read the feedback, then revise and resubmit, or appeal."
        ),
        SubmissionState.passed: Status("passed", "Passed", "You earned this credential's badge."),
        SubmissionState.withdrawn: Status("withdrawn", "Withdrawn", "You withdrew this packet."),
    }.get(SubmissionState(state), Status(state, state, ""))


def human_size(size: int | None) -> str:
    """Bytes as people read them: 512 bytes, 340 KB, 12.5 MB."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024**2:
        return f"{size / 1024:.0f} KB"
    if size < 1024**3:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024**3:.2f} GB"


def day(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y") if moment else ""


@dataclass(frozen=True)
class ArtifactView:
    id: uuid.UUID
    kind: str
    filename: str | None
    size: str
    type_name: str
    url: str | None
    body: str | None

    @property
    def href(self) -> str:
        return f"/api/v1/artifacts/{self.id}"

    @staticmethod
    def of(artifact: Artifact) -> ArtifactView:
        media = artifact.media_type or ""
        return ArtifactView(
            id=artifact.id,
            kind=artifact.kind,
            filename=artifact.filename,
            size=human_size(artifact.size_bytes),
            type_name=evidence.TYPE_NAMES.get(media, media),
            url=artifact.url,
            body=artifact.body,
        )


@dataclass
class VersionView:
    number: int
    submitted: str
    check_error: str | None
    artifacts: dict[uuid.UUID, ArtifactView] = field(default_factory=dict)
    feedback: list[Feedback] = field(default_factory=list)
    outcome: OutcomeView | None = None


@dataclass(frozen=True)
class CriterionView:
    id: uuid.UUID
    title: str
    description: str
    kind: str
    required: bool
    artifact: ArtifactView | None
    min_words: int | None = None
    max_words: int | None = None

    @property
    def words_asked(self) -> str:
        """The word range as a sentence ("" when there is none)."""
        low, high = self.min_words, self.max_words
        if low and high:
            return f"Write {low:,}–{high:,} words."
        if low:
            return f"Write at least {low:,} words."
        return f"Write at most {high:,} words." if high else ""

    @property
    def kind_label(self) -> str:
        return KIND_LABEL.get(ArtifactKind(self.kind), self.kind)

    @property
    def takes_file(self) -> bool:
        return self.kind in evidence.KIND_TYPES

    @property
    def accept(self) -> str:
        return KIND_ACCEPT.get(ArtifactKind(self.kind), "")

    @property
    def capture(self) -> bool:
        return self.kind in CAPTURE_KINDS


@dataclass(frozen=True)
class Packet:
    """Everything the packet page and its live fragment show."""

    submission: Submission
    credential: Credential
    owner: bool  # the earner (coordinators of the issuer may look, read-only)
    status: Status
    criteria: list[CriterionView]
    current: VersionView
    history: list[VersionView]  # earlier versions, newest first
    touched: bool  # a reviewer has claimed the latest version (withdraw/edit are over)
    coaching: str | None = None  # the state of this packet's latest coaching request
    comments: dict[uuid.UUID, list[CommentView]] = field(default_factory=dict)

    @property
    def attempts_left(self) -> int:
        return max(0, self.credential.max_attempts - self.current.number)

    @property
    def editable(self) -> bool:
        return self.owner and self.submission.state in EDITABLE

    @property
    def can_take_back(self) -> bool:
        waiting = (SubmissionState.checking, SubmissionState.in_review)
        return self.owner and self.submission.state in waiting and not self.touched

    @property
    def can_withdraw(self) -> bool:
        return self.owner and (self.editable or self.can_take_back)

    @property
    def can_resubmit(self) -> bool:
        return (
            self.owner
            and self.submission.state == SubmissionState.not_yet
            and self.attempts_left > 0
        )

    @property
    def can_request_coaching(self) -> bool:
        """After the last allowed attempt ended "not yet" (app.actions.coaching)."""
        return (
            self.owner
            and self.submission.state == SubmissionState.not_yet
            and self.attempts_left == 0
            and self.coaching is None
        )

    @property
    def can_appeal(self) -> bool:
        outcome = self.current.outcome
        return (
            self.owner
            and self.submission.state == SubmissionState.not_yet
            and outcome is not None
            and outcome.decision == Decision.not_yet
            and outcome.appeal is None
        )

    @property
    def missing(self) -> list[str]:
        return [c.title for c in self.criteria if c.required and c.artifact is None]


async def load_packet(
    session: AsyncSession, submission: Submission, credential: Credential, *, owner: bool
) -> Packet:
    """The packet as the page shows it. The caller has checked access (access.py)."""
    criteria = await criteria_of(session, credential.id)
    versions = (
        await session.exec(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission.id)
            .order_by(col(SubmissionVersion.number).desc())
        )
    ).all()
    ids = [v.id for v in versions]
    views = {v.id: VersionView(v.number, day(v.submitted_at), v.check_error) for v in versions}
    for artifact in (
        await session.exec(select(Artifact).where(col(Artifact.version_id).in_(ids)))
    ).all():
        views[artifact.version_id].artifacts[artifact.criterion_id] = ArtifactView.of(artifact)
    for version_id, feedback in (await feedback_by_version(session, ids)).items():
        views[version_id].feedback = feedback
    for version_id, outcome in (await outcomes_by_version(session, ids)).items():
        views[version_id].outcome = outcome
    latest = versions[0]
    tasks = (await session.exec(select(ReviewTask).where(ReviewTask.version_id == latest.id))).all()
    current = views[latest.id]
    coaching = (
        await session.exec(
            select(CoachingRequest.state)
            .where(CoachingRequest.submission_id == submission.id)
            .order_by(col(CoachingRequest.created_at).desc())
        )
    ).first()
    comments: dict[uuid.UUID, list[CommentView]] = {}
    if owner:
        for comment in await groups.comments_on(session, submission.id):
            comments.setdefault(comment.criterion_id, []).append(comment)
    return Packet(
        submission=submission,
        credential=credential,
        owner=owner,
        status=status_of(submission.state, latest.check_error, tasks),
        criteria=[
            CriterionView(
                c.id,
                c.title,
                c.description,
                c.kind,
                c.required,
                current.artifacts.get(c.id),
                c.min_words,
                c.max_words,
            )
            for c in criteria
        ],
        current=current,
        history=[views[v.id] for v in versions[1:]],
        touched=any(t.lease_version > 0 for t in tasks),
        coaching=coaching,
        comments=comments,
    )
