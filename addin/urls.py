from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from addin import api, views

# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "addin/compose-context/",
        api.ComposeContextApi.as_view(),
        name="addin-compose-context",
    ),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = [
    path("addin/manifest.xml", views.manifest, name="addin-manifest"),
    path("addin/taskpane/", views.taskpane, name="addin-taskpane"),
]
