"""The earner's pages: start a packet, gather evidence (resumable uploads from a phone), follow
its live status and feedback, resubmit or appeal, and keep and share badges in a wallet.

Modules: `packets` (pages and lifecycle buttons); `packet`, `feedback` and `progress` (what
they show); `artifacts` (plain-form evidence); `uploads` (resumable upload sessions, for
earner.js); `wallet` (badges, sharing, privacy); `drafts` (autosave); `selfcheck` (the checklist and
self-assessment before submit); `responses` (redirects and JSON errors).
"""

from __future__ import annotations

from starlette.routing import Route

from app.views.earner import artifacts, drafts, packets, selfcheck, uploads, wallet

routes = [
    Route("/credentials/{credential_id}/start", packets.start, methods=["POST"]),
    Route("/me/submissions", packets.my_submissions),
    Route("/submissions/{submission_id}", packets.show),
    Route("/submissions/{submission_id}/status.json", packets.status_json),
    Route(
        "/submissions/{submission_id}/artifacts/{criterion_id}", artifacts.attach, methods=["POST"]
    ),
    Route("/submissions/{submission_id}/submit", packets.submit, methods=["POST"]),
    Route("/submissions/{submission_id}/withdraw", packets.withdraw, methods=["POST"]),
    Route("/submissions/{submission_id}/edit", packets.edit, methods=["POST"]),
    Route("/submissions/{submission_id}/resubmit", packets.resubmit, methods=["POST"]),
    Route("/submissions/{submission_id}/appeal", packets.appeal, methods=["POST"]),
    Route("/submissions/{submission_id}/coaching", packets.request_coaching, methods=["POST"]),
    Route("/submissions/{submission_id}/drafts/{criterion_id}", drafts.save, methods=["PUT"]),
    Route("/submissions/{submission_id}/check", selfcheck.show),
    Route("/submissions/{submission_id}/self-assessment", selfcheck.assess, methods=["POST"]),
    Route("/submissions/{submission_id}/privacy", wallet.privacy, methods=["POST"]),
    Route("/uploads", uploads.open_session, methods=["POST"]),
    Route("/uploads/{upload_id}", uploads.show, methods=["GET", "HEAD"]),
    Route("/uploads/{upload_id}", uploads.write_chunk, methods=["PATCH", "PUT"]),
    Route("/uploads/{upload_id}", uploads.cancel, methods=["DELETE"]),
    Route("/wallet", wallet.wallet),
]
