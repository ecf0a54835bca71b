"""The trace view of ``agentel show``: a header, the span tree with durations, tokens and
cost (and, on a wide terminal or with ``--timeline``, each span's start offset and a bar on a
common time axis), then the errors with the real exception and the end of its stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from rich.bar import Bar
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentel import semconv
from agentel.cli_format import (
    GAP,
    console,
    cost,
    duration,
    emit,
    plural,
    status_text,
    timestamp,
    tokens,
    tokens_short,
)
from agentel.store.model import SpanRecord, TraceTree

TIMELINE_MIN_WIDTH = 120  # a terminal at least this wide shows the timeline by default
STACK_FRAMES = 3  # frames shown under an error without --stack


@dataclass(frozen=True)
class Failure:
    """What went wrong in a span: the exception raised there when it was recorded (type,
    message, stack), else the error type and status message the span carries."""

    type: str
    message: str
    stack: str | None
    raised_here: bool

    @property
    def short_type(self) -> str:
        return self.type.rsplit(".", 1)[-1]

    def summary(self) -> str:
        """``ValueError: no such city``: the exception's name said once."""
        message = self.message
        for name in (self.type, self.short_type):
            if message.startswith(f"{name}: "):
                message = message[len(name) + 2 :]
        return f"{self.type}: {message}" if message else self.type


def failure(span: SpanRecord) -> Failure | None:
    if span.status != "ERROR":
        return None
    events = [e for e in span.events if e.get("name") == semconv.EVENT_EXCEPTION]
    if events:
        attributes = events[-1].get("attributes") or {}
        return Failure(
            str(attributes.get(semconv.EXCEPTION_TYPE) or span.error_type or "error"),
            str(attributes.get(semconv.EXCEPTION_MESSAGE) or ""),
            attributes.get(semconv.EXCEPTION_STACKTRACE),
            raised_here=True,
        )
    return Failure(span.error_type or "error", span.status_message or "", None, False)


def guardrail_tripped(span: SpanRecord) -> bool:
    value = span.attributes.get(semconv.GEN_AI_GUARDRAIL_RESULT_VALUE)
    return span.operation == semconv.OP_APPLY_GUARDRAIL and str(value).lower() == "true"


# --- header ------------------------------------------------------------------------------------


def trace_header(tree: TraceTree) -> Text:
    s = tree.summary
    title = Text.assemble(("Trace", "bold"), f" {s.trace_id}  ", (s.workflow or s.name, "bold"))
    outcome = status_text(s)
    if s.complete and s.status == "error":
        outcome.append(" (the run failed)")
    failed = f", {s.error_count} failed" if s.error_count else ", none failed"
    when = f"started {timestamp(s.start_ns)}, took {duration(s.duration_ms)}"
    usage = f"tokens {tokens(s.input_tokens, s.output_tokens)} · cost {cost(s.cost_usd)}"
    text = Text.assemble(title, "\n  ", outcome, " · ", when)
    text.append(f"\n  {plural(s.span_count, 'span')}{failed} · {usage}")
    extra = []
    if s.conversation_id:
        extra.append(f"conversation {s.conversation_id}")
    if s.service:
        extra.append(f"service {s.service}")
    if extra:
        text.append("\n  " + " · ".join(extra))
    if s.metadata:
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(s.metadata.items()))
        text.append(f"\n  metadata {pairs}")
    return text


# --- the tree ----------------------------------------------------------------------------------


def _walk(tree: TraceTree) -> Iterator[tuple[str, SpanRecord]]:
    """Each span with its tree prefix (``├─ ``, ``│  └─ ``...), depth first in start order."""

    def visit(
        span: SpanRecord, prefix: str, last: bool, top: bool
    ) -> Iterator[tuple[str, SpanRecord]]:
        yield prefix + ("" if top else ("└─ " if last else "├─ ")), span
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for i, child in enumerate(span.children):
            yield from visit(child, child_prefix, i == len(span.children) - 1, False)

    for root in tree.roots:
        yield from visit(root, "", True, True)


def _label(prefix: str, span: SpanRecord) -> Text:
    failed = failure(span)
    # cut with an ellipsis rather than wrapped, when the terminal is narrow
    label = Text(prefix, style="dim", no_wrap=True, overflow="ellipsis")
    label.append(span.name, style="red" if failed else "")
    if span.attributes.get(semconv.GEN_AI_TOOL_TYPE) == semconv.TOOL_TYPE_HANDOFF:
        label.append(" (handoff)")
    if guardrail_tripped(span):
        label.append(" ⚠ tripped", style="bold yellow")
    if failed:
        label.append(f" ✗ {failed.short_type}", style="bold red")
    return label


def _usage(span: SpanRecord) -> tuple[str, str]:
    """Tokens and cost beside a span: its own for a model call, its subtree's for an agent or
    workflow (so a user sees what each agent cost); nothing for a span without model calls."""
    if span.operation == semconv.OP_CHAT:
        return tokens_short(span.input_tokens, span.output_tokens), cost(span.cost_usd)
    chats = [s for s in span.walk() if s.operation == semconv.OP_CHAT]
    if not chats:
        return "", ""
    used = tokens_short(
        sum(c.input_tokens or 0 for c in chats), sum(c.output_tokens or 0 for c in chats)
    )
    return used, cost(span.subtree_cost())


