"""What tracing a run costs end to end, with the exporters a user really sends to.

``overhead.py`` measures making the spans, with an exporter that drops them. Here the same
in-process OpenAI Agents SDK scenario (10 spans a run) goes through ``agentel.setup()``, so
the BatchSpanProcessor, the delivery accounting and the exporter are the ones a user gets,
to each real destination in turn:

- ``otlp``: the OTel SDK's OTLP/HTTP protobuf exporter, posting to a receiver on 127.0.0.1
  that runs in a separate process (its CPU is not the app's) and answers 200;
- ``sqlite``: the SQLite store, in a temporary file;
- ``postgres``: the PostgreSQL store at ``--postgres`` in a schema of its own, dropped
  afterwards (skipped when the server cannot be reached);
- for reference, the same pipeline with an exporter that discards every batch, and the plain
  OTel SDK (a TracerProvider and a BatchSpanProcessor, no agentel pipeline) to the same OTLP
  receiver, with agentel's instrumentor making the same spans.

Runs are paired in one process, as ``overhead.py`` pairs them: a traced run and the same run
with ``RunConfig(tracing_disabled=True)``, alternating which goes first. The figures:

- added wall time per run, p50 and p95 of the pair differences: the run's own wall time, so
  a run that waited for the GIL while the export thread encoded a batch shows it;
- added CPU per run, ``time.process_time()`` (every thread): the median of the differences,
  and their mean, which outlying runs pull up;
- the exporter's own CPU per span: the export thread's ``time.thread_time()`` around each
  call into the exporter, summed and divided by the spans it was given. The pair
  differences cannot show this cost: a batch goes every 512 spans and its export runs
  through several runs, traced and untraced alike, so its CPU falls on both halves of the
  pairs and cancels out. What a traced run costs in CPU all told is the added CPU plus ten
  times this.

Every span must be delivered before the figures count: the pipeline is flushed, then the
receiver's decoded spans, the store's rows (through its query API) and the pipeline's own
delivery counts are checked against the spans the traced runs made.

    python benchmarks/overhead.py --exporters --pairs 150
    python benchmarks/end_to_end.py --pairs 20 --only otlp sqlite
    python benchmarks/end_to_end.py --resource-ab 40   # the OTLP export, resource by resource
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

from agents import Runner
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.util._once import Once

import agentel
from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import PROMPT, SPANS_PER_RUN, TRACED, DiscardingExporter, ScenarioModel, timed_pair

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from agent_fixtures import support_agents_on

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "agentel_bench_e2e"
CASES = ("otlp", "sqlite", "postgres", "discarding", "plain-otlp")


# --- the OTLP receiver, in a process of its own -------------------------------------------


def _serve(port_out: Any) -> None:
    """The receiver process: keeps each request body and answers 200 at once. Bodies are
    decoded only when the counts are asked for, after a case, so decoding takes no CPU while
    runs are measured (on two cores, the receiver's work competes with the app's)."""
    bodies: list[bytes] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector answers

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                bodies.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                taken = list(bodies)
            payload = json.dumps(
                {
                    "requests": len(taken),
                    "bytes": sum(len(body) for body in taken),
                    "spans": sum(_spans_in(body) for body in taken),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.send(server.server_address[1])
    server.serve_forever()


def _spans_in(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return sum(
        len(scope.spans) for resource in message.resource_spans for scope in resource.scope_spans
    )


class Receiver:
    """The receiver process, seen from the app: its URL and what it has received so far."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs,), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{ours.recv()}"

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/counts", timeout=60) as response:
            return json.loads(response.read())

    def close(self) -> None:
        self._process.terminate()
        self._process.join()


# --- timing the exporter on its own thread --------------------------------------------------


