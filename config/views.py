"""Project-wide pages that belong to no app: the front door and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.templatetags.static import static


@login_required
def home(request: HttpRequest) -> HttpResponseRedirect:
    return redirect("contact-list")


async def healthz(request: HttpRequest) -> HttpResponse:
    # Async and database-free: answers without a thread hop or a query, so a load balancer
    # (and bench/asgi_servers.py) measures the server, not PostgreSQL.
    return HttpResponse("ok", content_type="text/plain")


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Browsers ask for /favicon.ico whatever the page links; send them to the real icon
    # (resolved per request: the hashed static name exists only after collectstatic).
    return redirect(static("img/favicon.svg"), permanent=True)
