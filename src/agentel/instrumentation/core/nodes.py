"""One OTel span we own (:class:`Node`), what its subtree sums into it, and its errors.

A node knows its parent, its enclosing agent and workflow, and the run's conversation id, so
a span started anywhere in a run inherits the conversation id and passes its tokens up to
every agent and workflow above it, whichever framework made it.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from agentel import semconv as sc

from .guest import error_type

WORKFLOW = "workflow"
STEP = "step"
AGENT = "agent"
CHAT = "chat"
TOOL = "tool"
HANDOFF = "handoff"
GUARDRAIL = "guardrail"
CUSTOM = "custom"

# What a subtree's model calls sum into: (input incl. cached, output, cache read,
# cache write, reasoning), the order every framework's token reader returns.
Tokens = tuple[int, int, int, int, int]
NO_TOKENS: Tokens = (0, 0, 0, 0, 0)
_SUMS_USAGE = frozenset({AGENT, WORKFLOW})


@dataclass(eq=False, slots=True)
class Node:
    """One OTel span we own, plus what its subtree sums into it."""

    span: Span
    kind: str
    sdk_id: str
    workflow: Node | None
    agent: Node | None
    conversation_id: str | None
    parent: Node | None = None
    started: float = field(default_factory=time.perf_counter)
    usage: list[int] | None = None
    errored: bool = False
    exception: BaseException | None = None
    name: str | None = None
    provider: str | None = None
    context: otel_context.Context | None = None
    content_started: bool = False
    calls: dict[str, str] | None = None  # tool name -> call id of the agent's last model turn
    tool_type: str | None = None
    error_type: str | None = None  # the span's error.type, for its metric points
    # Attributes learned while the span is open that go on it with its last ones, in one
    # call at the end: each separate set_attribute on an SDK span takes its lock and checks
    # the value again.
    later: dict[str, Any] | None = None

    def otel_context(self) -> otel_context.Context:
        if self.context is None:
            self.context = trace.set_span_in_context(self.span)
        return self.context

    def set_later(self, key: str, value: Any) -> None:
        """An attribute to set when the span ends (see ``later``)."""
        if self.later is None:
            self.later = {key: value}
        else:
            self.later[key] = value

    def add_usage(self, values: Tokens) -> None:
        usage = self.usage
        if usage is None:
            self.usage = list(values)
            return
        usage[0] += values[0]
        usage[1] += values[1]
        usage[2] += values[2]
        usage[3] += values[3]
        usage[4] += values[4]


def add_usage_up(node: Node, tokens: Tokens) -> None:
    """Add a model call's tokens to every agent and workflow above it (a team and its member,
    an agent used as a tool and the agent that called it, the workflow at the top)."""
    above = node.parent
    while above is not None:
        if above.kind in _SUMS_USAGE:
            above.add_usage(tokens)
        above = above.parent


def usage_attributes(usage: list[int] | tuple[int, ...] | None) -> dict[str, int]:
    """Token counts as semconv attributes; the optional kinds only when there are some."""
    if usage is None:
        return {}
    values = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage[0],
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage[1],
    }
    if usage[2]:
        values[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage[2]
    if usage[3]:
        values[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage[3]
    if usage[4]:
        values[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage[4]
    return values


def record_exception(node: Node, exc: BaseException) -> None:
    """Status ERROR, ``error.type`` and one ``exception`` event with the real stack."""
    if node.exception is exc:
        return
    node.exception = exc
    node.errored = True
    node.error_type = error_type(exc)
    span = node.span
    span.set_attribute(sc.ERROR_TYPE, node.error_type)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    span.add_event(
        "exception",
        {
            "exception.type": error_type(exc),
            "exception.message": str(exc),
            "exception.stacktrace": stack,
        },
    )


def mark_error(node: Node, description: str, kind: str | None = None) -> None:
    """Status ERROR without an exception event: a failure the framework reported without
    raising, or a run's failure on the spans above the one where it happened. Keeps a known
    ``error.type`` over ``_OTHER``."""
    node.errored = True
    if kind is not None or node.exception is None:
        node.error_type = kind or sc.ERROR_TYPE_OTHER
        node.span.set_attribute(sc.ERROR_TYPE, node.error_type)
    node.span.set_status(Status(StatusCode.ERROR, description))


def node_error_type(node: Node) -> str:
    """``error.type`` for a failed node's metric points: the one on its span."""
    if node.error_type is not None:
        return node.error_type
    return error_type(node.exception) if node.exception else sc.ERROR_TYPE_OTHER
