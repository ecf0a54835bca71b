"""The trace list's filters, read from the query string.

They are the ``agentel traces`` options under the same names, parsed by the same types, so a
URL and a command line filter alike. A bad value becomes one :class:`FilterError` naming the
filter and what it accepts, shown on the page instead of a server error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

from agentel.cli import DURATION, SINCE, MetaType

PAGE_SIZE = 50

# query parameter -> get_traces argument, for the filters taken as they are
TEXT_FILTERS = {
    "workflow": "workflow",
    "agent": "agent",
    "model": "model",
    "tool": "tool",
    "conversation": "conversation_id",
}
STATUSES = ("ok", "error")


class FilterError(ValueError):
    """A filter value the list cannot use; the message says which and what it accepts."""


def _number(name: str, text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise FilterError(f"{name}={text!r} is not {what}") from None
    if value < 0:
        raise FilterError(f"{name}={text!r} must not be negative")
    return value


def _converted(name: str, text: str, param_type: click.ParamType) -> Any:
    try:
        return param_type.convert(text, None, None)
    except click.BadParameter as exc:
        raise FilterError(f"{name}: {exc.message}") from None


@dataclass(frozen=True)
class ListQuery:
    """A parsed list URL: the ``get_traces`` arguments, the raw values to refill the form
    with, and the page offset."""

    arguments: dict[str, Any]
    values: dict[str, str]
    offset: int

    @property
    def active(self) -> bool:
        return bool(self.arguments)


def parse(params: Mapping[str, str]) -> ListQuery:
    """Read the filters of a list URL; empty values do not filter."""
    values = {key: value.strip() for key, value in params.items() if value.strip()}
    arguments: dict[str, Any] = {}
    for key in ("since", "until"):
        if key in values:
            arguments[key] = _converted(key, values[key], SINCE)
    if "status" in values:
        if values["status"] not in STATUSES:
            raise FilterError(f"status={values['status']!r} is not one of {', '.join(STATUSES)}")
        arguments["status"] = values["status"]
    for key, argument in TEXT_FILTERS.items():
        if key in values:
            arguments[argument] = values[key]
    for key in ("min_duration", "max_duration"):
        if key in values:
            arguments[f"{key}_ms"] = _converted(key, values[key], DURATION)
    if "min_tokens" in values:
        arguments["min_tokens"] = _number("min_tokens", values["min_tokens"], int)
    if "min_cost" in values:
        arguments["min_cost"] = _number("min_cost", values["min_cost"], float)
    if "meta" in values:
        arguments["metadata"] = _converted("meta", values["meta"], MetaType())
    offset = _number("offset", values.pop("offset"), int) if "offset" in values else 0
    return ListQuery(arguments, values, offset)
