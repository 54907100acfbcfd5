"""What every API shares: the one error shape, domain errors, strict input, pagination,
and the schema of a standard operation.

Every error leaves the API as `{"error": CODE, "detail": ...}`. Services raise
`DomainError` subclasses with a stable `code`; serializers raise DRF validation errors,
which are turned into `validation_error` (or a more specific code, see below) with
per-field `{"code", "message"}` entries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.fields import empty
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A rule of the product was broken; `code` is stable and asserted on by tests."""

    code: str = "domain_error"
    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: Any = None, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail if detail is not None else self.__class__.__doc__
        if code:
            self.code = code


class NotAllowed(DomainError):
    """The caller may not do this."""

    code = "forbidden"
    status_code = status.HTTP_403_FORBIDDEN


class Conflict(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    status_code = status.HTTP_409_CONFLICT


# Field-error codes that are specific enough to be the top-level code when they are the
# only kind of error in a response; anything else is `validation_error`.
PROMOTED_FIELD_CODES = {"unknown_field", "invalid_email", "duplicate_email"}

_STATUS_CODES = {
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "payload_too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def _field_errors(detail: Any) -> Any:
    """Turn DRF ErrorDetail trees into `{"code", "message"}` leaves."""
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_errors(item) for item in detail]
    return {"code": getattr(detail, "code", "invalid"), "message": str(detail)}


def _leaf_codes(tree: Any) -> set[str]:
    if isinstance(tree, dict) and set(tree) == {"code", "message"}:
        return {tree["code"]}
    items = (
        tree.values()
        if isinstance(tree, dict)
        else tree
        if isinstance(tree, list)
        else []
    )
    codes: set[str] = set()
    for item in items:
        codes |= _leaf_codes(item)
    return codes


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(
            {"error": exc.code, "detail": exc.detail}, status=exc.status_code
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = _field_errors(exc.detail)
        codes = _leaf_codes(detail)
        code = (
            codes.pop() if len(codes) == 1 and codes <= PROMOTED_FIELD_CODES else None
        )
        response.data = {"error": code or "validation_error", "detail": detail}
        return response
    if isinstance(exc, exceptions.APIException):
        code = _STATUS_CODES.get(response.status_code, exc.default_code)
        if isinstance(exc, exceptions.ParseError):
            code = "malformed_request"
        response.data = {"error": code, "detail": str(exc.detail)}
    return response


@csrf_exempt  # a 404 whatever the method; CSRF's own 403 page would be HTML
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Every path under /api/v1/ that names no endpoint: the API's 404, not a page."""
    detail = "No API endpoint at this path."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"No API endpoint at this path; did you mean {request.path}/ ?"
    return JsonResponse({"error": "not_found", "detail": detail}, status=404)


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            serializers.ErrorDetail(
                                "Unknown field.", code="unknown_field"
                            )
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class EmailAddressField(serializers.EmailField):
    """An email address, stored lower-cased; a malformed one is `invalid_email`."""

    default_error_messages = {"invalid": "Enter a valid email address."}

    def to_internal_value(self, data: Any) -> str:
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(
                "Enter a valid email address.", code="invalid_email"
            ) from exc
        return value.strip().lower()

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            # Django's EmailValidator runs after to_internal_value: same code for it.
            if exc.get_codes() == ["invalid"]:
                raise serializers.ValidationError(
                    "Enter a valid email address.", code="invalid_email"
                ) from exc
            raise


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# Shared by the API views of every app.

PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("page_size", int, description="Items per page (max 200)."),
]


def caller(request: Request | HttpRequest) -> User:
    """The signed-in user (the views' IsAuthenticated permission guarantees one)."""
    if not isinstance(request.user, User):
        raise NotAllowed("Sign in first.")
    return request.user


S = TypeVar("S", bound=serializers.BaseSerializer[Any])


def named_serializer(ref_name: str, base: type[S], fields: dict[str, Any]) -> type[S]:
    """A serializer class made from `fields`, the schema's component `ref_name`.

    DRF orders a serializer's fields by when each field was made: make them in order."""
    meta = type("Meta", (), {"ref_name": ref_name})
    return type(ref_name, (base,), {**fields, "Meta": meta})


def record_shape(
    ref_name: str, **fields: Callable[[], serializers.Field[Any, Any, Any, Any]]
) -> type[serializers.Serializer[Any]]:
    """An output of a record's `id` and `fields`, the schema's component `ref_name`.
    Each field is made by its factory (a field or serializer class, or a partial of
    one), in this order: `record_shape("StageRef", name=CharField)`."""
    factories = {"id": serializers.IntegerField, **fields}
    made = {name: make() for name, make in factories.items()}
    return named_serializer(ref_name, serializers.Serializer, made)


def validated(
    serializer_class: type[serializers.Serializer[Any]], data: Any
) -> dict[str, Any]:
    """`data` (a request's body or query) as `serializer_class` validates it; a 400 with
    the errors per field if it is not valid."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def paginated(
    request: Request,
    view: APIView,
    items: QuerySet[Any] | list[Any],
    serializer_class: type[serializers.BaseSerializer[Any]],
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(items, request, view=view)
    data = serializer_class(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(data)


_PAGINATED: dict[str, type[serializers.Serializer[Any]]] = {}


def paginated_schema(
    item: type[serializers.Serializer[Any]], name: str
) -> type[serializers.Serializer[Any]]:
    """The schema of `paginated(...)`'s answer: count, next, previous, results.

    One class per name, so the schema has one component per paginated shape.
    """
    if name not in _PAGINATED:
        _PAGINATED[name] = named_serializer(
            f"Paginated{name}List",
            serializers.Serializer,
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )
    return _PAGINATED[name]


class ErrorOutput(serializers.Serializer[Any]):
    error = serializers.CharField(help_text="A stable error code.")
    detail = serializers.JSONField(
        help_text="What went wrong, per field if it applies."
    )

    class Meta:
        ref_name = "Error"


ERRORS: dict[int, Any] = {400: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput}


F = TypeVar("F", bound=Callable[..., Any])


def operation(
    operation_id: str,
    responses: dict[Any, Any],
    *,
    tag: str | None = None,
    summary: str | None = None,
    description: str | None = None,
    parameters: list[Any] | None = None,
    request: Any = empty,
    errors: dict[int, Any] = ERRORS,
) -> Callable[[F], F]:
    """The schema of one operation: `@operation("contacts_read", {200: ContactOutput},
    tag="contacts")`. `errors` follow the view's own responses (the framework's own,
    401 and the like, are config/schema.py's); `request=None` is an operation without
    a body."""
    return extend_schema(
        operation_id=operation_id,
        tags=None if tag is None else [tag],
        summary=summary,
        description=description,
        parameters=parameters,
        request=request,
        responses={**responses, **errors},
    )


def list_operation(
    operation_id: str,
    item: type[serializers.Serializer[Any]],
    *,
    name: str | None = None,
    filters: list[Any] | None = None,
    **described: Any,
) -> Callable[[F], F]:
    """The schema of a list that `paginated(...)` answers: items of `item`, in pages
    (the component `Paginated{name}List`; `name` is the item's component name unless
    given), filtered by `filters`."""
    return operation(
        operation_id,
        {200: paginated_schema(item, name or item.Meta.ref_name)},  # type: ignore[attr-defined]
        parameters=[*(filters or []), *PAGE_PARAMETERS],
        **described,
    )


def own_list(
    operation_id: str, output: type[serializers.Serializer[Any]], **described: Any
) -> Callable[[Callable[[Any, User], Any]], Callable[[APIView, Request], Response]]:
    """Makes a view's `get(self, user)`, which answers the caller's own things to list,
    the GET that answers them in pages of `output`, with the schema of that list."""

    def decorate(
        items: Callable[[Any, User], Any],
    ) -> Callable[[APIView, Request], Response]:
        @list_operation(operation_id, output, **described)
        @functools.wraps(items)
        def get(view: APIView, request: Request) -> Response:
            return paginated(request, view, items(view, caller(request)), output)

        return get

    return decorate


def own_delete_api(
    operation_id: str,
    get_for_user: Callable[[User, int], Any],
    remove: Callable[[Any], object],
    **described: Any,
) -> type[APIView]:
    """A view whose DELETE removes one of the caller's own things, with its schema:
    `get_for_user(caller, pk)` finds it (or refuses), `remove(it)` removes it; 204."""

    @operation(operation_id, {204: None}, **described)
    def delete(view: APIView, request: Request, pk: int) -> Response:
        remove(get_for_user(caller(request), pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    name = "".join(word.title() for word in operation_id.split("_")) + "Api"
    return type(name, (APIView,), {"delete": delete, "__module__": delete.__module__})
