"""The viewer's ASGI app: one read-only page per URL, rendered on the server.

Every route is a GET that reads the store through its query API; nothing here writes. Pages
are Jinja templates with autoescaping, so whatever a span carries (names, arguments, model
output) is shown as text, and a Content-Security-Policy allows only the viewer's own script
as a second line of defence. Requests whose Host is not the address the viewer was started on
are refused, so a web page cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentel.store import TraceStore
from agentel.store.query import GROUP_BY_CHOICES
from agentel.ui import charts, filters, views
from agentel.ui.compare import compare

HERE = Path(__file__).parent
logger = logging.getLogger("agentel.ui")

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
STATS_PERIODS = {"1h": 1, "24h": 24, "7d": 24 * 7, "30d": 24 * 30}
STATS_TABLES = tuple(k for k in GROUP_BY_CHOICES if k != "conversation")
NAME_KINDS = ("workflow", "agent", "model", "tool")


class Headers:
    """Adds the security headers and a ``Server-Timing`` header (time to the response's first
    byte, as the benchmark reads it) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"server-timing", f"app;dur={elapsed:.2f}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = views.ms
    env.filters["usd"] = views.usd
    env.filters["when"] = _when
    env.filters["count"] = lambda n: "-" if n is None else f"{n:,}"
    env.filters["short"] = lambda trace_id: trace_id[:12]
    return env


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def create_app(
    store: TraceStore, allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost")
) -> Starlette:
    """The viewer over ``store``; ``allowed_hosts`` are the Host headers it answers."""
    env = _environment()

    def page(
        request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        body = env.get_template(template).render(request=request, **context)
        return HTMLResponse(body, status_code=status_code)

    def list_context(request: Request) -> dict[str, Any]:
        try:
            query = filters.parse(request.query_params)
        except filters.FilterError as exc:
            return {"error": str(exc), "values": dict(request.query_params), "traces": []}
        found = store.get_traces(
            **query.arguments, limit=filters.PAGE_SIZE + 1, offset=query.offset
        )
        more = len(found) > filters.PAGE_SIZE
        found = found[: filters.PAGE_SIZE]
        return {
            "error": None,
            "values": query.values,
            "traces": found,
            "agents": store.trace_agents([t.trace_id for t in found]),
            "offset": query.offset,
            "more": more,
            "filtered": query.active,
        }

    def trace_list(request: Request) -> Response:
        context = list_context(request)
        status = 400 if context["error"] else 200
        return page(
            request,
            "list.html",
            status,
            names={kind: store.names(kind) for kind in NAME_KINDS},
            page_size=filters.PAGE_SIZE,
            query_string=_without(request, "offset"),
            **context,
        )

    def trace_rows(request: Request) -> Response:
        """The list's rows alone, which the page polls for new traces."""
        context = list_context(request)
        if context["error"]:
            return Response(context["error"], status_code=400, media_type="text/plain")
        return page(request, "rows.html", **context)

    def load_trace(trace_id: str) -> Any:
        tree = store.get_trace(trace_id) if _is_hex(trace_id) else None
        if tree is None:
            raise HTTPException(404, f"No trace with the id {trace_id!r} is in this store.")
        return tree

    def trace_page(request: Request) -> Response:
        tree = load_trace(request.path_params["trace_id"])
        rows, total_ms = views.waterfall(tree)
        selected = request.query_params.get("span")
        chosen = next((s for s in tree.spans if s.span_id == selected), None)
        others = (
            [
                t
                for t in store.get_traces(workflow=tree.summary.workflow, limit=30)
                if t.trace_id != tree.summary.trace_id
            ]
            if tree.summary.workflow
            else []
        )
        return page(
            request,
            "trace.html",
            tree=tree,
            summary=tree.summary,
            rows=rows,
            total_ms=total_ms,
            ticks=views.axis_ticks(total_ms),
            details=views.span_details(chosen, _origin(tree)) if chosen else None,
            conversation=views.conversation(tree),
            path=views.agent_path(tree),
            totals=views.agent_totals(tree),
            capture_hint=views.CAPTURE_HINT,
            others=others,
        )

    def span_fragment(request: Request) -> Response:
        """One span's details, read alone: a click costs the same in a trace of 2,000 spans."""
        trace_id = request.path_params["trace_id"]
        span_id = request.path_params["span_id"]
        summary = store.get_summary(trace_id) if _is_hex(trace_id) else None
        span = store.get_span(summary.trace_id, span_id) if summary and _is_hex(span_id) else None
        if span is None:
            raise HTTPException(404, f"No span {span_id!r} in trace {trace_id!r}.")
        return page(request, "span.html", d=views.span_details(span, summary.start_ns))

    def conversation_page(request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        found = list(reversed(store.get_traces(conversation_id=conversation_id, limit=200)))
        if not found:
            raise HTTPException(404, f"No trace belongs to the conversation {conversation_id!r}.")
        turns = []
        for summary in found:
            tree = store.get_trace(summary.trace_id)
            if tree is not None:
                turns.append((summary, views.conversation(tree), views.agent_path(tree)))
        return page(
            request,
            "conversation.html",
            conversation_id=conversation_id,
            turns=turns,
            capture_hint=views.CAPTURE_HINT,
        )

    def stats_page(request: Request) -> Response:
        period = request.query_params.get("period", "24h")
        if period not in STATS_PERIODS:
            choices = ", ".join(STATS_PERIODS)
            raise HTTPException(400, f"period={period!r} is not one of {choices}")
        since = timedelta(hours=STATS_PERIODS[period])
        timeline = store.timeline(since, buckets=48 if period != "1h" else 60)
        fmt = "%H:%M" if period in ("1h", "24h") else "%m-%d %H:%M"
        labels = [
            datetime.fromtimestamp(row.start_ns / 1e9, tz=timezone.utc).strftime(fmt)
            for row in timeline
        ]
        plots = [
            charts.bar_chart("Runs", [r.runs for r in timeline], labels),
            charts.bar_chart(
                "Error rate", [100 * r.error_rate for r in timeline], labels, "{:.0f} %"
            ),
            charts.line_chart(
                "Latency (ms)",
                [
                    ("p50", "p50", [r.p50_ms for r in timeline]),
                    ("p95", "p95", [r.p95_ms for r in timeline]),
                ],
                labels,
            ),
            charts.bar_chart(
                "Tokens", [r.input_tokens + r.output_tokens for r in timeline], labels
            ),
            charts.bar_chart("Cost (USD)", [r.cost_usd for r in timeline], labels, "${:,.4f}"),
        ]
        tables = [(group, store.stats(group, since=since)) for group in STATS_TABLES]  # type: ignore[arg-type]
        return page(
            request,
            "stats.html",
            period=period,
            periods=list(STATS_PERIODS),
            plots=plots,
            tables=tables,
            total_runs=sum(r.runs for r in timeline),
        )

    def compare_page(request: Request) -> Response:
        a_id = request.query_params.get("a", "").strip()
        b_id = request.query_params.get("b", "").strip()
        first = load_trace(a_id) if a_id else None
        second = load_trace(b_id) if b_id else None
        workflow = (first or second).summary.workflow if (first or second) else None
        candidates = store.get_traces(workflow=workflow, limit=50)
        return page(
            request,
            "compare.html",
            first=first,
            second=second,
            rows=compare(first, second) if first and second else [],
            candidates=candidates,
            a_id=first.summary.trace_id if first else "",
            b_id=second.summary.trace_id if second else "",
            paths=[views.agent_path(t) if t else [] for t in (first, second)],
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return page(
            request, "error.html", exc.status_code, message=exc.detail, code=exc.status_code
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("error serving %s", request.url.path, exc_info=exc)
        message = f"The viewer could not read the store: {type(exc).__name__}: {exc}"
        return page(request, "error.html", 500, message=message, code=500)

    routes = [
        Route("/", trace_list),
        Route("/rows", trace_rows),
        Route("/trace/{trace_id}", trace_page),
        Route("/trace/{trace_id}/span/{span_id}", span_fragment),
        Route("/conversation/{conversation_id:path}", conversation_page),
        Route("/stats", stats_page),
        Route("/compare", compare_page),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(Headers),
            Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


def _origin(tree: Any) -> int:
    return min((s.start_ns for s in tree.spans), default=tree.summary.start_ns)


def _is_hex(text: str) -> bool:
    return 0 < len(text) <= 32 and all(c in "0123456789abcdefABCDEF" for c in text)


def _without(request: Request, key: str) -> str:
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k != key and v])
