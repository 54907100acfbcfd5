"""Request-body parsers of every API view (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

Kept apart from config.api: DRF imports these while it builds APIView, which config.api
itself imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import exceptions, parsers, status

# Every id is a PostgreSQL bigint: a JSON integer outside it cannot name anything.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _json_shape_problem(value: Any, max_depth: int) -> str | None:
    """Why a parsed JSON document is refused (too deep, an integer out of range), or
    None. Walked with a stack, so a deep document cannot exhaust Python's."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"The JSON is nested more than {max_depth} levels deep."
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif (
            isinstance(item, int)
            and not isinstance(item, bool)
            and not INT_MIN <= item <= INT_MAX
        ):
            return f"The integer {item} is outside the range of a 64-bit integer."
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with limits (every JSON endpoint uses it): a body larger than
    `API_JSON_MAX_BYTES` is 413 `payload_too_large`; nesting deeper than
    `API_JSON_MAX_DEPTH`, an integer outside 64 bits, invalid UTF-8, a lone surrogate
    or NaN is 400 `malformed_request`. orjson parses without recursing in Python."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.API_JSON_MAX_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"The JSON body is over the {limit}-byte limit (API_JSON_MAX_BYTES)."
            )
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        problem = _json_shape_problem(value, settings.API_JSON_MAX_DEPTH)
        if problem:
            raise exceptions.ParseError(problem)
        return value