@dataclass
class ExportTimer:
    """Thread CPU spent inside the exporter's export calls, and the spans they were given.

    The pipeline calls ``export_partial`` when an exporter has one (the store's), else
    ``export``; the timer replaces that one method on the instance, nothing else."""

    cpu_s: float = 0.0
    spans: int = 0
    calls: int = 0

    def wrap(self, exporter: SpanExporter) -> None:
        name = "export_partial" if hasattr(exporter, "export_partial") else "export"
        inner = getattr(exporter, name)

        def timed(spans: Sequence[Any]) -> Any:
            started = time.thread_time()
            try:
                return inner(spans)
            finally:
                self.cpu_s += time.thread_time() - started
                self.spans += len(spans)
                self.calls += 1

        setattr(exporter, name, timed)

    def reset(self) -> None:
        self.cpu_s, self.spans, self.calls = 0.0, 0, 0


# --- the cases ------------------------------------------------------------------------------


@dataclass
class Installed:
    """A case in place: how to flush it, count what it delivered, and take it down."""

    timer: ExportTimer
    flush: Callable[[], bool]
    delivered: Callable[[], int]
    close: Callable[[], None]
    stats: Callable[[], Any] = lambda: None
    wire: Callable[[], dict[str, int]] = dict


def _forget_global_provider() -> None:
    """``setup()`` builds its TracerProvider only when none is global yet, as in a fresh
    process; the OTel API lets a process set one once. Each case here starts as a fresh
    process would (the tests reset the same two globals)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]


def _agentel(exporters: Any, delivered: Callable[[], int], **options: Any) -> Installed:
    """``agentel.setup()`` as a user calls it (metrics off: tracing alone is measured, as in
    ``overhead.py``), with the exporter's export timed."""
    _forget_global_provider()
    pipeline = agentel.setup(exporters, metrics=False, **options)
    (name,) = pipeline.exporters
    timer = ExportTimer()
    timer.wrap(pipeline.exporter(name))

    def close() -> None:
        agentel.uninstrument()
        pipeline.shutdown()

    return Installed(
        timer=timer,
        flush=lambda: pipeline.force_flush(60_000),
        delivered=delivered,
        close=close,
        stats=lambda: pipeline.delivery[name],
    )


def _store_rows(url: str) -> Callable[[], int]:
    def rows() -> int:
        from agentel.store import open_store

        with open_store(url, read_only=True) as store:
            return store.counts()[1]

    return rows


def _postgres_reachable(url: str) -> str | None:
    """None if the server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return None
    except Exception as error:  # any reason to skip is reported, not raised
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"


def _drop_schema(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


@contextmanager
def _case(name: str, receiver: Receiver, workdir: Path, postgres_url: str) -> Iterator[Installed]:
    if name == "otlp":
        before = receiver.counts()["spans"]
        installed = _agentel(
            "otlp",
            lambda: receiver.counts()["spans"] - before,
            otlp_endpoint=receiver.url + "/v1/traces",
            spool_dir=str(workdir / "spool"),
        )
        installed.wire = _wire_since(receiver)
    elif name == "sqlite":
        url = f"sqlite:///{workdir / 'e2e.db'}"
        installed = _agentel("sqlite", _store_rows(url), db_url=url)
    elif name == "postgres":
        url = f"{postgres_url}?schema={SCHEMA}"
        _drop_schema(postgres_url)
        installed = _agentel("postgres", _store_rows(url), db_url=url)
    elif name == "discarding":
        discarding = DiscardingExporter()
        installed = _agentel([discarding], lambda: discarding.count)
    else:
        installed = _plain_sdk(receiver)
    try:
        yield installed
    finally:
        installed.close()
        if name == "postgres":
            _drop_schema(postgres_url)


def _wire_since(receiver: Receiver) -> Callable[[], dict[str, int]]:
    before = receiver.counts()
    return lambda: {k: v - before[k] for k, v in receiver.counts().items()}


def _plain_sdk(receiver: Receiver) -> Installed:
    """No agentel pipeline: the OTel SDK's TracerProvider, BatchSpanProcessor and OTLP/HTTP
    exporter as a user wires them by hand, and agentel's instrumentor making the spans."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    before = receiver.counts()["spans"]
    wire = _wire_since(receiver)
    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=receiver.url + "/v1/traces")
    timer = ExportTimer()
    timer.wrap(exporter)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)

    def close() -> None:
        instrumentor.uninstrument()
        provider.shutdown()

    return Installed(
        timer=timer,
        flush=lambda: provider.force_flush(60_000),
        delivered=lambda: receiver.counts()["spans"] - before,
        close=close,
        wire=wire,
    )


