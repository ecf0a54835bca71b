"""The OTel ``SpanExporter`` that writes finished spans into a trace store.

It is a guest in the user's process: a batch that cannot be written (database locked for
too long, PostgreSQL down) returns ``FAILURE``, is counted, and is logged once per outage;
nothing is raised. The store is opened on the first batch and, after a failure, again on the
next one, so an outage ends by itself when the database comes back.

One bad span never costs its batch: a batch the database refuses for its values is written
again with the unstorable values replaced (:mod:`agentel.store.sanitize`), and if that is
refused too, span by span. A batch that fails because the PostgreSQL connection broke (a
restarted server, ``pg_terminate_backend``) is written again once on a fresh connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel.redact import mask_text, url_secrets
from agentel.store import TraceStore, open_store, resolve_url
from agentel.store.sanitize import clean_spans

_log = logging.getLogger(__name__)

# Errors about the values of a batch rather than the database: sanitising may cure them.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # UnicodeEncodeError for lone surrogates, NUL in PostgreSQL text
    TypeError,
    OverflowError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
)
# Errors of a connection that a fresh one may not have.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = ()
try:
    import psycopg

    _DATA_ERRORS += (psycopg.DataError,)
    _CONNECTION_ERRORS += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # pragma: no cover - exercised only without the postgres extra
    pass


class StoreSpanExporter(SpanExporter):
    """Write span batches into the store ``url`` names (default: ``AGENTEL_DB``, then
    ``./agentel.db``), one transaction per batch.

    ``exported_spans``, ``failed_batches``, ``failed_spans``, ``sanitized_spans`` (stored
    with values replaced) and ``retried_batches`` count what happened.
    """

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)  # a bad URL is a setup error: raise it now, not per batch
        self._secrets = url_secrets(self.url)
        self._store: TraceStore | None = None
        self._lock = threading.Lock()
        self._failing = False
        self._warned_sanitized = False
        self._shut_down = False
        self.exported_spans = 0
        self.failed_batches = 0
        self.failed_spans = 0
        self.sanitized_spans = 0
        self.retried_batches = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        failed = self.export_partial(spans)
        return SpanExportResult.FAILURE if failed else SpanExportResult.SUCCESS

    def export_partial(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        """Write the batch; return the spans that could not be stored."""
        if self._shut_down:
            return list(spans)
        with self._lock:
            try:
                failed = self._write(spans)
            except Exception as exc:
                self._record_failure(len(spans), exc)
                return list(spans)
            if self._failing and not failed:
                self._failing = False
                _log.warning("agentel trace store %s is writable again", self._shown_url())
            self.exported_spans += len(spans) - len(failed)
            if failed:
                self.failed_batches += 1
                self.failed_spans += len(failed)
            return failed

    def _opened(self) -> TraceStore:
        if self._store is None:
            self._store = open_store(self.url)
        return self._store

    def _write(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        """Store the batch, retrying as the error allows; the spans that could not be."""
        try:
            self._opened().write_spans(spans)
            return []
        except _CONNECTION_ERRORS:
            self._close_store()
            self.retried_batches += 1
            self._opened().write_spans(spans)  # once, on a fresh connection
            return []
        except _DATA_ERRORS as exc:
            _log.debug("trace store refused a batch for its values: %s", exc)
        cleaned, changed = clean_spans(spans)
        try:
            self._opened().write_spans(cleaned)
            self._count_sanitized(changed)
            return []
        except _DATA_ERRORS:
            pass
        failed: list[ReadableSpan] = []
        for original, span in zip(spans, cleaned, strict=True):
            try:
                self._opened().write_spans([span])
            except _DATA_ERRORS as exc:
                _log.debug("trace store refused a span: %s", exc)
                failed.append(original)
        self._count_sanitized(changed)
        return failed

    def _count_sanitized(self, count: int) -> None:
        self.sanitized_spans += count
        if count and not self._warned_sanitized:
            self._warned_sanitized = True
            _log.warning(
                "agentel stored %d span(s) with values the trace store cannot hold (lone "
                "surrogates, NUL characters, out-of-range numbers) replaced; further ones are "
                "counted in StoreSpanExporter.sanitized_spans",
                count,
            )

    def _shown_url(self) -> str:
        return self._store.url if self._store is not None else mask_text(self.url, self._secrets)

    def _record_failure(self, span_count: int, exc: Exception) -> None:
        self.failed_batches += 1
        self.failed_spans += span_count
        if not self._failing:
            self._failing = True
            _log.warning(
                "agentel could not write %d spans to the trace store %s (%s: %s); "
                "further failures are counted but not logged until it recovers",
                span_count,
                self._shown_url(),
                type(exc).__name__,
                mask_text(str(exc), self._secrets),
            )
        else:
            _log.debug("trace store write failed again: %s", mask_text(str(exc), self._secrets))
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
