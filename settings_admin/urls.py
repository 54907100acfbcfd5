from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from settings_admin import api, views

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
    path("settings/mutes/", api.MuteListApi.as_view(), name="api-mute-list"),
    path("settings/mutes/<int:pk>/", api.MuteDeleteApi.as_view(), name="api-mute"),
    path(
        "settings/identities/<int:pk>/",
        api.IdentityDeleteApi.as_view(),
        name="api-identity",
    ),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/defaults/", views.defaults_update, name="settings-defaults"),
    path("settings/never-log/", views.never_log_add, name="settings-never-log-add"),
    path(
        "settings/never-log/<int:pk>/delete/",
        views.never_log_remove,
        name="settings-never-log-remove",
    ),
    path("settings/identities/", views.identity_add, name="settings-identity-add"),
    path("settings/tokens/", views.addin_token_add, name="settings-token-add"),
    path(
        "settings/tokens/<int:pk>/revoke/",
        views.addin_token_remove,
        name="settings-token-revoke",
    ),
    path(
        "settings/identities/<int:pk>/delete/",
        views.identity_remove,
        name="settings-identity-remove",
    ),
    path(
        "settings/identities/<int:pk>/resend/",
        views.identity_resend,
        name="settings-identity-resend",
    ),
    path(
        "settings/identities/confirm/<str:token>/",
        views.identity_confirm,
        name="settings-identity-confirm",
    ),
    path(
        "settings/bcc/regenerate/", views.bcc_regenerate, name="settings-bcc-regenerate"
    ),
    path(
        "settings/notifications/",
        views.notification_settings,
        name="settings-notifications",
    ),
    path(
        "settings/notifications/mutes/",
        views.notification_mute,
        name="notification-mute",
    ),
    path(
        "settings/notifications/mutes/<int:pk>/delete/",
        views.notification_unmute,
        name="notification-unmute",
    ),
]
