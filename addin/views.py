"""The Office add-in's own pages: manifest, task pane, send-handler runtime, sign-in dialog.

The pane, the runtime page and the dialog may be framed by Outlook's hosts (a
`frame-ancestors` policy); every other Beacon page keeps `X-Frame-Options: DENY`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods

from addin.services import InvalidTokenName, addin_token_create

# A fixed id: Outlook knows the add-in by it across manifest updates.
ADDIN_ID = "5d0f7b1e-6c2a-4f35-9a4e-8b1f0c6d2e71"
ICON_SIZES = [16, 25, 32, 48, 64, 80, 128]


def framed_by_outlook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        ancestors = " ".join(["'self'", *settings.ADDIN_FRAME_ANCESTORS])
        response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        return response

    return xframe_options_exempt(wrapper)


def base_url(request: HttpRequest) -> str:
    """Where this Beacon is reached: the scheme, host and port of the request itself."""
    return request.build_absolute_uri("/").rstrip("/")


def manifest(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "addin/manifest.xml",
        {"base_url": base_url(request), "addin_id": ADDIN_ID, "sizes": ICON_SIZES},
        content_type="application/xml",
    )


@framed_by_outlook
def taskpane(request: HttpRequest) -> HttpResponse:
    # No session needed: the pane calls the API with the add-in token it keeps.
    return render(request, "addin/taskpane.html", {"base_url": base_url(request)})


@framed_by_outlook
def commands(request: HttpRequest) -> HttpResponse:
    """The page the send handler runs in (Outlook on the web, new Outlook, Mac)."""
    return render(request, "addin/commands.html")


@never_cache
@framed_by_outlook
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Opened by the pane in the Office dialog: a signed-in rep (or one who signs in
    here) gets a named add-in token, handed to the pane with `messageParent`."""
    signed_in = request.user.is_authenticated
    form = None if signed_in else AuthenticationForm(request, data=request.POST or None)
    name = (request.POST.get("name") or "Outlook").strip()
    error = ""
    if request.method == "POST" and (form is None or form.is_valid()):
        user = form.get_user() if form is not None else request.user
        assert isinstance(user, AbstractBaseUser)  # signed in, or just authenticated
        try:
            issued = addin_token_create(user=user, name=name)
        except InvalidTokenName as exc:
            error = str(exc.detail)
        else:
            message = {"token": issued.key, "name": issued.token.name}
            message["base_url"] = base_url(request)
            message["user"] = user.get_username()
            return render(
                request, "addin/sign_in_done.html", {"message": json.dumps(message)}
            )
    return render(
        request,
        "addin/sign_in.html",
        {"form": form, "name": name, "error": error, "signed_in": signed_in},
        status=400 if request.method == "POST" else 200,
    )
