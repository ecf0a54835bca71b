"""What a backend that is down or hangs costs the app: time to emit a span on the app's
thread, and how long ``flush`` takes when an export never returns.

The tests check that the app never waits for an exporter and that flush is bounded; how fast
each is depends on the machine, so the figures are printed here. Emission is measured in
rounds that alternate the cases in one process (machines drift in speed between processes):
a healthy exporter, an OTLP endpoint nothing listens on, and an exporter that hangs. Each
round emits ``--traces`` sample traces (6 spans each); the figure is the median over rounds.

    python benchmarks/backend_down.py
    python benchmarks/backend_down.py --rounds 40 --traces 200
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import agentel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pipeline_helpers import SAMPLE_SPANS, emit_sample_trace

SPANS_PER_TRACE = len(SAMPLE_SPANS)


class Discarding(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Hanging(SpanExporter):
    """Never returns from an export until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.release.wait()
        return SpanExportResult.SUCCESS


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy() -> tuple[dict[str, Any], Callable[[], None]]:
    return {"exporters": [Discarding()]}, lambda: None


def _down() -> tuple[dict[str, Any], Callable[[], None]]:
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1/traces"
    return {"exporters": "otlp", "otlp_endpoint": endpoint, "export_timeout": 0.2}, lambda: None


def _hanging() -> tuple[dict[str, Any], Callable[[], None]]:
    exporter = Hanging()
    return {"exporters": [exporter]}, exporter.release.set


CASES = {"healthy": _healthy, "down (OTLP, nothing listening)": _down, "hanging": _hanging}


def emit_round(make: Callable[[], tuple[dict[str, Any], Callable[[], None]]], traces: int) -> float:
    """Microseconds per span emitted on this thread, with the case's pipeline in place."""
    options, release = make()
    exporters = options.pop("exporters")
    agentel.setup(exporters, schedule_delay=0.05, instrument=False, **options)
    try:
        started = time.perf_counter()
        for _ in range(traces):
            emit_sample_trace()
        elapsed = time.perf_counter() - started
    finally:
        release()
        agentel.shutdown()
    return elapsed / (traces * SPANS_PER_TRACE) * 1e6


def flush_with_a_hanging_export(timeout_ms: int) -> float:
    """Seconds ``force_flush(timeout_ms)`` takes while the export it waits for hangs."""
    exporter = Hanging()
    pipeline = agentel.setup([exporter], schedule_delay=0.05, instrument=False)
    try:
        emit_sample_trace()
        started = time.perf_counter()
        pipeline.force_flush(timeout_millis=timeout_ms)
        return time.perf_counter() - started
    finally:
        exporter.release.set()
        agentel.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds per case")
    parser.add_argument("--traces", type=int, default=100, help="sample traces per round")
    args = parser.parse_args()
    for name in ("agentel", "opentelemetry"):  # the expected warnings would fill the output
        logging.getLogger(name).setLevel(logging.CRITICAL)
    results: dict[str, list[float]] = {name: [] for name in CASES}
    for round_number in range(args.rounds):
        names = list(CASES)
        if round_number % 2:
            names.reverse()
        for name in names:
            results[name].append(emit_round(CASES[name], args.traces))
    print(f"emitting a span on the app's thread ({args.rounds} rounds of {args.traces} traces):")
    for name, values in results.items():
        low, high = min(values), max(values)
        median = statistics.median(values)
        print(f"  {name:32} median {median:6.1f} us/span  (range {low:.1f}-{high:.1f})")
    flushes = [flush_with_a_hanging_export(200) for _ in range(5)]
    print(
        "force_flush(timeout_millis=200) with an export that hangs: "
        + ", ".join(f"{seconds * 1000:.0f} ms" for seconds in flushes)
    )


if __name__ == "__main__":
    main()
