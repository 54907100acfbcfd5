"""The OpenAPI schema of views configured per kind (the rest is drf-spectacular's own).

Not in config/api.py: drf-spectacular's AutoSchema imports DRF's generic views, which
read the pagination class from config/api.py while it loads.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry


class KindSchema(AutoSchema):
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
