"""The reviewer's pages: the live feed of claimable work, the claimed task with its evidence
and rubric, and the history of my reviews.

Every form works without JavaScript (static/reviewer.js only enhances); every write goes
through one action in app.actions; nothing here ever shows the earner's name or email.
"""

from __future__ import annotations

from starlette.routing import Route

from app.views.reviewer import calibration, compare, credit, feed, history, task

routes = [
    Route("/review", feed.feed_page),
    Route("/review/feed.json", feed.feed_json),
    Route("/review/claim-next", feed.claim_next, methods=["POST"]),
    Route("/review/history", history.history_page),
    Route("/review/history/{review_id}/compare", compare.compare_page),
    Route("/review/calibration", calibration.overview),
    Route("/review/calibration/attempts/{attempt_id}", calibration.result),
    Route("/review/calibration/examples/{example_id}", calibration.attempt, methods=["POST"]),
    Route("/review/calibration/{credential_id}", calibration.credential_page),
    Route("/review/credit", credit.credit_page),
    Route("/review/credit.csv", credit.credit_csv),
    Route("/review/credit/certificate", credit.certificate),
    Route("/review/tasks/{task_id}", task.task_page),
    Route("/review/tasks/{task_id}/claim", feed.claim, methods=["POST"]),
    Route("/review/tasks/{task_id}/extend", task.extend, methods=["POST"]),
    Route("/review/tasks/{task_id}/release", task.release, methods=["POST"]),
    Route("/review/tasks/{task_id}/draft", task.save_draft, methods=["POST"]),
    Route("/review/tasks/{task_id}/submit", task.submit, methods=["POST"]),
    Route("/review/tasks/{task_id}/done", task.done_page),
]
