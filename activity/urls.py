from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from activity import api, views
from activity.selectors import RECORD_MODELS

# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path("inbound/", api.InboundCreateApi.as_view(), name="inbound-create"),
    path("inbound/<int:pk>/", api.InboundDetailApi.as_view(), name="inbound-detail"),
    *[
        path(
            f"{kind}/<int:pk>/timeline/",
            api.TimelineApi.as_view(kind=kind),
            name=f"{kind}-timeline",
        )
        for kind in RECORD_MODELS
    ],
    path(
        "logged-emails/<int:pk>/",
        api.LoggedEmailDetailApi.as_view(),
        name="logged-email-detail",
    ),
    path(
        "logged-emails/<int:pk>/body/",
        api.LoggedEmailBodyApi.as_view(),
        name="logged-email-body",
    ),
    path(
        "logged-emails/<int:pk>/thread/",
        api.LoggedEmailThreadApi.as_view(),
        name="logged-email-thread",
    ),
    path(
        "logged-emails/<int:pk>/associations/",
        api.LoggedEmailAssociationsApi.as_view(),
        name="logged-email-associations",
    ),
    path(
        "logged-emails/<int:pk>/pin/",
        api.LoggedEmailPinApi.as_view(),
        name="logged-email-pin",
    ),
    path(
        "attachments/<int:pk>/download/",
        api.AttachmentDownloadApi.as_view(),
        name="attachment-download-api",
    ),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "attachments/<int:pk>/",
        views.attachment_download,
        name="attachment-download",
    ),
]
