"""Keeping a slow or dead backend from ever slowing or breaking the app.

Each named exporter sits behind a :class:`GuardedExporter` (exceptions become failures, the
spans it could not send are counted and reported once) and a
:class:`CountingBatchSpanProcessor` (spans the full queue pushed out are counted too). The
user reads the counts on the pipeline handle instead of in a flood of log lines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass
class DeliveryStats:
    """What one exporter did with the spans it was given."""

    name: str
    exported: int = 0
    failed: int = 0
    dropped: int = 0
    _warned: bool = field(default=False, repr=False)
    _pending: int = field(default=0, repr=False)  # handed to the processor, not yet exported
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def undelivered(self) -> int:
        """Spans that will never reach the backend: failed exports plus queue overflow."""
        return self.failed + self.dropped

    def warn_once(self, reason: str) -> None:
        """One warning per exporter and process; later losses only raise the counts."""
        if self._warned:
            return
        self._warned = True
        _log.warning(
            "agentel: the %s exporter could not deliver spans (%s); the app goes on and the "
            "losses are counted in Pipeline.undelivered_spans. Further failures are not logged.",
            self.name,
            reason,
        )


class _FirstOfEach(logging.Filter):
    """Lets through the first record of each message template, then only new ones."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


_OTLP_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)


def quiet_repeated_exporter_logs() -> None:
    """The OTLP exporters log an error for every batch they fail to send; with a backend
    down that is a line every few seconds. Keep the first of each kind; the counts on the
    pipeline handle tell the rest."""
    for name in _OTLP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _FirstOfEach) for f in logger.filters):
            logger.addFilter(_FirstOfEach())


class GuardedExporter(SpanExporter):
    """Wraps an exporter so that it never raises and its failures are counted."""

    def __init__(self, inner: SpanExporter, stats: DeliveryStats) -> None:
        self.inner = inner
        self.stats = stats

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.stats._lock:
            self.stats._pending = max(0, self.stats._pending - len(spans))
        try:
            result = self.inner.export(spans)
        except Exception as error:  # the backend's problem must not become the app's
            result = SpanExportResult.FAILURE
            reason = f"{type(error).__name__}: {error}"
        else:
            reason = "the export returned FAILURE"
        with self.stats._lock:
            if result is SpanExportResult.SUCCESS:
                self.stats.exported += len(spans)
            else:
                self.stats.failed += len(spans)
        if result is not SpanExportResult.SUCCESS:
            self.stats.warn_once(reason)
        return result

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            # The SDK's base SpanExporter.force_flush returns None: only False is a failure.
            return self.inner.force_flush(timeout_millis) is not False
        except Exception:
            _log.debug("force_flush of the %s exporter failed", self.stats.name, exc_info=True)
            return False

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            _log.debug("shutdown of the %s exporter failed", self.stats.name, exc_info=True)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's BatchSpanProcessor, also counting the spans a full queue pushes out.

    The SDK drops the oldest span when its queue is full; keeping our own count of queued
    spans (up on ``on_end``, down when the exporter receives a batch) tells us when that
    happens without reading the SDK's private state.
    """

    def __init__(self, exporter: GuardedExporter, max_queue_size: int, **kwargs: float) -> None:
        super().__init__(exporter, max_queue_size=max_queue_size, **kwargs)  # type: ignore[arg-type]
        self._stats = exporter.stats
        self._capacity = max_queue_size

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            with self._stats._lock:
                if self._stats._pending >= self._capacity:
                    self._stats.dropped += 1
                else:
                    self._stats._pending += 1
            if self._stats.dropped:
                self._stats.warn_once("its queue is full")
        super().on_end(span)


class FanOutProcessor(SpanProcessor):
    """All of one pipeline's processors behind the single processor added to a provider.

    A joined TracerProvider has no way to remove a processor; closing this one makes the
    pipeline's processors fall silent after ``shutdown()`` without touching the others.
    """

    def __init__(self, processors: Sequence[SpanProcessor]) -> None:
        self.processors = tuple(processors)
        self.closed = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not self.closed:
            for processor in self.processors:
                processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if not self.closed:
            for processor in self.processors:
                processor.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all([p.force_flush(timeout_millis) for p in self.processors])

    def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        for processor in self.processors:
            processor.shutdown()


def run_bounded(action: Callable[[], _T], timeout: float, what: str) -> _T | None:
    """Run ``action`` in a daemon thread and wait at most ``timeout`` seconds for it.

    The SDK's ``force_flush`` ignores its timeout, and an interpreter must never hang at
    exit because a backend does not answer; whatever is still running is abandoned.
    """
    outcome: list[_T] = []

    def target() -> None:
        try:
            outcome.append(action())
        except Exception:
            _log.debug("agentel: %s failed", what, exc_info=True)

    worker = threading.Thread(target=target, name=f"agentel-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _log.warning("agentel: %s did not finish within %.1f s; giving up on it.", what, timeout)
        return None
    return outcome[0] if outcome else None
