"""Project-wide pages that belong to no app: the front door and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponseRedirect:
    return redirect("contact-list")


async def healthz(request: HttpRequest) -> HttpResponse:
    # Async and database-free: answers without a thread hop or a query, so a load balancer
    # (and bench/asgi_servers.py) measures the server, not PostgreSQL.
    return HttpResponse("ok", content_type="text/plain")
