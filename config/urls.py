from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from activity import urls as activity_urls
from addin import urls as addin_urls
from config import views
from config.api import api_not_found
from crm import urls as crm_urls
from settings_admin import urls as settings_urls
from tracking import urls as tracking_urls

APPS = [crm_urls, settings_urls, tracking_urls, activity_urls, addin_urls]

admin.site.site_header = "Beacon administration"
admin.site.site_title = "Beacon"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page links; answer with the real icon.
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"
    ),
    path(
        "api/v1/",
        include(
            [
                *[p for app in APPS for p in app.api_urlpatterns],
                # Last: any other path under the API is its JSON 404.
                re_path(r"^(?P<path>[\s\S]*)$", api_not_found),
            ]
        ),
    ),
    *[p for app in APPS for p in app.urlpatterns],
]
