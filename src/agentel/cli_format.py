"""Text rendering for the ``agentel`` command: tables, trace trees, durations, money.

Everything returns plain strings with click styles; ``click.echo`` drops the colours when
the output is not a terminal, so piped output stays readable and greppable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click

from agentel import semconv
from agentel.store.model import SpanRecord, StatsRow, TraceSummary, TraceTree, ns_to_datetime

SHORT_ID = 12
NONE = "-"
CONTENT_ATTRIBUTES = (
    ("instructions", semconv.GEN_AI_SYSTEM_INSTRUCTIONS),
    ("input", semconv.GEN_AI_INPUT_MESSAGES),
    ("output", semconv.GEN_AI_OUTPUT_MESSAGES),
    ("arguments", semconv.GEN_AI_TOOL_CALL_ARGUMENTS),
    ("result", semconv.GEN_AI_TOOL_CALL_RESULT),
)


def duration(ms: float | None) -> str:
    if ms is None:
        return NONE
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m {seconds:02d}s"


def cost(usd: float | None) -> str:
    if usd is None:
        return NONE
    if usd == 0:
        return "$0"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def tokens(input_tokens: int | None, output_tokens: int | None) -> str:
    if not input_tokens and not output_tokens:
        return NONE
    return f"{input_tokens or 0:,} in / {output_tokens or 0:,} out"


def timestamp(ns: int) -> str:
    return ns_to_datetime(ns).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def status(word: str) -> str:
    return click.style(word, fg="red", bold=True) if word.lower() == "error" else word


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> str:
    """Aligned columns; ``right`` holds the indexes of numeric columns."""
    rows = [list(row) for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(click.unstyle(cell)))

    def line(cells: Sequence[str]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            gap = " " * (widths[i] - len(click.unstyle(cell)))
            padded.append(gap + cell if i in right else cell + gap)
        return "  ".join(padded).rstrip()

    header = click.style(line(headers), bold=True)
    return "\n".join([header, *(line(row) for row in rows)])


TRACE_HEADERS = (
    "TRACE", "STARTED", "NAME", "STATUS", "DURATION", "SPANS", "ERRORS", "TOKENS", "COST",
    "AGENT", "CONVERSATION",
)  # fmt: skip
TRACE_RIGHT = {4, 5, 6, 7, 8}


def trace_row(trace: TraceSummary, full_ids: bool = False) -> list[str]:
    return [
        trace.trace_id if full_ids else trace.trace_id[:SHORT_ID],
        timestamp(trace.start_ns),
        trace.workflow or trace.name,
        status(trace.status) if trace.complete else f"{trace.status} (running)",
        duration(trace.duration_ms),
        str(trace.span_count),
        str(trace.error_count),
        tokens(trace.input_tokens, trace.output_tokens),
        cost(trace.cost_usd),
        trace.root_agent or NONE,
        trace.conversation_id or NONE,
    ]


def traces_table(traces: Sequence[TraceSummary], full_ids: bool = False) -> str:
    return table(TRACE_HEADERS, (trace_row(t, full_ids) for t in traces), TRACE_RIGHT)


def stats_table(rows: Sequence[StatsRow], group_by: str) -> str:
    headers = (group_by.upper(), "RUNS", "ERRORS", "ERROR RATE", "P50", "P95", "TOKENS", "COST")
    body = (
        [
            row.key,
            f"{row.runs:,}",
            f"{row.errors:,}",
            f"{row.error_rate:.1%}",
            duration(row.p50_ms),
            duration(row.p95_ms),
            tokens(row.input_tokens, row.output_tokens),
            cost(row.cost_usd),
        ]
        for row in rows
    )
    return table(headers, body, {1, 2, 3, 4, 5, 6, 7})


# --- the trace tree ----------------------------------------------------------------------------


def trace_header(tree: TraceTree) -> list[str]:
    s = tree.summary
    title = f"{click.style('Trace', bold=True)} {s.trace_id}  {s.workflow or s.name}"
    facts = [
        status(s.status) + ("" if s.complete else " (still running)"),
        timestamp(s.start_ns),
        duration(s.duration_ms),
        f"{s.span_count} spans, {s.error_count} errors",
        f"tokens {tokens(s.input_tokens, s.output_tokens)}",
        f"cost {cost(s.cost_usd)}",
    ]
    lines = [title, "  " + " · ".join(facts)]
    extra = []
    if s.conversation_id:
        extra.append(f"conversation {s.conversation_id}")
    if s.service:
        extra.append(f"service {s.service}")
    if s.metadata:
        extra.append("metadata " + ", ".join(f"{k}={v}" for k, v in sorted(s.metadata.items())))
    if extra:
        lines.append("  " + " · ".join(extra))
    return lines


def _span_label(span: SpanRecord) -> str:
    label = span.name
    if span.attributes.get(semconv.GEN_AI_TOOL_TYPE) == semconv.TOOL_TYPE_HANDOFF:
        label += " (handoff)"
    return label


def _span_usage(span: SpanRecord) -> tuple[str, str]:
    """Tokens and cost to show beside a span: its own for a model call, its subtree's for
    an agent or workflow (so a user sees what each agent cost)."""
    if span.operation == semconv.OP_CHAT:
        return tokens(span.input_tokens, span.output_tokens), cost(span.cost_usd)
    chats = [s for s in span.walk() if s.operation == semconv.OP_CHAT]
    if not chats:
        return "", ""
    used = tokens(sum(c.input_tokens or 0 for c in chats), sum(c.output_tokens or 0 for c in chats))
    return used, cost(span.subtree_cost())


def trace_tree(tree: TraceTree, *, content: bool = False, content_width: int = 400) -> str:
    """The span tree with a duration, tokens and cost column, errors under their span."""
    lines: list[tuple[str, SpanRecord | None, str]] = []

    def visit(span: SpanRecord, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append((prefix + branch + _span_label(span), span, ""))
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for note in _notes(span, content, content_width):
            lines.append((child_prefix + ("│  " if span.children else "   ") + note, None, ""))
        for i, child in enumerate(span.children):
            visit(child, child_prefix, i == len(span.children) - 1, False)

    for root in tree.roots:
        visit(root, "", True, True)
    width = min(max((len(text) for text, span, _ in lines if span is not None), default=0), 70)
    out = []
    for text, span, _ in lines:
        if span is None:
            out.append(text)
            continue
        used, price = _span_usage(span)
        cells = [text.ljust(width), duration(span.duration_ms).rjust(9), used.rjust(20), price]
        line = "  ".join(cells).rstrip()
        out.append(click.style(line, fg="red") if span.status == "ERROR" else line)
    return "\n".join(out)


def _notes(span: SpanRecord, content: bool, width: int) -> list[str]:
    notes = []
    if span.status == "ERROR":
        what = span.error_type or "error"
        notes.append(click.style(f"✗ {what}: {span.status_message or ''}".rstrip(": "), fg="red"))
    if content:
        for label, attribute in CONTENT_ATTRIBUTES:
            value = span.attributes.get(attribute)
            if value is not None:
                text = _readable(value)
                if len(text) > width:
                    text = text[: width - 1] + "…"
                notes.append(click.style(f"{label}: ", dim=True) + text)
    return notes


def _readable(value: Any) -> str:
    """Semconv message JSON as ``role: text`` lines folded into one; other values as-is."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    if isinstance(data, list) and data and all(isinstance(m, dict) for m in data):
        return " | ".join(_message(m) for m in data)
    return value if isinstance(value, str) else json.dumps(value)


def _message(message: dict[str, Any]) -> str:
    if "parts" not in message:
        return str(message.get("content", json.dumps(message)))
    parts = []
    for part in message.get("parts", []):
        kind = part.get("type")
        if kind == "text":
            parts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            parts.append(f"{part.get('name')}({json.dumps(part.get('arguments'))})")
        elif kind == "tool_call_response":
            parts.append(f"-> {json.dumps(part.get('response'))}")
        else:
            parts.append(f"[{kind}]")
    return f"{message.get('role', '?')}: " + " ".join(parts)
