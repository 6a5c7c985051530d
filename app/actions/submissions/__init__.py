"""Evidence packets: `packet` (start, attach, privacy), `lifecycle` (submit, check, take
back, withdraw, resubmit), `drafts` (autosave), `selfcheck` (the checklist before submit)."""

from app.actions.submissions.lifecycle import (
    check_evidence,
    edit_submission,
    resubmit,
    submit_evidence,
    withdraw_submission,
)
from app.actions.submissions.packet import (
    EDITABLE,
    attach_artifact,
    criterion_of,
    discard_unreferenced,
    editable_packet,
    latest_rubric,
    latest_version,
    set_privacy,
    spots_taken,
    start_submission,
)

__all__ = [
    "EDITABLE",
    "attach_artifact",
    "check_evidence",
    "criterion_of",
    "discard_unreferenced",
    "edit_submission",
    "editable_packet",
    "latest_rubric",
    "latest_version",
    "resubmit",
    "set_privacy",
    "spots_taken",
    "start_submission",
    "submit_evidence",
    "withdraw_submission",
]