def offset(ns: int) -> str:
    return "+" + duration(ns / 1e6) if ns else "0"


def span_table(tree: TraceTree, *, timeline: bool, usage: bool = True) -> Table:
    """The span tree as the first column of a table of durations, tokens and cost; with
    ``timeline``, each span's start offset and a bar on the trace's time axis (and tokens
    and cost only if ``usage``, to leave the bars room on a narrow terminal)."""
    table = Table(
        box=None,
        header_style="bold",
        pad_edge=False,
        padding=(0, GAP, 0, 0),
        expand=timeline,
    )
    # the only column rich may narrow (numbers keep their width): its cells cut themselves
    table.add_column("SPAN", overflow="ellipsis", min_width=24)
    if timeline:
        table.add_column("START", justify="right", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    if usage:
        table.add_column("TOKENS IN/OUT", justify="right", no_wrap=True)
        table.add_column("COST", justify="right", no_wrap=True)
    if timeline:
        table.add_column("TIMELINE", ratio=1, min_width=10, no_wrap=True)
    spans = tree.spans or [span for _, span in _walk(tree)]
    start = min((s.start_ns for s in spans), default=0)
    total = max(max((s.end_ns for s in spans), default=0) - start, 1)
    for prefix, span in _walk(tree):
        used, price = _usage(span)
        cells: list[RenderableType] = [_label(prefix, span)]
        if timeline:
            cells.append(offset(span.start_ns - start))
        cells += (
            [duration(span.duration_ms), used, price] if usage else [duration(span.duration_ms)]
        )
        if timeline:
            color = "red" if span.status == "ERROR" else _bar_color(span)
            cells.append(
                Bar(total, span.start_ns - start, max(span.end_ns - start, 0), color=color)
            )
        table.add_row(*cells)
    return table


def _bar_color(span: SpanRecord) -> str:
    return {
        semconv.OP_CHAT: "cyan",
        semconv.OP_EXECUTE_TOOL: "magenta",
        semconv.OP_APPLY_GUARDRAIL: "yellow",
    }.get(span.operation or "", "blue")


# --- errors ------------------------------------------------------------------------------------


def last_frames(stack: str, count: int = STACK_FRAMES) -> tuple[list[str], int]:
    """The last ``count`` frames of a Python traceback (each ``File ...`` line with its
    source lines) and how many frames were left out."""
    lines = stack.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if not starts:
        return lines, 0
    kept = starts[-count:]
    end = next(
        (i for i in range(kept[-1] + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return lines[kept[0] : end], len(starts) - len(kept)


def _same_failure_below(span: SpanRecord, found: Failure) -> SpanRecord | None:
    """The span under ``span`` that failed with the same exception, if any."""
    for child in span.walk():
        if child is span:
            continue
        other = failure(child)
        if other is not None and other.summary() == found.summary():
            return child
    return None


def errors_section(tree: TraceTree, *, full_stack: bool) -> RenderableType | None:
    """Each failed span with what was raised there; the run's own failure (on agent and
    workflow spans, which record no exception of their own) in one line each."""
    parts: list[RenderableType] = []
    for _, span in _walk(tree):
        found = failure(span)
        if found is None:
            continue
        head = Text.assemble(("✗ ", "bold red"), (span.name, "bold"), ": ")
        below = _same_failure_below(span, found)
        if below is not None:  # the run failing because of what was raised further down
            parts.append(head.append(f"{found.short_type}, from {below.name} below", "red"))
            continue
        parts.append(head.append(found.summary(), "red"))
        if found.stack:
            if full_stack:
                shown, hidden = found.stack.rstrip().splitlines(), 0
            else:
                shown, hidden = last_frames(found.stack)
            parts.append(Text("\n".join("  " + line for line in shown), style="dim"))
            if hidden:
                parts.append(
                    Text(f"  ({plural(hidden, 'earlier frame')}: --stack shows all)", style="dim")
                )
    if not parts:
        return None
    failed = sum(1 for s in tree.spans if s.status == "ERROR")
    return Group(Text(f"Errors ({plural(failed, 'failed span')})", style="bold"), *parts)


def print_trace(tree: TraceTree, file: IO[str] | None = None) -> None:
    """Print a trace as ``agentel show`` does, to ``file`` (standard output)."""
    out = console(file)
    for part in trace_view(tree, width=out.width):
        emit(out, part)


def trace_view(
    tree: TraceTree, *, width: int, timeline: bool | None = None, full_stack: bool = False
) -> list[RenderableType]:
    """Header, tree and errors, in printing order, for a terminal ``width`` columns wide;
    the timeline is shown when asked, or by default when the terminal is wide enough."""
    wide = width >= TIMELINE_MIN_WIDTH
    shown = wide if timeline is None else timeline
    table = span_table(tree, timeline=shown, usage=wide or not shown)
    parts: list[RenderableType] = [trace_header(tree), Text(""), table]
    errors = errors_section(tree, full_stack=full_stack)
    if errors is not None:
        parts += [Text(""), errors]
    return parts
