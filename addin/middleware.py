"""CORS for the API, for the send handler in classic Outlook on Windows.

That handler runs in a JavaScript-only runtime whose requests are cross-origin. The
answer allows any origin but never credentials: browsers then send no cookies, so only
`Authorization: Token …` works cross-origin and the session (and its CSRF) is untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

API_PREFIX = "/api/v1/"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Max-Age": "600",
}


class ApiCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) or "Origin" not in request.headers:
            return self.get_response(request)
        preflight = request.method == "OPTIONS" and (
            "Access-Control-Request-Method" in request.headers
        )
        response = HttpResponse(status=204) if preflight else self.get_response(request)
        for header, value in CORS_HEADERS.items():
            response[header] = value
        return response