# --- measuring ------------------------------------------------------------------------------


async def _pairs(
    agent: Any, pairs: int, warmup: int, after_warmup: Callable[[], None]
) -> tuple[list[float], list[float], list[float]]:
    """(wall, CPU) differences traced minus untraced, and the untraced runs' CPU, in seconds,
    one per measured pair."""
    wall_diffs: list[float] = []
    cpu_diffs: list[float] = []
    plain_cpus: list[float] = []
    for index in range(warmup + pairs):
        if index == warmup:
            after_warmup()
        timings = await timed_pair(agent, index)
        if index >= warmup:
            wall_diffs.append(timings[True][0] - timings[False][0])
            cpu_diffs.append(timings[True][1] - timings[False][1])
            plain_cpus.append(timings[False][1])
    return wall_diffs, cpu_diffs, plain_cpus


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_case(
    name: str, receiver: Receiver, workdir: Path, pairs: int, warmup: int, postgres_url: str
) -> dict[str, Any]:
    """One case: paired runs, then a flush and the delivery check, then the figures.

    The warm-up's spans are flushed before the measured pairs start, and the exporter's
    timer starts again then: the first export opens the connection or creates the store's
    tables, a cost paid once per process, not per span."""
    expected = (warmup + pairs) * SPANS_PER_RUN
    with _case(name, receiver, workdir, postgres_url) as installed:

        def after_warmup() -> None:
            installed.flush()
            installed.timer.reset()

        agent = support_agents_on(ScenarioModel())
        wall, cpu, plain_cpu = asyncio.run(_pairs(agent, pairs, warmup, after_warmup))
        if not installed.flush():
            raise SystemExit(f"{name}: the flush did not finish")
        delivered = installed.delivered()
        stats = installed.stats()
        wire = installed.wire()
        timer = installed.timer
    if delivered != expected or timer.spans != pairs * SPANS_PER_RUN:
        raise SystemExit(
            f"{name}: {delivered} spans delivered, {timer.spans} exported, {expected} made"
        )
    if stats is not None and (stats.exported != expected or stats.undelivered):
        raise SystemExit(f"{name}: delivery counts {stats}")
    return {
        "spans": delivered,
        "batches": timer.calls,
        "run_cpu_us": statistics.median(plain_cpu) * 1e6,
        "wall_p50_us": _percentile(wall, 0.50) * 1e6,
        "wall_p95_us": _percentile(wall, 0.95) * 1e6,
        "cpu_p50_us": statistics.median(cpu) * 1e6,
        "cpu_mean_us": statistics.fmean(cpu) * 1e6,
        "export_cpu_per_span_us": timer.cpu_s / timer.spans * 1e6,
        "wire_bytes_per_span": wire["bytes"] / wire["spans"] if wire.get("spans") else None,
    }


LABELS = {
    "otlp": "agentel -> OTLP/HTTP",
    "sqlite": "agentel -> SQLite",
    "postgres": "agentel -> PostgreSQL",
    "discarding": "agentel -> discarding",
    "plain-otlp": "plain OTel SDK -> OTLP/HTTP",
}


