"""The OTel ``SpanExporter`` that writes finished spans into a trace store.

It is a guest in the user's process: a batch that cannot be written (database locked for
too long, PostgreSQL down) returns ``FAILURE``, is counted, and is logged once per outage;
nothing is raised. The store is opened on the first batch and, after a failure, again on the
next one, so an outage ends by itself when the database comes back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel.store import TraceStore, open_store, resolve_url

_log = logging.getLogger(__name__)


class StoreSpanExporter(SpanExporter):
    """Write span batches into the store ``url`` names (default: ``AGENTEL_DB``, then
    ``./agentel.db``), one transaction per batch.

    ``exported_spans``, ``failed_batches`` and ``failed_spans`` count what happened.
    """

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)  # a bad URL is a setup error: raise it now, not per batch
        self._store: TraceStore | None = None
        self._lock = threading.Lock()
        self._failing = False
        self._shut_down = False
        self.exported_spans = 0
        self.failed_batches = 0
        self.failed_spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut_down:
            return SpanExportResult.FAILURE
        with self._lock:
            try:
                if self._store is None:
                    self._store = open_store(self.url)
                self._store.write_spans(spans)
            except Exception as exc:
                self._record_failure(len(spans), exc)
                return SpanExportResult.FAILURE
            if self._failing:
                self._failing = False
                _log.warning("agentel trace store %s is writable again", self._store.url)
            self.exported_spans += len(spans)
            return SpanExportResult.SUCCESS

    def _record_failure(self, span_count: int, exc: Exception) -> None:
        self.failed_batches += 1
        self.failed_spans += span_count
        if not self._failing:
            self._failing = True
            _log.warning(
                "agentel could not write %d spans to the trace store %s (%s: %s); "
                "further failures are counted but not logged until it recovers",
                span_count,
                self._store.url if self._store is not None else self.url,
                type(exc).__name__,
                exc,
            )
        else:
            _log.debug("trace store write failed again: %s", exc)
        if self._store is not None and self._store.dialect.name == "postgres":
            # Start from a fresh connection next time; the SQLite file needs no reopening.
            self._close_store()

    def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception as exc:  # a broken connection may fail to close; it is gone
                _log.debug("closing the trace store failed: %s", exc)

    def shutdown(self) -> None:
        with self._lock:
            self._shut_down = True
            self._close_store()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Every batch is committed before ``export`` returns; nothing is held back."""
        return True
