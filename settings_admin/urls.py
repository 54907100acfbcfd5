from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from settings_admin import api

# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "settings/effective/",
        api.EffectiveSettingsApi.as_view(),
        name="api-settings-effective",
    ),
    path("settings/me/", api.MySettingsApi.as_view(), name="api-settings-me"),
    path(
        "settings/me/regenerate-bcc/",
        api.MyBccRegenerateApi.as_view(),
        name="api-settings-me-regenerate-bcc",
    ),
    path(
        "settings/account/",
        api.AccountSettingsApi.as_view(),
        name="api-settings-account",
    ),
    path(
        "settings/account/regenerate-bcc/",
        api.AccountBccRegenerateApi.as_view(),
        name="api-settings-regenerate-bcc",
    ),
    path(
        "settings/never-log/", api.NeverLogListApi.as_view(), name="api-never-log-list"
    ),
    path(
        "settings/never-log/<int:pk>/",
        api.NeverLogDeleteApi.as_view(),
        name="api-never-log",
    ),
    path(
        "settings/identities/",
        api.IdentityListApi.as_view(),
        name="api-identity-list",
    ),
    path(
        "settings/identities/<int:pk>/",
        api.IdentityDeleteApi.as_view(),
        name="api-identity",
    ),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = []
