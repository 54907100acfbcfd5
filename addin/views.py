"""The Office add-in's own files: its manifest and the task pane page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

# A fixed id: Outlook knows the add-in by it across manifest updates.
ADDIN_ID = "5d0f7b1e-6c2a-4f35-9a4e-8b1f0c6d2e71"


def manifest(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "addin/manifest.xml",
        {"base_url": settings.PUBLIC_BASE_URL, "addin_id": ADDIN_ID},
        content_type="application/xml",
    )


# Outlook shows the task pane in a frame.
@xframe_options_exempt
@login_required
def taskpane(request: HttpRequest) -> HttpResponse:
    return render(request, "addin/taskpane.html")
