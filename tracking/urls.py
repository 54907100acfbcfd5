from __future__ import annotations

from django.urls import URLPattern, URLResolver

# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = []
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = []
