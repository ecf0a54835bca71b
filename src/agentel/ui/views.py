"""What the trace page shows, worked out from a stored trace: waterfall rows, span details,
the conversation, the agents' path and totals per agent.

Templates only lay these out; every value that came from a span stays plain text here and is
escaped by Jinja when rendered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentel import semconv
from agentel.store import SpanRecord, TraceTree

CAPTURE_HINT = (
    "Content was not captured. Set OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY "
    "to record messages, tool arguments and results."
)
CONTENT_ATTRIBUTES = (
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_TOOL_DEFINITIONS,
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT,
)
_REQUEST_PREFIX = "gen_ai.request."


def span_kind(span: SpanRecord) -> str:
    """The waterfall colour of a span: workflow, agent, model, tool, handoff, guardrail, other."""
    operation = span.operation
    if operation == semconv.OP_EXECUTE_TOOL:
        handoff = span.attributes.get(semconv.GEN_AI_TOOL_TYPE) == semconv.TOOL_TYPE_HANDOFF
        return "handoff" if handoff else "tool"
    return {
        semconv.OP_INVOKE_WORKFLOW: "workflow",
        semconv.OP_INVOKE_AGENT: "agent",
        semconv.OP_CHAT: "model",
        semconv.OP_APPLY_GUARDRAIL: "guardrail",
    }.get(operation or "", "other")


def parse_json(value: Any) -> Any:
    """A content attribute's value: parsed JSON when it is JSON text, else as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def pretty(value: Any) -> str:
    """Formatted JSON for structured values; text stays text."""
    value = parse_json(value)
    if isinstance(value, str) and value[:1] in ("{", "["):
        value = parse_json(value)  # a tool that returned JSON text, recorded as a string
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


# --- waterfall -------------------------------------------------------------------------------


@dataclass
class WaterfallRow:
    span: SpanRecord
    depth: int
    kind: str
    left_pct: float
    width_pct: float
    error: bool

    @property
    def label_place(self) -> tuple[str, str]:
        """(css class, style) for the duration label: after the bar, inside a wide bar that
        reaches the right edge, or before a narrow one there."""
        end = self.left_pct + self.width_pct
        if end <= 86:
            return "after", f"left:{end:.2f}%"
        if self.width_pct >= 12:
            return "inside", f"right:{100 - end:.2f}%"
        return "before", f"right:{100 - self.left_pct:.2f}%"


def walk(roots: Sequence[SpanRecord], depth: int = 0) -> Iterator[tuple[SpanRecord, int]]:
    """Every span with its depth, parents before children, siblings in start order."""
    for span in roots:
        yield span, depth
        yield from walk(span.children, depth + 1)


def waterfall(tree: TraceTree) -> tuple[list[WaterfallRow], float]:
    """One row per span on a common time axis, and the axis length in milliseconds."""
    if not tree.spans:
        return [], 0.0
    origin = min(span.start_ns for span in tree.spans)
    end = max(span.end_ns for span in tree.spans)
    total = max(end - origin, 1)
    rows = [
        WaterfallRow(
            span=span,
            depth=depth,
            kind=span_kind(span),
            left_pct=100.0 * (span.start_ns - origin) / total,
            width_pct=max(100.0 * (span.end_ns - span.start_ns) / total, 0.15),
            error=span.status == "ERROR",
        )
        for span, depth in walk(tree.roots)
    ]
    return rows, total / 1e6


def axis_ticks(total_ms: float, count: int = 5) -> list[tuple[float, str]]:
    return [(100.0 * i / (count - 1), ms(total_ms * i / (count - 1))) for i in range(count)]


# --- span details ----------------------------------------------------------------------------


@dataclass
class Part:
    """One piece of a message: text, a tool call (name, id, JSON arguments), a tool result."""

    type: str
    text: str = ""
    name: str = ""
    call_id: str = ""


@dataclass
class Message:
    role: str
    parts: list[Part]
    source: str = ""  # the span it was recorded on
    finish_reason: str = ""


def _parts(raw: Any) -> list[Part]:
    parts = []
    for part in raw if isinstance(raw, list) else []:
        if not isinstance(part, dict):
            parts.append(Part("text", str(part)))
            continue
        kind = str(part.get("type", "text"))
        if kind == "tool_call":
            parts.append(
                Part(
                    kind,
                    pretty(part.get("arguments")),
                    str(part.get("name", "")),
                    str(part.get("id", "")),
                )
            )
        elif kind == "tool_call_response":
            parts.append(Part(kind, pretty(part.get("response")), call_id=str(part.get("id", ""))))
        elif kind in ("text", "reasoning"):
            parts.append(Part(kind, str(part.get("content", ""))))
        else:  # blob, file, uri: say what it was, not its bytes
            fields = {k: v for k, v in part.items() if k not in ("content", "data")}
            parts.append(Part(kind, json.dumps(fields, ensure_ascii=False, default=str)))
    return parts


