"""A console exporter that prints each finished trace as a tree a person can read.

Spans arrive children first; they wait until their trace's root span arrives, then the
whole trace is printed at once. Whatever is still waiting at shutdown is printed then.
"""

from __future__ import annotations

import sys
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from agentel import semconv as sc


def _is_root(span: ReadableSpan) -> bool:
    return span.parent is None or span.parent.is_remote


def _describe(span: ReadableSpan) -> str:
    attrs = span.attributes or {}
    seconds = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
    parts = [span.name, f"{seconds:.3f}s"]
    model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL)
    if model and model not in span.name:
        parts.append(f"model={model}")
    tokens_in = attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    tokens_out = attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
    if tokens_in is not None or tokens_out is not None:
        parts.append(f"tokens in={tokens_in or 0} out={tokens_out or 0}")
    if (cost := attrs.get(sc.AGENTEL_USAGE_COST_USD)) is not None:
        parts.append(f"cost=${cost:.6f}")
    if span.status.status_code is StatusCode.ERROR:
        error = attrs.get(sc.ERROR_TYPE) or span.status.description or "error"
        parts.append(f"ERROR {error}")
    return "  ".join(parts)


def render_tree(spans: Sequence[ReadableSpan]) -> str:
    """One trace as indented lines, children in start order under their parents."""
    ids = {span.context.span_id for span in spans if span.context is not None}
    children: dict[int | None, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        children[parent].append(span)
    for group in children.values():
        group.sort(key=lambda span: span.start_time or 0)
    lines: list[str] = []

    def walk(span: ReadableSpan, prefix: str, connector: str, child_prefix: str) -> None:
        lines.append(f"{prefix}{connector}{_describe(span)}")
        kids = children.get(span.context.span_id if span.context else None, [])
        for index, kid in enumerate(kids):
            last = index == len(kids) - 1
            walk(kid, prefix + child_prefix, "└── " if last else "├── ", "    " if last else "│   ")

    for root in children[None]:
        trace_id = root.context.trace_id if root.context else 0
        lines.append(f"trace {trace_id:032x}")
        walk(root, "", "", "")
    return "\n".join(lines) + "\n"


class ConsoleTreeExporter(SpanExporter):
    """Prints finished traces as trees to ``out`` (standard output by default)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._waiting: dict[int, list[ReadableSpan]] = defaultdict(list)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        finished: list[list[ReadableSpan]] = []
        with self._lock:
            for span in spans:
                if span.context is None:
                    continue
                trace_id = span.context.trace_id
                self._waiting[trace_id].append(span)
                if _is_root(span):
                    finished.append(self._waiting.pop(trace_id))
        for trace in finished:
            self._write(render_tree(trace))
        return SpanExportResult.SUCCESS

    def _write(self, text: str) -> None:
        out = self._out or sys.stdout
        out.write(text)
        out.flush()

    def shutdown(self) -> None:
        with self._lock:
            leftovers = list(self._waiting.values())
            self._waiting.clear()
        for trace in leftovers:
            self._write(render_tree(trace))
