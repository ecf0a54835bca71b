"""Trace store throughput and query latency, on SQLite and PostgreSQL.

Spans are the demo's (``agentel demo`` run offline through the real SDK and instrumentor,
content capture off as by default, or on with ``--content``), cloned with fresh ids and
varied workflow, model, conversation, duration and status so filters have something to
choose between. Writes go through ``StoreSpanExporter.export`` in batches of 512, the
BatchSpanProcessor's default; only the time inside ``export`` counts. Then, over everything
stored, the p95 latency of ``get_traces`` with three filters and of ``get_trace``.

    python benchmarks/store.py --db sqlite:////tmp/bench.db --spans 1000000
    python benchmarks/store.py --db 'postgresql://postgres@127.0.0.1/test?schema=agentel_bench'

The store named by ``--db`` is emptied first.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

from agentel import semconv
from agentel.store import open_store, resolve_url, sqlite_path
from agentel.store.exporter import StoreSpanExporter

WORKFLOWS = ["Customer support", "Refunds", "Research", "Onboarding", "Triage only"]
MODELS = ["gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "in-house-llm"]
HOUR_NS = 3600 * 10**9


def demo_spans(content: bool) -> list[ReadableSpan]:
    """One offline demo run, recorded in memory by the real instrumentor."""
    from agents import RunConfig, Runner

    import agentel
    from agentel.demo import USER_INPUT, WORKFLOW_NAME, _scripted_model, build_agents

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    agentel.instrument(tracer_provider=provider, capture_content=content)
    try:
        triage = build_agents(_scripted_model())
        config = RunConfig(workflow_name=WORKFLOW_NAME, group_id="bench")
        asyncio.run(Runner.run(triage, USER_INPUT, run_config=config))
    finally:
        agentel.uninstrument()
    return list(memory.get_finished_spans())


def _vary(attributes: dict, rng: random.Random, workflow: str, model: str, conv: str) -> dict:
    attributes = dict(attributes)
    if semconv.GEN_AI_WORKFLOW_NAME in attributes:
        attributes[semconv.GEN_AI_WORKFLOW_NAME] = workflow
    if semconv.GEN_AI_REQUEST_MODEL in attributes:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
    if semconv.GEN_AI_CONVERSATION_ID in attributes:
        attributes[semconv.GEN_AI_CONVERSATION_ID] = conv
    return attributes


def clone_trace(
    template: list[ReadableSpan], rng: random.Random, start_ns: int
) -> list[ReadableSpan]:
    """The template trace with new ids, a new start time and varied properties."""
    trace_id = rng.getrandbits(128)
    ids = {s.context.span_id: rng.getrandbits(64) for s in template}
    origin = min(s.start_time for s in template)
    stretch = rng.uniform(0.5, 400.0)  # real runs last seconds, the scripted one milliseconds
    workflow, model = rng.choice(WORKFLOWS), rng.choice(MODELS)
    conv = f"conv-{rng.randrange(5000)}"
    failed = rng.random() < 0.05
    spans = []
    for span in template:
        context = SpanContext(trace_id, ids[span.context.span_id], False, TraceFlags(1))
        parent = (
            None
            if span.parent is None
            else SpanContext(trace_id, ids[span.parent.span_id], False, TraceFlags(1))
        )
        start = start_ns + int((span.start_time - origin) * stretch)
        end = start_ns + int((span.end_time - origin) * stretch)
        error = failed and span.attributes.get(semconv.GEN_AI_TOOL_NAME) == "issue_refund"
        spans.append(
            ReadableSpan(
                span.name,
                context,
                parent,
                span.resource,
                # the container the SDK's own finished spans carry
                BoundedAttributes(
                    None, _vary(dict(span.attributes), rng, workflow, model, conv), immutable=True
                ),
                span.events,
                kind=span.kind,
                status=Status(StatusCode.ERROR, "refund failed") if error else span.status,
                start_time=start,
                end_time=end,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return spans


def batches(template: list[ReadableSpan], total: int, size: int) -> Iterator[list[ReadableSpan]]:
    """Batches of ``size`` spans of whole traces, arriving in time order over 30 days."""
    rng = random.Random(42)
    traces = total // len(template) + 1
    step = 30 * 24 * HOUR_NS // traces
    clock = time.time_ns() - 30 * 24 * HOUR_NS
    pending: list[ReadableSpan] = []
    produced = 0
    while produced < total:
        while len(pending) < size:
            clock += step
            pending.extend(clone_trace(template, rng, clock + rng.randrange(step)))
        batch, pending = pending[:size], pending[size:]
        produced += len(batch)
        yield batch


def empty_store(url: str) -> None:
    path = sqlite_path(resolve_url(url))
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    from agentel.store.postgres import split_schema

    conninfo, schema = split_schema(resolve_url(url))
    if schema is None:
        raise SystemExit("give PostgreSQL a ?schema=name to empty; the benchmark drops it")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def write(url: str, template: list[ReadableSpan], total: int, size: int) -> float:
    exporter = StoreSpanExporter(url)
    busy = 0.0
    written = 0
    for batch in batches(template, total, size):
        started = time.perf_counter()
        result = exporter.export(batch)
        busy += time.perf_counter() - started
        if result.name != "SUCCESS":
            raise SystemExit(f"export failed after {written} spans")
        written += len(batch)
    exporter.shutdown()
    return written / busy


def p95_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94] * 1000


def analyze(url: str) -> None:
    """Refresh planner statistics and the visibility map, as PostgreSQL's autovacuum does
    soon after a bulk load
    (SQLite's are refreshed by ``PRAGMA optimize`` when the exporter closes the store)."""
    if sqlite_path(resolve_url(url)) is not None:
        return
    import psycopg
    from psycopg import sql

    from agentel.store.postgres import split_schema

    conninfo, schema = split_schema(resolve_url(url))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("VACUUM ANALYZE traces, trace_names, trace_metadata, spans")


def query_latency(url: str, rounds: int) -> tuple[float, float, int, int]:
    rng = random.Random(7)
    analyze(url)
    with open_store(url) as store:
        traces_n, spans_n = store.counts()
        ids = [t.trace_id for t in store.get_traces(limit=5000, offset=rng.randrange(1000))]
        list_times, tree_times = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            store.get_traces(
                agent="Billing",
                model=rng.choice(MODELS),
                since=time.time_ns() - rng.choice([1, 3, 7, 30]) * 24 * HOUR_NS,
                limit=50,
            )
            list_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.get_trace(rng.choice(ids))
            tree_times.append(time.perf_counter() - started)
    return p95_ms(list_times), p95_ms(tree_times), traces_n, spans_n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="store URL; emptied first")
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=300, help="queries of each kind")
    parser.add_argument("--content", action="store_true", help="record message content too")
    args = parser.parse_args()

    template = demo_spans(args.content)
    sizes = [len(str(dict(s.attributes))) for s in template]
    print(f"demo trace: {len(template)} spans, attributes {min(sizes)}-{max(sizes)} chars")
    empty_store(args.db)
    rate = write(args.db, template, args.spans, args.batch)
    print(f"write: {rate:,.0f} spans/s ({args.spans:,} spans in batches of {args.batch})")
    list_p95, tree_p95, traces_n, spans_n = query_latency(args.db, args.rounds)
    print(f"store: {traces_n:,} traces, {spans_n:,} spans")
    print(f"get_traces(agent, model, since, limit=50) p95: {list_p95:.1f} ms")
    print(f"get_trace(trace_id) p95: {tree_p95:.1f} ms")


if __name__ == "__main__":
    main()
