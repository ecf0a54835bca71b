"""Two runs side by side: their spans aligned by position in the tree, differences marked.

Spans are matched by their path of names (workflow > agent > tool) with :mod:`difflib`, so an
extra or missing tool call shifts nothing after it. A matched pair differs when its status,
error, model, tool arguments or tool result differ; a span on one side only differs too.
Call ids, response ids and times are expected to differ between runs and are not compared.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from agentel import semconv
from agentel.store import SpanRecord, TraceTree
from agentel.ui.views import pretty, span_kind, walk


@dataclass
class Side:
    span: SpanRecord
    depth: int
    arguments: str | None
    result: str | None


@dataclass
class ComparedRow:
    a: Side | None
    b: Side | None
    differences: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return (self.a or self.b).span.name  # type: ignore[union-attr]

    @property
    def depth(self) -> int:
        return (self.a or self.b).depth  # type: ignore[union-attr]

    @property
    def kind(self) -> str:
        return span_kind((self.a or self.b).span)  # type: ignore[union-attr]


def _sides(tree: TraceTree) -> list[Side]:
    sides = []
    for span, depth in walk(tree.roots):
        arguments = span.attributes.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
        result = span.attributes.get(semconv.GEN_AI_TOOL_CALL_RESULT)
        sides.append(
            Side(
                span,
                depth,
                None if arguments is None else pretty(arguments),
                None if result is None else pretty(result),
            )
        )
    return sides


def _paths(sides: list[Side]) -> list[str]:
    stack: list[str] = []
    paths = []
    for side in sides:
        del stack[side.depth :]
        stack.append(side.span.name)
        paths.append(" > ".join(stack))
    return paths


def _differences(a: Side, b: Side) -> list[str]:
    found = []
    if a.span.status != b.span.status:
        found.append(f"status {a.span.status} vs {b.span.status}")
    if a.span.error_type != b.span.error_type:
        found.append("error")
    if a.span.model != b.span.model:
        found.append("model")
    if a.arguments != b.arguments:
        found.append("arguments")
    if a.result != b.result:
        found.append("result")
    return found


def compare(first: TraceTree, second: TraceTree) -> list[ComparedRow]:
    """The spans of both runs in one list of rows, in tree order."""
    a_sides, b_sides = _sides(first), _sides(second)
    matcher = difflib.SequenceMatcher(None, _paths(a_sides), _paths(b_sides), autojunk=False)
    rows: list[ComparedRow] = []
    for tag, a_from, a_to, b_from, b_to in matcher.get_opcodes():
        if tag == "equal":
            for a, b in zip(a_sides[a_from:a_to], b_sides[b_from:b_to], strict=True):
                rows.append(ComparedRow(a, b, _differences(a, b)))
            continue
        rows.extend(ComparedRow(a, None, ["only in A"]) for a in a_sides[a_from:a_to])
        rows.extend(ComparedRow(None, b, ["only in B"]) for b in b_sides[b_from:b_to])
    return rows
