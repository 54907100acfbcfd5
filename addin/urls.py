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
    path("addin/tokens/", api.AddinTokenListApi.as_view(), name="addin-token-list"),
    path(
        "addin/tokens/current/",
        api.AddinTokenCurrentApi.as_view(),
        name="addin-token-current",
    ),
    path(
        "addin/tokens/<int:pk>/",
        api.AddinTokenRevokeApi.as_view(),
        name="addin-token",
    ),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = [
    path("addin/manifest.xml", views.manifest, name="addin-manifest"),
    path("addin/taskpane/", views.taskpane, name="addin-taskpane"),
    path("addin/commands/", views.commands, name="addin-commands"),
    path("addin/sign-in/", views.sign_in, name="addin-sign-in"),
]
