from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from tracking import api

# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path("emails/", api.EmailRegisterApi.as_view(), name="email-register"),
    path("emails/<int:pk>/", api.EmailDetailApi.as_view(), name="email-detail"),
    path("emails/<int:pk>/sent/", api.EmailSentApi.as_view(), name="email-sent"),
    path("emails/<int:pk>/events/", api.EmailEventsApi.as_view(), name="email-events"),
    path("notifications/", api.NotificationsApi.as_view(), name="notifications"),
]
# Server-rendered pages, mounted at the root. `/t/...` never reaches Django: see
# config/asgi.py and tracking/fastpath.py.
urlpatterns: list[URLPattern | URLResolver] = []
