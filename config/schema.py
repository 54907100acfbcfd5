"""The OpenAPI schema: where operations take their summaries from, views configured per
kind, and the errors every operation shares (the rest is drf-spectacular's own).

Not in config/api.py: drf-spectacular's AutoSchema imports DRF's generic views, which
read the pagination class from config/api.py while it loads.
"""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, get_doc


class Schema(AutoSchema):
    """The project's schema class (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

    An API view method's docstring describes its operation: the first paragraph is the
    summary (one line, without its final full stop), the others the description; without
    them, the view class's docstring is the description. `@operation(summary=...)` says
    the same where the words are built, not written. A view's nested `InputSerializer`
    is the body of its POST, PUT or PATCH unless `@operation(request=...)` says else."""

    def _paragraphs(self) -> list[str]:
        method = getattr(self.view, self.method.lower(), None)
        doc = getattr(method, "__doc__", None)  # its own only, never an inherited one
        if not doc:
            return []
        return [" ".join(part.split()) for part in inspect.cleandoc(doc).split("\n\n")]

    def get_summary(self) -> str | None:
        paragraphs = self._paragraphs()
        return paragraphs[0].removesuffix(".") if paragraphs else None

    def get_description(self) -> str:  # type: ignore[override]
        own = self._paragraphs()[1:]
        return "\n\n".join(own) if own else get_doc(self.view.__class__)

    def get_request_serializer(self) -> Any:
        # The house style's nested InputSerializer is the body its view reads.
        nested = getattr(self.view, "InputSerializer", None)
        return nested or super().get_request_serializer()


class KindSchema(Schema):
    """The OpenAPI description of a view configured per kind with `as_view(kind=...)`.

    A method's `@extend_schema` would describe the class, the same for every kind; this
    asks the view instead: its `operation(method)` answers the `extend_schema(...)` of
    that method for the view's own kind, and the operation is built from it exactly as
    from the decorator."""

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        described = self.view.operation(method.lower())(lambda: None)  # type: ignore[attr-defined]
        schema: AutoSchema = described.kwargs["schema"]()
        schema.view = self.view
        return schema.get_operation(path, path_regex, path_prefix, method, registry)


# -- the errors every operation shares ----------------------------------------------
# Schema post-processing: every operation documents the errors it can answer.
#
# The views document their own success and domain errors; the errors every view shares
# come from the framework (config.api's handler gives each the error shape) and are
# added here where they can happen, so the schema never misses a status code:
# - 400 `malformed_request`/`validation_error`: operations that read a body or query;
# - 401/403: operations that need a signed-in caller;
# - 404: operations with an id in the path, and paginated lists (a page past the end);
# - 413 `payload_too_large` and 415 `unsupported_media_type`: operations that read a body.

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_DESCRIPTIONS = {
    "400": "The input is malformed or invalid.",
    "401": "No valid credentials were given.",
    "403": "The caller may not do this.",
    "404": "No such object, or one the caller cannot see.",
    "413": "The request body is too large.",
    "415": "The request body's media type is not accepted.",
}
_METHODS = {"get", "post", "put", "patch", "delete"}


def _error(code: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def add_shared_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            parameters = operation.get("parameters", [])
            in_query = {p["name"] for p in parameters if p.get("in") == "query"}
            codes = []
            if "requestBody" in operation or in_query:
                codes.append("400")
            if operation.get("security") != [{}] and operation.get("security"):
                codes += ["401", "403"]
            if "{" in path or "page" in in_query or "cursor" in in_query:
                codes.append("404")
            if "requestBody" in operation:
                codes += ["413", "415"]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, _error(code))
    return result
