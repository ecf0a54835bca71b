"""The viewer's pages: one method per URL, each reading the store through its query API
and handing what it found to a template.

Handlers are plain functions, which Starlette runs on its thread pool: every store call
blocks on the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from agentel.store import TraceStore, TraceTree
from agentel.store.query import GROUP_BY_CHOICES
from agentel.ui import charts, filters, views
from agentel.ui.compare import compare

STATS_PERIODS = {"1h": 1, "24h": 24, "7d": 24 * 7, "30d": 24 * 30}
STATS_TABLES = tuple(k for k in GROUP_BY_CHOICES if k != "conversation")
NAME_KINDS = ("workflow", "agent", "model", "tool")

Render = Callable[..., HTMLResponse]


class Pages:
    """The handlers, sharing the store and the template renderer."""

    def __init__(self, store: TraceStore, render: Render) -> None:
        self.store = store
        self.page = render

    # --- the trace list ----------------------------------------------------------------------

    def _list_context(self, request: Request) -> dict[str, Any]:
        try:
            query = filters.parse(request.query_params)
        except filters.FilterError as exc:
            return {"error": str(exc), "values": dict(request.query_params), "traces": []}
        found = self.store.get_traces(
            **query.arguments, limit=filters.PAGE_SIZE + 1, offset=query.offset
        )
        more = len(found) > filters.PAGE_SIZE
        found = found[: filters.PAGE_SIZE]
        return {
            "error": None,
            "values": query.values,
            "traces": found,
            "agents": self.store.trace_agents([t.trace_id for t in found]),
            "offset": query.offset,
            "more": more,
            "filtered": query.active,
        }

    def trace_list(self, request: Request) -> Response:
        context = self._list_context(request)
        return self.page(
            request,
            "list.html",
            400 if context["error"] else 200,
            names={kind: self.store.names(kind) for kind in NAME_KINDS},
            page_size=filters.PAGE_SIZE,
            query_string=urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v]
            ),
            **context,
        )

    def trace_rows(self, request: Request) -> Response:
        """The list's rows alone, which the page polls for new traces."""
        context = self._list_context(request)
        if context["error"]:
            return Response(context["error"], status_code=400, media_type="text/plain")
        return self.page(request, "rows.html", **context)

    # --- one trace ---------------------------------------------------------------------------

    def _trace(self, trace_id: str) -> TraceTree:
        tree = self.store.get_trace(trace_id) if _is_hex(trace_id) else None
        if tree is None:
            raise HTTPException(404, f"No trace with the id {trace_id!r} is in this store.")
        return tree

    def trace_page(self, request: Request) -> Response:
        tree = self._trace(request.path_params["trace_id"])
        summary = tree.summary
        rows, total_ms = views.waterfall(tree)
        selected = request.query_params.get("span")
        chosen = next((s for s in tree.spans if s.span_id == selected), None)
        origin = min((s.start_ns for s in tree.spans), default=summary.start_ns)
        others = []
        if summary.workflow:
            same = self.store.get_traces(workflow=summary.workflow, limit=30)
            others = [t for t in same if t.trace_id != summary.trace_id]
        return self.page(
            request,
            "trace.html",
            tree=tree,
            summary=summary,
            rows=rows,
            ticks=views.axis_ticks(total_ms),
            details=views.span_details(chosen, origin) if chosen else None,
            conversation=views.conversation(tree),
            path=views.agent_path(tree),
            totals=views.agent_totals(tree),
            capture_hint=views.CAPTURE_HINT,
            others=others,
        )

    def span_fragment(self, request: Request) -> Response:
        """One span's details, read alone: a click costs the same in a trace of 2,000 spans."""
        trace_id = request.path_params["trace_id"]
        span_id = request.path_params["span_id"]
        summary = self.store.get_summary(trace_id) if _is_hex(trace_id) else None
        span = None
        if summary is not None and _is_hex(span_id):
            span = self.store.get_span(summary.trace_id, span_id)
        if summary is None or span is None:
            raise HTTPException(404, f"No span {span_id!r} in trace {trace_id!r}.")
        return self.page(request, "span.html", d=views.span_details(span, summary.start_ns))

    def conversation_page(self, request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        found = self.store.get_traces(conversation_id=conversation_id, limit=200)
        if not found:
            raise HTTPException(404, f"No trace belongs to the conversation {conversation_id!r}.")
        turns = []
        for summary in reversed(found):  # oldest first
            tree = self.store.get_trace(summary.trace_id)
            if tree is not None:
                turns.append((summary, views.conversation(tree), views.agent_path(tree)))
        return self.page(
            request,
            "conversation.html",
            conversation_id=conversation_id,
            turns=turns,
            capture_hint=views.CAPTURE_HINT,
        )

    # --- across traces -----------------------------------------------------------------------

    def stats_page(self, request: Request) -> Response:
        period = request.query_params.get("period", "24h")
        if period not in STATS_PERIODS:
            choices = ", ".join(STATS_PERIODS)
            raise HTTPException(400, f"period={period!r} is not one of {choices}")
        since = timedelta(hours=STATS_PERIODS[period])
        timeline = self.store.timeline(since, buckets=60 if period == "1h" else 48)
        fmt = "%H:%M" if period in ("1h", "24h") else "%m-%d %H:%M"
        labels = [
            datetime.fromtimestamp(row.start_ns / 1e9, tz=timezone.utc).strftime(fmt)
            for row in timeline
        ]
        tables = [(group, self.store.stats(group, since=since)) for group in STATS_TABLES]  # type: ignore[arg-type]
        return self.page(
            request,
            "stats.html",
            period=period,
            periods=list(STATS_PERIODS),
            plots=charts.timeline_charts(timeline, labels),
            tables=tables,
            total_runs=sum(r.runs for r in timeline),
        )

    def compare_page(self, request: Request) -> Response:
        a_id = request.query_params.get("a", "").strip()
        b_id = request.query_params.get("b", "").strip()
        first = self._trace(a_id) if a_id else None
        second = self._trace(b_id) if b_id else None
        either = first or second
        workflow = either.summary.workflow if either else None
        return self.page(
            request,
            "compare.html",
            first=first,
            second=second,
            rows=compare(first, second) if first and second else [],
            candidates=self.store.get_traces(workflow=workflow, limit=50),
            a_id=first.summary.trace_id if first else "",
            b_id=second.summary.trace_id if second else "",
            paths=[views.agent_path(t) if t else [] for t in (first, second)],
        )


def _is_hex(text: str) -> bool:
    return 0 < len(text) <= 32 and all(c in "0123456789abcdefABCDEF" for c in text)
