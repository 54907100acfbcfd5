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
    path("feed/", api.FeedApi.as_view(), name="feed"),
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
    path(
        "timeline/<str:kind>/<int:pk>/",
        views.timeline_fragment,
        name="timeline-page",
    ),
    path(
        "logged-emails/<int:pk>/",
        views.logged_email_thread,
        name="logged-email-thread",
    ),
    path(
        "logged-emails/<int:pk>/pin/",
        views.logged_email_pin,
        name="logged-email-pin-page",
    ),
    path(
        "logged-emails/<int:pk>/delete/",
        views.logged_email_delete,
        name="logged-email-delete-page",
    ),
    path(
        "logged-emails/<int:pk>/associations/",
        views.logged_email_associations,
        name="logged-email-associations-page",
    ),
    path(
        "logged-emails/<int:pk>/details/",
        views.logged_email_details,
        name="logged-email-details",
    ),
    path(
        "logged-emails/<int:pk>/view/",
        views.logged_email_view,
        name="logged-email-view",
    ),
    path(
        "logged-emails/<int:pk>/body/",
        views.logged_email_body,
        name="logged-email-body-page",
    ),
    path("emails/<int:pk>/", views.email_page, name="email-page"),
    path("activity/", views.feed, name="activity-feed"),
    path("activity/rows/<int:pk>/", views.feed_row, name="activity-feed-row"),
]