def messages_of(span: SpanRecord, source: str = "") -> list[Message]:
    """System instructions, input and output messages captured on one span, in that order."""
    attributes = span.attributes
    result: list[Message] = []
    instructions = parse_json(attributes.get(semconv.GEN_AI_SYSTEM_INSTRUCTIONS))
    if instructions:
        parts = _parts(instructions) if isinstance(instructions, list) else []
        result.append(Message("system", parts or [Part("text", str(instructions))], source))
    for name in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES):
        raw = parse_json(attributes.get(name))
        for message in raw if isinstance(raw, list) else []:
            if isinstance(message, dict):
                result.append(
                    Message(
                        str(message.get("role", "?")),
                        _parts(message.get("parts")),
                        source,
                        str(message.get("finish_reason") or ""),
                    )
                )
    return result


def has_content(span: SpanRecord) -> bool:
    return any(name in span.attributes for name in CONTENT_ATTRIBUTES)


@dataclass
class SpanDetails:
    span: SpanRecord
    kind: str
    overview: list[tuple[str, str]]
    usage: list[tuple[str, str]]
    model: list[tuple[str, str]]
    tool: list[tuple[str, str]]
    tool_arguments: str | None
    tool_result: str | None
    handoff: list[tuple[str, str]]
    guardrail: list[tuple[str, str]]
    exceptions: list[dict[str, str]]
    events: list[dict[str, Any]]
    messages: list[Message]
    content_hint: str | None
    attributes: list[tuple[str, str]] = field(default_factory=list)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _present(pairs: Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(label, _value(value)) for label, value in pairs if value is not None]


def span_details(span: SpanRecord, trace_start_ns: int) -> SpanDetails:
    """Everything the details pane shows for one span, grouped as a person reads it."""
    a = span.attributes
    kind = span_kind(span)
    overview = _present(
        [
            ("kind", kind),
            ("status", span.status + (f": {span.status_message}" if span.status_message else "")),
            ("error type", span.error_type),
            ("duration", ms(span.duration_ms)),
            ("starts at", f"+{ms((span.start_ns - trace_start_ns) / 1e6)}"),
            ("span id", span.span_id),
            ("parent", span.parent_span_id),
            ("span kind", span.kind),
            ("agent", span.agent),
            ("conversation", span.conversation_id),
            ("service", span.service),
            ("scope", span.scope),
        ]
    )
    usage = _present(
        [
            ("input tokens", span.input_tokens),
            ("cached input tokens", span.cached_tokens),
            ("cache creation tokens", a.get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)),
            ("output tokens", span.output_tokens),
            ("reasoning tokens", a.get(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)),
            (
                "cost",
                usd(span.cost_usd) if span.cost_usd is not None else None,
            ),
        ]
    )
    model = _present(
        [
            ("request model", a.get(semconv.GEN_AI_REQUEST_MODEL)),
            ("response model", span.response_model),
            ("provider", a.get(semconv.GEN_AI_PROVIDER_NAME)),
            ("response id", a.get(semconv.GEN_AI_RESPONSE_ID)),
            ("finish reasons", a.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)),
            ("time to first chunk", a.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)),
            ("server", a.get(semconv.SERVER_ADDRESS)),
        ]
        + [
            (name[len(_REQUEST_PREFIX) :], value)
            for name, value in sorted(a.items())
            if name.startswith(_REQUEST_PREFIX) and name != semconv.GEN_AI_REQUEST_MODEL
        ]
    )
    is_tool = span.operation == semconv.OP_EXECUTE_TOOL
    tool = _present(
        [
            ("tool", a.get(semconv.GEN_AI_TOOL_NAME)),
            ("type", a.get(semconv.GEN_AI_TOOL_TYPE)),
            ("call id", a.get(semconv.GEN_AI_TOOL_CALL_ID)),
            ("description", a.get(semconv.GEN_AI_TOOL_DESCRIPTION)),
        ]
    )
    arguments = a.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
    result = a.get(semconv.GEN_AI_TOOL_CALL_RESULT)
    handoff = _present(
        [
            ("from", a.get(semconv.AGENTEL_HANDOFF_FROM_AGENT)),
            ("to", a.get(semconv.AGENTEL_HANDOFF_TO_AGENT)),
        ]
    )
    triggered = a.get(semconv.GEN_AI_GUARDRAIL_RESULT_VALUE)
    guardrail = _present(
        [
            ("guardrail", a.get(semconv.GEN_AI_GUARDRAIL_COMPONENT_NAME)),
            ("source", a.get(semconv.GEN_AI_GUARDRAIL_SOURCE)),
            ("tripwire triggered", triggered),
        ]
    )
    exceptions, events = [], []
    for event in span.events:
        attributes = event.get("attributes") or {}
        offset = f"+{ms((int(event.get('time_ns') or span.start_ns) - trace_start_ns) / 1e6)}"
        if event.get("name") == "exception":
            exceptions.append(
                {
                    "type": _value(attributes.get("exception.type", "")),
                    "message": _value(attributes.get("exception.message", "")),
                    "stacktrace": _value(attributes.get("exception.stacktrace", "")),
                    "at": offset,
                }
            )
        else:
            events.append(
                {
                    "name": str(event.get("name", "")),
                    "at": offset,
                    "attributes": [(k, _value(v)) for k, v in sorted(attributes.items())],
                }
            )
    messages = messages_of(span)
    wants_content = kind in ("agent", "model", "tool", "handoff")
    hint = CAPTURE_HINT if wants_content and not has_content(span) else None
    return SpanDetails(
        span=span,
        kind=kind,
        overview=overview,
        usage=usage,
        model=model,
        tool=tool if is_tool else [],
        tool_arguments=None if arguments is None else pretty(arguments),
        tool_result=None if result is None else pretty(result),
        handoff=handoff,
        guardrail=guardrail,
        exceptions=exceptions,
        events=events,
        messages=messages,
        content_hint=hint,
        attributes=[(k, _value(v)) for k, v in sorted(a.items()) if k not in CONTENT_ATTRIBUTES],
    )


