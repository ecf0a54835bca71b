"""Keeping a slow or dead backend from ever slowing or breaking the app, and counting where
every span went.

Each exporter sits behind a :class:`GuardedExporter` and a counting processor (the SDK's
BatchSpanProcessor, or SimpleSpanProcessor for in-process exporters). Every span handed to
the processor ends in exactly one outcome per exporter: exported, spooled, failed (the
backend refused it, or it could not be kept), dropped (a full queue or spool), or abandoned
(still queued when the exit deadline passed and there is no spool). Spans are tracked by
identity from ``on_end`` until their outcome, so whichever of the export thread, the spool
or the exit deadline settles a span first counts it, and no one counts it twice.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from agentel.redact import mask_text

if TYPE_CHECKING:
    from agentel.export.spooler import Spooler

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
OUTCOMES = ("exported", "spooled", "failed", "dropped", "abandoned")


@dataclass
class DeliveryStats:
    """What one exporter did with the spans it was handed (``produced``).

    ``produced == exported + spooled + failed + dropped + abandoned + pending`` at every
    moment, and ``pending`` is 0 once the pipeline is shut down. ``spooled`` spans wait on
    disk and move to ``exported`` when this process sends them; ``replayed`` counts spans an
    earlier process spooled and this one sent, ``replay_dropped`` those it had to give up
    (spool full, or refused by a backend that takes other batches).
    """

    name: str
    produced: int = 0
    exported: int = 0
    spooled: int = 0
    failed: int = 0
    dropped: int = 0
    abandoned: int = 0
    replayed: int = 0
    replay_dropped: int = 0
    spool_path: str | None = None
    _warned: set[str] = field(default_factory=set, repr=False)
    # Spans by id() in arrival order; an OrderedDict drops its oldest in O(1) when the SDK's
    # queue overflows (a plain dict rescans its deleted head each time).
    _unresolved: OrderedDict[int, ReadableSpan] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pending(self) -> int:
        """Queued or being sent: not settled yet."""
        return len(self._unresolved)

    @property
    def undelivered(self) -> int:
        """Spans that will never reach the backend: failed, dropped and abandoned."""
        return self.failed + self.dropped + self.abandoned

    def snapshot(self) -> DeliveryStats:
        """A consistent copy, safe to read while spans keep flowing."""
        with self._lock:
            return dataclasses.replace(
                self, _warned=set(), _unresolved=OrderedDict(self._unresolved)
            )

    def summary(self) -> str:
        """``2050 span(s): 150 exported, 1900 spooled, ...`` for warnings and reports."""
        counts = ", ".join(f"{getattr(self, name)} {name}" for name in OUTCOMES)
        return f"{self.produced} span(s): {counts}"

    # --- settling spans (each under the lock; a span is settled once) ------------------------

    def queued(self, span: ReadableSpan, capacity: int | None) -> None:
        """A span handed to the processor. A full SDK queue pushes out its oldest span."""
        with self._lock:
            self.produced += 1
            if capacity is not None and len(self._unresolved) >= capacity:
                self._unresolved.popitem(last=False)
                self.dropped += 1
            self._unresolved[id(span)] = span
        if self.dropped and capacity is not None:
            self.warn_once("queue", "its queue is full")

    def take(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        """The spans of ``spans`` not settled yet, now owned by the caller to settle."""
        with self._lock:
            pop = self._unresolved.pop
            return [span for span in spans if pop(id(span), None) is not None]

    def take_all(self) -> list[ReadableSpan]:
        with self._lock:
            spans = list(self._unresolved.values())
            self._unresolved.clear()
            return spans

    def settle(self, spans: Sequence[ReadableSpan], outcome: str) -> int:
        """Count the not yet settled spans of ``spans`` as ``outcome``."""
        count = len(self.take(spans))
        self.add(outcome, count)
        return count

    def add(self, outcome: str, count: int) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + count)

    def move(self, source: str, target: str, count: int) -> None:
        with self._lock:
            setattr(self, source, getattr(self, source) - count)
            setattr(self, target, getattr(self, target) + count)

    def warn_once(self, kind: str, reason: str) -> None:
        """One warning per exporter, process and kind of trouble; then only counts."""
        if kind in self._warned:
            return
        self._warned.add(kind)
        where = (
            f"they are kept in the spool {self.spool_path} and sent when it answers again"
            if self.spool_path
            else "they are counted in agentel.delivery()"
        )
        _log.warning(
            "agentel: the %s exporter could not deliver spans (%s); the app goes on and %s. "
            "Further failures of this kind are not logged.",
            self.name,
            mask_text(reason),
            where,
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
    "opentelemetry.exporter.otlp.common.http",
)


def quiet_repeated_exporter_logs() -> None:
    """The OTLP exporters log an error for every batch they fail to send; with a backend
    down that is a line every few seconds. Keep the first of each kind; the counts on the
    pipeline handle tell the rest."""
    for name in _OTLP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _FirstOfEach) for f in logger.filters):
            logger.addFilter(_FirstOfEach())


class _BoundedCaller:
    """Runs one export at a time on a daemon thread and waits for it at most a deadline.

    An export that hangs keeps its thread, but no longer its caller: the spans are settled
    as undelivered, and until it returns later exports are not attempted (``busy``), so a
    hung exporter costs one thread, not one per batch.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._running: threading.Event | None = None

    def call(self, action: Callable[[], _T], timeout: float) -> tuple[str, Any]:
        """("ok", result) | ("error", exception) | ("timeout", None) | ("busy", None)."""
        done = threading.Event()
        with self._lock:
            if self._running is not None:
                return "busy", None
            self._running = done
        box: list[tuple[str, Any]] = []

        def run() -> None:
            try:
                box.append(("ok", action()))
            except Exception as error:
                box.append(("error", error))
            finally:
                with self._lock:
                    self._running = None
                done.set()

        if not start_thread(run, f"agentel-export-{self._name}"):
            run()  # no threads at interpreter shutdown (some 3.12 releases): inline
        done.wait(timeout)
        return box[0] if box else ("timeout", None)

    def abort(self) -> None:
        """Wake whoever waits on the running export (the exit deadline has passed)."""
        with self._lock:
            if self._running is not None:
                self._running.set()


