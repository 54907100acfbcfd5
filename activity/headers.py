"""Header parsing the MIME parser (activity.parser) does once where the standard
library would do it again and again: header classes, and each noted header's defects
(docs/decisions/shared-header-objects.md)."""

from __future__ import annotations

from email._header_value_parser import get_unstructured
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from typing import Any

CACHE_SIZE = 10_000
VALUE_MAX = 1_000  # longer values (References, …) rarely recur


class OneClassPerName(HeaderRegistry):
    """policy.default's header registry, which builds a new class for every header it
    parses (`HeaderRegistry.__getitem__`, a `type()` call): one per name is enough."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found


_DEFECTS_CACHE: dict[tuple[str, str], tuple[Exception, ...]] = {}


def header_defects(policy: Any, name: str, value: str) -> tuple[Exception, ...]:
    """One header field's defects, remembered by its name and raw value as the header
    objects are (activity.parser._Policy): From, To or Date recur from message to message. An
    unstructured header's object holds none of them (its parse tree does), so only the
    tree is built for it, once."""
    key = (name, value)
    found = _DEFECTS_CACHE.get(key)
    if found is not None:
        return found
    factory = policy.header_factory
    if issubclass(
        factory.registry.get(name.lower(), factory.default_class), UnstructuredHeader
    ):
        found = tuple(get_unstructured(str(value)).all_defects)
    else:
        found = tuple(factory(name, value).defects)
    if len(value) <= VALUE_MAX:
        if len(_DEFECTS_CACHE) >= CACHE_SIZE:
            _DEFECTS_CACHE.clear()
        _DEFECTS_CACHE[key] = found
    return found