# --- the whole trace -------------------------------------------------------------------------


def conversation(tree: TraceTree) -> list[Message]:
    """The run's conversation from the model calls' captured messages, each message once.

    Each call's input repeats the history before it, so a message already shown is skipped;
    agent spans fill in for runs whose model calls carry no content."""
    sources = [span for span in tree.spans if span.operation == semconv.OP_CHAT]
    if not any(has_content(span) for span in sources):
        sources = [span for span in tree.spans if span.operation == semconv.OP_INVOKE_AGENT]
    seen: set[str] = set()
    result: list[Message] = []
    agent_of = _agents_above(tree)
    for span in sorted(sources, key=lambda s: s.start_ns):
        for message in messages_of(span, agent_of.get(span.span_id) or span.name):
            key = json.dumps([message.role, [vars(p) for p in message.parts]])
            if key not in seen:
                seen.add(key)
                result.append(message)
    return result


def _agents_above(tree: TraceTree) -> dict[str, str]:
    """Span id -> the agent it ran under (its own name for an agent span)."""
    found: dict[str, str] = {}

    def down(spans: Sequence[SpanRecord], agent: str | None) -> None:
        for span in spans:
            here = span.agent if span.operation == semconv.OP_INVOKE_AGENT else agent
            if here:
                found[span.span_id] = here
            down(span.children, here)

    down(tree.roots, None)
    return found


@dataclass
class AgentStep:
    name: str
    via: str  # how the run got here: "start", "handoff" or "then"
    error: bool


def agent_path(tree: TraceTree) -> list[AgentStep]:
    """The agents in the order they ran, with how each took over from the one before."""
    handoffs = {
        (
            s.attributes.get(semconv.AGENTEL_HANDOFF_FROM_AGENT),
            s.attributes.get(semconv.AGENTEL_HANDOFF_TO_AGENT),
        )
        for s in tree.spans
        if span_kind(s) == "handoff"
    }
    steps: list[AgentStep] = []
    for span in sorted(tree.spans, key=lambda s: s.start_ns):
        if span.operation != semconv.OP_INVOKE_AGENT or not span.agent:
            continue
        previous = steps[-1].name if steps else None
        via = (
            "start"
            if previous is None
            else ("handoff" if (previous, span.agent) in handoffs else "then")
        )
        steps.append(AgentStep(span.agent, via, span.status == "ERROR"))
    return steps


@dataclass
class AgentTotals:
    agent: str
    runs: int = 0
    duration_ms: float = 0.0
    model_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    errors: int = 0


def agent_totals(tree: TraceTree) -> list[AgentTotals]:
    """Time, calls, tokens, cost and errors of each agent over all its segments of the run."""
    totals: dict[str, AgentTotals] = {}
    for span in tree.spans:
        if span.operation != semconv.OP_INVOKE_AGENT or not span.agent:
            continue
        row = totals.setdefault(span.agent, AgentTotals(span.agent))
        row.runs += 1
        row.duration_ms += span.duration_ms
        row.input_tokens += span.input_tokens or 0
        row.output_tokens += span.output_tokens or 0
        cost = span.subtree_cost()
        row.cost_usd = None if cost is None or row.cost_usd is None else row.cost_usd + cost
        for inner in span.walk():
            row.model_calls += inner.operation == semconv.OP_CHAT
            row.tool_calls += inner.operation == semconv.OP_EXECUTE_TOOL
            row.errors += inner.status == "ERROR"
    return list(totals.values())