def run(
    pairs: int,
    warmup: int,
    only: Sequence[str] = CASES,
    postgres_url: str = POSTGRES_URL,
) -> None:
    """Measure each case in turn in this process and print one table."""
    print(
        f"Python {sys.version.split()[0]}, opentelemetry-sdk {version('opentelemetry-sdk')}, "
        f"openai-agents {version('openai-agents')}; in-process model, content off, "
        f"{SPANS_PER_RUN} spans a run, {pairs} pairs after {warmup} warm-up; OTLP receiver "
        "in a separate process"
    )
    header = (
        f"{'case':<28} {'spans':>6} {'batches':>7} {'run cpu':>8} {'+wall p50':>10} "
        f"{'+wall p95':>10} {'+cpu p50':>9} {'+cpu mean':>10} {'export cpu/span':>16} "
        f"{'wire B/span':>12}"
    )
    print(header)
    print("-" * len(header))
    receiver = Receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="agentel-e2e-") as directory:
            for name in only:
                if name == "postgres" and (why := _postgres_reachable(postgres_url)):
                    print(f"{LABELS[name]:<28} skipped: {postgres_url} unreachable ({why})")
                    continue
                r = measure_case(name, receiver, Path(directory), pairs, warmup, postgres_url)
                wire = f"{r['wire_bytes_per_span']:.0f}" if r["wire_bytes_per_span"] else "-"
                print(
                    f"{LABELS[name]:<28} {r['spans']:>6} {r['batches']:>7} "
                    f"{r['run_cpu_us']:>6.0f}us "
                    f"{r['wall_p50_us']:>8.0f}us {r['wall_p95_us']:>8.0f}us "
                    f"{r['cpu_p50_us']:>7.0f}us {r['cpu_mean_us']:>8.0f}us "
                    f"{r['export_cpu_per_span_us']:>14.1f}us {wire:>12}",
                    flush=True,
                )
    finally:
        receiver.close()


def _spans_with(resource: Any, runs: int) -> list[Any]:
    """The spans of ``runs`` scenario runs, made by a provider with ``resource``."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    agent = support_agents_on(ScenarioModel())

    async def play() -> None:
        for _ in range(runs):
            await Runner.run(agent, PROMPT, run_config=TRACED)

    try:
        asyncio.run(play())
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    return list(memory.get_finished_spans())


def resource_ab(rounds: int, batch: int = 512) -> None:
    """The OTLP exporter's CPU per span for the same spans made under the OTel SDK's own
    ``Resource`` and under the ``HashedOnceResource`` that ``setup()`` builds, one batch of
    each in turn (alternating which goes first), to the receiver process."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource

    from agentel.export.otlp import HashedOnceResource

    runs = -(-batch // SPANS_PER_RUN)
    sdk_resource = Resource.create({"service.name": "bench"})
    kinds = {
        "Resource": _spans_with(sdk_resource, runs)[:batch],
        "HashedOnceResource": _spans_with(HashedOnceResource.of(sdk_resource), runs)[:batch],
    }
    receiver = Receiver()
    try:
        exporter = OTLPSpanExporter(endpoint=receiver.url + "/v1/traces")
        cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
        for index in range(rounds):
            order = list(kinds) if index % 2 == 0 else list(reversed(kinds))
            for kind in order:
                started = time.thread_time()
                exporter.export(kinds[kind])
                cpu[kind].append((time.thread_time() - started) / batch * 1e6)
        received = receiver.counts()["spans"]
    finally:
        receiver.close()
    if received != rounds * batch * len(kinds):
        raise SystemExit(f"the receiver got {received} spans of {rounds * batch * len(kinds)}")
    for kind, values in cpu.items():
        print(
            f"OTLP export, spans under {kind:<18} {statistics.median(values):6.1f} us/span "
            f"of export-thread CPU (median of {rounds} batches of {batch})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=150, help="measured pairs per case")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--only", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL server to use")
    parser.add_argument(
        "--resource-ab",
        type=int,
        metavar="ROUNDS",
        help="instead: OTLP export CPU per span, the SDK's Resource vs HashedOnceResource",
    )
    args = parser.parse_args()
    if args.resource_ab:
        resource_ab(args.resource_ab)
        return
    run(args.pairs, args.warmup, args.only, args.postgres)


if __name__ == "__main__":
    main()
