"""Classroom video and audio: renditions with range requests, the recording's JSON (state,
observations, moments), reviewers' timestamped comments, the earner's recording page and
coordinators' observation switches."""

from starlette.routing import Route

from app.views.media import api, files, pages

routes = [
    Route("/api/v1/artifacts/{artifact_id}/media", api.show_media),
    Route("/api/v1/artifacts/{artifact_id}/rendition", files.rendition, methods=["GET", "HEAD"]),
    Route("/api/v1/artifacts/{artifact_id}/poster.jpg", files.poster),
    Route("/api/v1/artifacts/{artifact_id}/thumbnails/{n}.jpg", files.thumbnail),
    Route("/api/v1/tasks/{task_id}/moments", api.list_moments),
    Route("/api/v1/tasks/{task_id}/moments", api.add_moment, methods=["POST"]),
    Route("/api/v1/tasks/{task_id}/moments/{moment_id}", api.delete_moment, methods=["DELETE"]),
    Route("/api/v1/criteria/{criterion_id}/media", api.criterion_media, methods=["PUT"]),
    Route("/review/tasks/{task_id}/moments", pages.add_moment_form, methods=["POST"]),
    Route(
        "/review/tasks/{task_id}/moments/{moment_id}/delete",
        pages.delete_moment_form,
        methods=["POST"],
    ),
    Route("/submissions/{submission_id}/recordings/{artifact_id}", pages.earner_recording),
    Route(
        "/coordinate/criteria/{criterion_id}/observations",
        pages.criterion_settings,
        methods=["GET", "POST"],
    ),
]
