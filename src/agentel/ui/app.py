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
from datetime import datetime, timezone
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
from agentel.ui import views
from agentel.ui.pages import Pages

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

    def render(
        request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        body = env.get_template(template).render(request=request, **context)
        return HTMLResponse(body, status_code=status_code)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = exc.status_code
        return render(request, "error.html", code, message=exc.detail, code=code)

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("error serving %s", request.url.path, exc_info=exc)
        message = f"The viewer could not read the store: {type(exc).__name__}: {exc}"
        return render(request, "error.html", 500, message=message, code=500)

    pages = Pages(store, render)
    routes = [
        Route("/", pages.trace_list),
        Route("/rows", pages.trace_rows),
        Route("/trace/{trace_id}", pages.trace_page),
        Route("/trace/{trace_id}/span/{span_id}", pages.span_fragment),
        Route("/conversation/{conversation_id:path}", pages.conversation_page),
        Route("/stats", pages.stats_page),
        Route("/compare", pages.compare_page),
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
