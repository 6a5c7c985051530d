"""SQLModel tables, one module per noun; importing this package registers every table."""

from app.models.badges import Award
from app.models.coordination import Invitation, WaitlistEntry
from app.models.credentials import (
    Alignment,
    ArtifactKind,
    Credential,
    CredentialStatus,
    Rubric,
    RubricCriterion,
    RubricLevel,
    Stack,
    StackItem,
    Stakes,
    SubmissionCriterion,
)
from app.models.notifications import AuditEntry, Notification
from app.models.people import ApiToken, Membership, Organisation, Role, User
from app.models.reviews import (
    Appeal,
    AppealState,
    Decision,
    Outcome,
    Pool,
    Review,
    ReviewScore,
    ReviewState,
    ReviewTask,
    TaskReason,
    TaskState,
)
from app.models.submissions import Artifact, Privacy, Submission, SubmissionState, SubmissionVersion

__all__ = [
    "Alignment",
    "ApiToken",
    "Appeal",
    "AppealState",
    "Artifact",
    "ArtifactKind",
    "AuditEntry",
    "Award",
    "Credential",
    "CredentialStatus",
    "Decision",
    "Invitation",
    "Membership",
    "Notification",
    "Organisation",
    "Outcome",
    "Pool",
    "Privacy",
    "Review",
    "ReviewScore",
    "ReviewState",
    "ReviewTask",
    "Role",
    "Rubric",
    "RubricCriterion",
    "RubricLevel",
    "Stack",
    "StackItem",
    "Stakes",
    "Submission",
    "SubmissionCriterion",
    "SubmissionState",
    "SubmissionVersion",
    "TaskReason",
    "TaskState",
    "User",
    "WaitlistEntry",
]
