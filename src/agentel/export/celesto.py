"""The Celesto exporter: our OTel spans posted to Celesto's trace ingest API.

Spans wait here until the workflow span that closes their Celesto trace arrives (children
end before their workflow), so each POST carries a trace item before its spans and every
parent id is known. Failed posts are retried on 408, 429 and 5xx with exponential backoff
within the export timeout. The API key is sent only in the ``Authorization`` header and is
never logged.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel import backends as exports
from agentel import settings as s
from agentel.export.celesto_format import is_root, is_workflow, to_items
from agentel.version import __version__

_log = logging.getLogger(__name__)

INGEST_PATH = "/traces/ingest"
_RETRYABLE = {408, 429}
_Group = tuple[ReadableSpan | None, list[ReadableSpan]]


def ingest_url(env: Mapping[str, str] | None = None) -> str:
    """``{CELESTO_BASE_URL or https://api.celesto.ai/v1}/traces/ingest``."""
    env = os.environ if env is None else env
    base = (env.get(s.ENV_CELESTO_BASE_URL) or s.DEFAULT_CELESTO_BASE_URL).rstrip("/")
    return base + INGEST_PATH


def api_key_from_env(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    token = env.get(s.ENV_CELESTO_API_KEY, "").strip()
    if not token:
        raise s.SettingError(
            f"The celesto exporter needs an API key: set {s.ENV_CELESTO_API_KEY} or pass token=."
        )
    return token


class _TraceAssembler:
    """Spans per OTel trace until the workflow or root span that closes them arrives."""

    def __init__(self, max_waiting: int) -> None:
        self._waiting: OrderedDict[int, dict[int, ReadableSpan]] = OrderedDict()
        self._count = 0
        self._max_waiting = max_waiting
        self._lock = threading.Lock()

    def add(self, spans: Sequence[ReadableSpan]) -> list[_Group]:
        ready: list[_Group] = []
        with self._lock:
            for span in spans:
                if span.context is not None:
                    trace = self._waiting.setdefault(span.context.trace_id, {})
                    trace[span.context.span_id] = span
                    self._count += 1
            closing = [
                span for span in spans if span.context and (is_workflow(span) or is_root(span))
            ]
            for span in sorted(closing, key=lambda span: span.end_time or 0):
                ready.append((span, self._release_under(span)))
            while self._count > self._max_waiting and self._waiting:
                _, oldest = self._waiting.popitem(last=False)
                self._count -= len(oldest)
                ready.append((None, list(oldest.values())))
        return ready

    def _release_under(self, closing: ReadableSpan) -> list[ReadableSpan]:
        assert closing.context is not None
        trace = self._waiting.get(closing.context.trace_id, {})
        top = closing.context.span_id
        members = [span for span in trace.values() if self._descends(span, top, trace)]
        for span in members:
            trace.pop(span.context.span_id)  # type: ignore[union-attr]
        self._count -= len(members)
        if not trace:
            self._waiting.pop(closing.context.trace_id, None)
        return members

    @staticmethod
    def _descends(span: ReadableSpan, top: int, trace: Mapping[int, ReadableSpan]) -> bool:
        current: ReadableSpan | None = span
        for _ in range(len(trace) + 1):
            if current is None or current.context is None:
                return False
            if current.context.span_id == top:
                return True
            parent = current.parent
            current = trace.get(parent.span_id) if parent is not None else None
        return False

    def drain(self) -> list[_Group]:
        with self._lock:
            groups: list[_Group] = [(None, list(t.values())) for t in self._waiting.values()]
            self._waiting.clear()
            self._count = 0
        return groups


class CelestoSpanExporter(SpanExporter):
    """Posts ``{"data": [...]}`` batches of Celesto trace and span items.

    With no arguments (as the ``agentel_celesto`` entry point is built) the key comes from
    ``CELESTO_API_KEY`` and the URL from ``CELESTO_BASE_URL``.
    """

    def __init__(
        self,
        token: str | None = None,
        endpoint: str | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 5.0,
        max_waiting_spans: int = 10_000,
    ) -> None:
        self.endpoint = endpoint or ingest_url()
        self._token = token or api_key_from_env()
        self._timeout = timeout
        self._max_retries = max_retries
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._assembler = _TraceAssembler(max_waiting_spans)
        self._stopping = threading.Event()
        # a framework's own Celesto upload of the same runs (Agentor's) stands down meanwhile
        exports.announce("celesto", self)

    def __repr__(self) -> str:  # keeps the key out of reprs in logs and tracebacks
        return f"CelestoSpanExporter(endpoint={self.endpoint!r})"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._send(self._assembler.add(spans))

    def _send(self, groups: list[_Group]) -> SpanExportResult:
        items = [item for closing, members in groups for item in to_items(closing, members)]
        if not items:
            return SpanExportResult.SUCCESS
        body = json.dumps({"data": items}, default=str).encode()
        return SpanExportResult.SUCCESS if self._post(body) else SpanExportResult.FAILURE

    def _post(self, body: bytes) -> bool:
        deadline = time.monotonic() + self._timeout
        request = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
                "User-Agent": f"agentel/{__version__}",
            },
        )
        for attempt in range(self._max_retries + 1):
            remaining = deadline - time.monotonic()
            status, retry_after = self._attempt(request, max(remaining, 0.1))
            if status is not None and 200 <= status < 300:
                return True
            if status is not None and status not in _RETRYABLE and status < 500:
                _log.debug("Celesto rejected a trace batch: HTTP %s", status)
                return False
            delay = min(self._max_delay, self._base_delay * 2**attempt) * (0.5 + random.random())
            delay = max(delay, retry_after or 0.0)
            if attempt == self._max_retries or time.monotonic() + delay > deadline:
                break
            if self._stopping.wait(delay):
                break
        _log.debug("Celesto trace batch not delivered after %d attempt(s)", attempt + 1)
        return False

    @staticmethod
    def _attempt(
        request: urllib.request.Request, timeout: float
    ) -> tuple[int | None, float | None]:
        """One POST: (HTTP status or None for a network error, Retry-After seconds)."""
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, None
        except urllib.error.HTTPError as error:
            try:
                retry_after = float(error.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
            return error.code, retry_after
        except (urllib.error.URLError, OSError) as error:
            _log.debug("Celesto ingest unreachable: %s", type(error).__name__)
            return None, None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        """Send the spans still waiting for their workflow, then stop retrying."""
        exports.withdraw(self)
        leftovers = self._assembler.drain()
        if leftovers:
            self._send(leftovers)
        self._stopping.set()
