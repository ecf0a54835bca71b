"""Text rendering for the ``agentel`` command: values, the trace list and the stats table.

Rendering goes through ``rich``: tables fit the terminal's width (80 columns when the output
is piped, where colour is dropped too), and columns keep fixed widths so that the lines
``agentel tail`` prints one at a time line up. The trace view is in :mod:`agentel.cli_tree`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from agentel.store.model import StatsRow, TraceSummary, ns_to_datetime

SHORT_ID = 12
NONE = "-"  # a value that is not known (a model without a price), never zero
GAP = 2  # spaces between columns


def console(file: IO[str] | None = None) -> Console:
    """A console on ``file`` (standard output): colour only on a terminal, and the
    terminal's width there, 80 columns (or ``COLUMNS``) when piped."""
    return Console(
        file=file or sys.stdout,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=None if os.environ.get("COLUMNS") or _is_terminal(file) else 80,
    )


def _is_terminal(file: IO[str] | None) -> bool:
    stream = file or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def emit(out: Console, renderable: RenderableType) -> None:
    """Print without the spaces a table pads its last column with, so piped lines end at
    their text."""
    with out.capture() as captured:
        out.print(renderable)
    text = re.sub(r" +$", "", captured.get(), flags=re.MULTILINE)
    out.file.write(text)
    out.file.flush()


# --- values ------------------------------------------------------------------------------------


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 trace``, ``2 traces``, with thousands separators."""
    return f"{count:,} {noun if count == 1 else (many or noun + 's')}"


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
    """Dollars; ``-`` when a model call's price is unknown (never shown as ``$0``)."""
    if usd is None:
        return NONE
    if usd == 0:
        return "$0.00"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def tokens(input_tokens: int | None, output_tokens: int | None) -> str:
    if not input_tokens and not output_tokens:
        return NONE
    return f"{input_tokens or 0:,} in / {output_tokens or 0:,} out"


def tokens_short(input_tokens: int | None, output_tokens: int | None) -> str:
    if not input_tokens and not output_tokens:
        return NONE
    return f"{input_tokens or 0:,}/{output_tokens or 0:,}"


def local_time(ns: int) -> datetime:
    return ns_to_datetime(ns).astimezone()


def timestamp(ns: int) -> str:
    """A start time with its time zone: ``2025-06-15 17:06:40 CEST``."""
    return local_time(ns).strftime("%Y-%m-%d %H:%M:%S %Z")


def short_time(ns: int) -> str:
    """Month, day and time, for a column whose header names the time zone."""
    return local_time(ns).strftime("%m-%d %H:%M:%S")


def zone_name() -> str:
    return datetime.now().astimezone().strftime("%Z")


def status_text(trace: TraceSummary) -> Text:
    """The run's outcome: ``error`` when the run failed, ``running`` before its root span
    has arrived, ``ok`` otherwise (failed spans the run recovered from are counted apart)."""
    if not trace.complete:
        return Text("running", style="yellow")
    if trace.status == "error":
        return Text("error", style="bold red")
    return Text("ok", style="green")


# --- the trace list and tail -------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    width: int  # fixed, so rows printed one by one line up
    value: Callable[[TraceSummary], str | Text]
    right: bool = False
    flexible: bool = False  # cut to the minimum when space is short; the rest when there is


def _failed_spans(trace: TraceSummary) -> Text:
    count = trace.error_count
    return Text(str(count), style="red" if count else "")


def _tokens_of(trace: TraceSummary) -> str:
    return tokens_short(trace.input_tokens, trace.output_tokens)


def trace_columns(full_ids: bool = False) -> list[Column]:
    """Every column of the trace list, most important first; the table keeps those that
    fit the width."""
    id_width = 32 if full_ids else SHORT_ID
    return [
        Column("TRACE", id_width, lambda t: t.trace_id[:id_width]),
        Column(f"STARTED {zone_name()}", 14, lambda t: short_time(t.start_ns)),
        Column("NAME", 32, lambda t: t.workflow or t.name, flexible=True),
        Column("STATUS", 7, status_text),
        Column("DURATION", 8, lambda t: duration(t.duration_ms), right=True),
        Column("ERRORS", 6, _failed_spans, right=True),
        Column("COST", 8, lambda t: cost(t.cost_usd), right=True),
        Column("TOKENS IN/OUT", 15, _tokens_of, right=True),
        Column("SPANS", 5, lambda t: str(t.span_count), right=True),
        Column("AGENT", 16, lambda t: t.root_agent or NONE),
        Column("CONVERSATION", 20, lambda t: t.conversation_id or NONE),
    ]  # fmt: skip


NAME_MIN = 16  # the name is cut to no less than this; more on a wide terminal
NAME_MIN_WIDE = 24


def fitting_columns(width: int, full_ids: bool = False) -> list[tuple[Column, int]]:
    """The columns that fit ``width``, in display order, each with the width it gets."""
    chosen: list[Column] = []
    used = 0
    name_min = NAME_MIN_WIDE if width >= 120 else NAME_MIN
    for column in trace_columns(full_ids):
        # every column is followed by GAP spaces (the last one's are trimmed when printed)
        need = (name_min if column.flexible else column.width) + GAP
        if used + need > width:
            continue
        chosen.append(column)
        used += need
    spare = width - used
    sized = []
    for column in chosen:
        size = column.width
        if column.flexible:
            size = min(column.width, name_min + spare)
        sized.append((column, size))
    return sized


def _table(columns: Sequence[tuple[Column, int]], header: bool) -> Table:
    table = Table(
        box=None, show_header=header, header_style="bold", pad_edge=False, padding=(0, GAP, 0, 0)
    )
    for column, width in columns:
        table.add_column(
            column.header,
            width=width,
            min_width=width,
            max_width=width,
            justify="right" if column.right else "left",
            no_wrap=True,
            overflow="ellipsis",
        )
    return table


def traces_table(
    traces: Sequence[TraceSummary], width: int, full_ids: bool = False, header: bool = True
) -> Table:
    """The trace list, in columns that fit ``width``."""
    columns = fitting_columns(width, full_ids)
    table = _table(columns, header)
    for trace in traces:
        table.add_row(*(column.value(trace) for column, _ in columns))
    return table


def tail_header(width: int) -> Table:
    return traces_table([], width)


def tail_line(trace: TraceSummary, width: int) -> Table:
    """One trace as a row of the same fixed columns as :func:`tail_header`."""
    return traces_table([trace], width, header=False)


# --- stats -------------------------------------------------------------------------------------


def stats_table(rows: Sequence[StatsRow], group_by: str) -> Table:
    """Runs per agent, model, tool, conversation or workflow. FAILED counts runs whose own
    span (for workflows and conversations: the trace's root) has status ERROR."""
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, GAP, 0, 0))
    table.add_column(group_by.upper(), no_wrap=True, overflow="ellipsis", min_width=8)
    for name in ("RUNS", "FAILED", "FAIL %", "P50", "P95", "TOKENS IN/OUT", "COST"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.key,
            f"{row.runs:,}",
            Text(f"{row.errors:,}", style="red" if row.errors else ""),
            f"{row.error_rate:.1%}",
            duration(row.p50_ms),
            duration(row.p95_ms),
            tokens_short(row.input_tokens, row.output_tokens),
            cost(row.cost_usd),
        )
    return table