def export_partial(exporter: SpanExporter, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The spans ``exporter`` did not deliver. An exporter that can say which spans of a
    batch it could not send (Celesto sends whole traces) defines ``export_partial``."""
    partial = getattr(exporter, "export_partial", None)
    if partial is not None:
        return list(partial(spans))
    return [] if exporter.export(spans) is SpanExportResult.SUCCESS else list(spans)


class GuardedExporter(SpanExporter):
    """Wraps an exporter so that it never raises, never holds its caller past ``cutoff``
    seconds, and settles every span it is given: exported, else spooled (with a spool),
    else failed."""

    def __init__(
        self,
        inner: SpanExporter,
        stats: DeliveryStats,
        *,
        cutoff: float | None = None,
        spooler: Spooler | None = None,
    ) -> None:
        self.inner = inner
        self.stats = stats
        self.spooler = spooler
        self._cutoff = cutoff
        self._caller = _BoundedCaller(stats.name) if cutoff is not None else None
        self._closed = False
        self._shut_down = False
        self._shutdown_lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._closed:  # settled by the exit deadline already
            return SpanExportResult.FAILURE
        spooler = self.spooler
        if spooler is not None and not spooler.healthy:
            spooler.keep(self.stats.take(spans), "the backend is down")
            return SpanExportResult.SUCCESS
        undelivered, reason, transient = self.send(spans)
        missing = {id(span) for span in undelivered}
        self.stats.settle([span for span in spans if id(span) not in missing], "exported")
        if not undelivered:
            if spooler is not None:
                spooler.sent_directly()
            return SpanExportResult.SUCCESS
        if spooler is not None:
            if transient:
                spooler.mark_down()
            spooler.keep(self.stats.take(undelivered), reason)
            return SpanExportResult.FAILURE
        self.stats.settle(undelivered, "failed")
        self.stats.warn_once("export", reason)
        return SpanExportResult.FAILURE

    def send(self, spans: Sequence[ReadableSpan]) -> tuple[list[ReadableSpan], str, bool]:
        """One export attempt: (undelivered spans, why, whether the backend is down)."""

        def attempt() -> list[ReadableSpan]:
            return export_partial(self.inner, spans)

        if self._caller is None:
            try:
                status, value = "ok", attempt()
            except Exception as error:
                status, value = "error", error
        else:
            status, value = self._caller.call(attempt, self._cutoff or 0.0)
        if status == "ok":
            reason = f"the backend did not take {len(value)} span(s)"
            return value, reason, bool(value)
        if status == "error":
            return list(spans), f"{type(value).__name__}: {value}", True
        if status == "timeout":
            return list(spans), f"an export did not return within {self._cutoff:g} s", True
        return list(spans), "an earlier export has not returned yet", False

    def close_out(self) -> list[ReadableSpan]:
        """At the exit deadline: stop waiting for exports; hand back every unsettled span."""
        self._closed = True
        if self._caller is not None:
            self._caller.abort()
        return self.stats.take_all()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            # The SDK's base SpanExporter.force_flush returns None: only False is a failure.
            return self.inner.force_flush(timeout_millis) is not False
        except Exception:
            _log.debug("force_flush of the %s exporter failed", self.stats.name, exc_info=True)
            return False

    def shutdown(self) -> None:
        with self._shutdown_lock:
            if self._shut_down:
                return
            self._shut_down = True
        self._closed = True
        try:
            self.inner.shutdown()
        except Exception:
            _log.debug("shutdown of the %s exporter failed", self.stats.name, exc_info=True)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's BatchSpanProcessor, registering each span it is handed with the exporter's
    stats, so that spans its full queue pushes out, or that are still queued at exit, are
    counted too (without reading the SDK's private queue)."""

    def __init__(self, exporter: GuardedExporter, max_queue_size: int, **kwargs: float) -> None:
        super().__init__(exporter, max_queue_size=max_queue_size, **kwargs)  # type: ignore[arg-type]
        self._stats = exporter.stats
        self._capacity = max_queue_size

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._stats.queued(span, self._capacity)
        super().on_end(span)


class CountingSimpleSpanProcessor(SimpleSpanProcessor):
    """SimpleSpanProcessor for in-process exporters (memory), counted the same way."""

    def __init__(self, exporter: GuardedExporter) -> None:
        super().__init__(exporter)
        self._stats = exporter.stats

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._stats.queued(span, None)
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


def start_thread(target: Callable[[], object], name: str) -> bool:
    """Start a daemon thread; False where the interpreter no longer allows new threads
    (atexit handlers on some Python 3.12 releases), so the caller runs the work inline."""
    try:
        threading.Thread(target=target, name=name, daemon=True).start()
    except RuntimeError:
        return False
    return True


def run_bounded(action: Callable[[], _T], timeout: float, what: str) -> _T | None:
    """Run ``action`` in a daemon thread and wait at most ``timeout`` seconds for it.

    The SDK's ``force_flush`` ignores its timeout, and an interpreter must never hang at
    exit because a backend does not answer; whatever is still running is abandoned, with a
    warning.
    """
    outcome = run_all_bounded([action], timeout, what, warn=True)
    return outcome[0]


def run_all_bounded(
    actions: Sequence[Callable[[], _T]], timeout: float, what: str, *, warn: bool = False
) -> list[_T | None]:
    """Run each action on its own daemon thread, all at once; wait for them all together at
    most ``timeout`` seconds. Unfinished ones give None (and keep running, abandoned); the
    exit flush says itself what became of their spans, others ask for a ``warn``ing."""
    import time

    results: list[_T | None] = [None] * len(actions)

    def runner(index: int, action: Callable[[], _T]) -> None:
        try:
            results[index] = action()
        except Exception:
            _log.debug("agentel: %s failed", what, exc_info=True)

    deadline = time.monotonic() + timeout
    threads = []
    for index, action in enumerate(actions):
        thread = threading.Thread(
            target=runner, args=(index, action), name=f"agentel-{what}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no threads at interpreter shutdown (some 3.12 releases)
            runner(index, action)
            continue
        threads.append(thread)
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    if any(thread.is_alive() for thread in threads):
        log = _log.warning if warn else _log.debug
        log("agentel: %s did not finish within %.1f s; giving up on it.", what, timeout)
    return results
