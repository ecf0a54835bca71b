"""The spool: write and replay throughput, and what a hanging backend costs the app.

Spans are the demo's (``agentel demo`` run offline through the real SDK and instrumentor),
cloned with fresh ids, in batches of 512 (the BatchSpanProcessor default).

- write: ``Spooler.keep`` (OTLP protobuf encoding + one SQLite transaction per batch), as
  an exporter does when its backend is down;
- replay: ``Spooler.drain`` through the real OTLP/HTTP exporter to a loopback receiver that
  answers 200 at once (decode + export + delete), as when the backend comes back;
- app-side latency: the time on the app's thread to start and end one demo-shaped span
  through ``agentel.setup("otlp")`` (spool on), backend healthy vs hanging (never answers),
  paired in alternating rounds of one run, with the bare OTel SDK (no processor) as the
  floor; spans arrive at about 5,000 a second.

    python benchmarks/spool.py --spans 200000 --rounds 6
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, TraceFlags

from agentel.export import spool, spool_codec
from agentel.export.delivery import DeliveryStats, GuardedExporter
from agentel.export.otlp import OTLPTarget, build_span_exporter
from agentel.export.spooler import Spooler

BATCH = 512


def demo_spans() -> list[ReadableSpan]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from store import demo_spans as recorded

    return recorded(content=False)


def clones(template: list[ReadableSpan], count: int) -> list[ReadableSpan]:
    out: list[ReadableSpan] = []
    while len(out) < count:
        trace_id = random.getrandbits(128)
        for span in template:
            context = SpanContext(trace_id, random.getrandbits(64), False, TraceFlags(1))
            out.append(
                ReadableSpan(
                    name=span.name,
                    context=context,
                    parent=span.parent,
                    resource=span.resource,
                    attributes=span.attributes,
                    events=span.events,
                    kind=span.kind,
                    status=span.status,
                    start_time=span.start_time,
                    end_time=span.end_time,
                    instrumentation_scope=span.instrumentation_scope,
                )
            )
    return out[:count]


class Sink:
    """A loopback OTLP/HTTP endpoint; ``hang`` holds every request until released."""

    def __init__(self, hang: bool = False) -> None:
        self.release = threading.Event()
        if not hang:
            self.release.set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.release.wait()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def spool_throughput(spans: list[ReadableSpan], directory: Path) -> tuple[float, float]:
    """(write spans/s, replay spans/s)."""
    sink = Sink()
    exporter = build_span_exporter("http/protobuf", OTLPTarget(sink.url))
    stats = DeliveryStats("otlp")
    guarded = GuardedExporter(exporter, stats, cutoff=30)
    path = directory / f"bench-{random.getrandbits(32):x}.sqlite"
    opened = spool.Spool(path, "otlp", sink.url, 10 * 1024**3)
    spooler = Spooler(opened, stats, guarded.send, lease=60)
    spooler.healthy = False  # keep the replayer thread from draining during the write
    batches = [spans[i : i + BATCH] for i in range(0, len(spans), BATCH)]
    started = time.perf_counter()
    for batch in batches:
        spooler.keep(batch, "benchmark")
    write = len(spans) / (time.perf_counter() - started)
    started = time.perf_counter()
    assert spooler.drain()
    replay = len(spans) / (time.perf_counter() - started)
    assert stats.spooled == 0 and stats.exported == len(spans), stats
    spooler.close()
    exporter.shutdown()
    sink.close()
    return write, replay


def app_latency(template: list[ReadableSpan], spans: int, setup: str, sink: Sink | None) -> float:
    """Median ns per span on the app's thread (start + attributes + end), spans arriving in
    runs of one trace every 2 ms (about 5,000 spans/s, below what the exporter and the spool
    take, so no queue overflows), after a warm-up that lets a hanging backend be marked down
    (until then its first export waits out its timeout, and the queue fills)."""
    from agentel.export import pipeline as pipeline_module

    provider = TracerProvider()
    pipeline = None
    tracer = provider.get_tracer("bench")
    shapes = [(span.name, dict(span.attributes or {})) for span in template]
    if setup == "otlp":
        assert sink is not None
        pipeline = pipeline_module.setup(
            "otlp",
            otlp_endpoint=sink.url,
            tracer_provider=provider,
            instrument=False,
            metrics=False,
            export_timeout=1,
            schedule_delay=0.05,
            spool_dir=tempfile.mkdtemp(prefix="agentel-bench-"),
        )
        for name, attributes in shapes * 10:
            tracer.start_span(name, attributes=attributes).end()
        deadline = time.monotonic() + 10
        lane = pipeline._lanes[0]
        while time.monotonic() < deadline:
            stats = lane.stats.snapshot()
            if stats.pending == 0 and (stats.exported or not lane.spooler.healthy):
                break
            time.sleep(0.01)
    timings = []
    for _ in range(spans // len(shapes)):
        for name, attributes in shapes:
            started = time.perf_counter_ns()
            tracer.start_span(name, attributes=attributes).end()
            timings.append(time.perf_counter_ns() - started)
        time.sleep(0.002)  # pacing: the app's own work between runs
    if pipeline is not None:
        stats = pipeline.delivery["otlp"]
        assert stats.dropped == 0, stats
        pipeline.shutdown(timeout_millis=1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--latency-spans", type=int, default=5_000)
    args = parser.parse_args()
    template = demo_spans()
    spans = clones(template, args.spans)
    batches = [spans[i : i + BATCH] for i in range(0, len(spans), BATCH)]
    started = time.perf_counter()
    for batch in batches:
        spool_codec.encode(batch)
    encode = len(spans) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as directory:
        write, replay = spool_throughput(spans, Path(directory))
    print(f"OTLP encoding alone (the OTel SDK's encoder) {encode:,.0f} spans/s")
    print(f"spool write  {write:,.0f} spans/s  ({args.spans:,} spans, batches of {BATCH})")
    print(f"spool replay {replay:,.0f} spans/s  (to a loopback OTLP/HTTP receiver)")

    trace.set_tracer_provider(TracerProvider())  # any global, so setup() joins ours
    healthy, hanging = Sink(), Sink(hang=True)
    results: dict[str, list[float]] = {"floor": [], "healthy": [], "hanging": []}
    for _ in range(args.rounds):
        results["floor"].append(app_latency(template, args.latency_spans, "floor", None))
        results["healthy"].append(app_latency(template, args.latency_spans, "otlp", healthy))
        results["hanging"].append(app_latency(template, args.latency_spans, "otlp", hanging))
    for name, values in results.items():
        print(f"app thread, {name:8s} median {statistics.median(values) / 1000:.2f} us/span "
              f"(rounds: {', '.join(f'{v / 1000:.2f}' for v in values)})")  # fmt: skip
    healthy.close()
    hanging.close()


if __name__ == "__main__":
    main()
