"""Marks a signed-in Beacon user's browser so its own opens and clicks are `self` (T5)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from tracking.tokens import self_cookie_signer

ONE_YEAR = 365 * 24 * 3600


class SelfCookieMiddleware:
    """Sets the signed `self` cookie on responses to signed-in users that lack it.

    Path "/" so the cookie reaches /t/ and this middleware can see it is already there.
    SameSite=None (over HTTPS) because the pixel loads inside a webmail page of another site.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        name = settings.TRACKING_SELF_COOKIE
        current = request.COOKIES.get(name, "")
        try:
            if current and self_cookie_signer().unsign(current) == str(user.pk):
                return response
        except signing.BadSignature:
            pass
        secure = request.is_secure() or not settings.DEBUG
        response.set_cookie(
            name,
            self_cookie_signer().sign(str(user.pk)),
            max_age=ONE_YEAR,
            path="/",
            secure=secure,
            httponly=True,
            samesite="None" if secure else "Lax",
        )
        return response
