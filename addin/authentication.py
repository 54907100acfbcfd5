"""`Authorization: Token <key>`: how the add-in's pane and send handler call the API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from addin.models import AddinToken

KEYWORD = "Token"


class AddinTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, AddinToken] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: `Token <key>` expected."
            )
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        # Imported here: DRF loads this class while rest_framework.views is still
        # importing, before config.api (which the selectors and services use) can.
        from addin.selectors import addin_token_find
        from addin.services import addin_token_touch

        token = addin_token_find(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        addin_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return KEYWORD


class AddinTokenScheme(OpenApiAuthenticationExtension):
    target_class = "addin.authentication.AddinTokenAuthentication"
    name = "addinToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token <key>`: a named add-in token, issued by the add-in's sign-in "
                "dialog or `POST /api/v1/addin/tokens/`, revocable at any time."
            ),
        }
