"""The spool file and its codec: spans come back as they went in, batches come out oldest
first, a batch being sent is not sent twice, and a lease left by a dead process is taken
over."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags

from agentel.export import spool_codec
from agentel.export.spool import Spool


def _spans() -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("scope", "1.2", schema_url="https://opentelemetry.io/schemas/1")
    remote = SpanContext(0xABC, 0xDEF, True, TraceFlags(1))
    context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    link = Link(SpanContext(0x1, 0x2, False, TraceFlags(1)), {"why": "retry"})
    with tracer.start_as_current_span(
        "chat gpt-4o",
        context=context,
        kind=trace.SpanKind.CLIENT,
        links=[link],
        attributes={"s": "x", "i": 7, "f": 0.5, "b": True, "seq": ("a", "b"), "ints": (1, 2)},
    ) as span:
        span.add_event("exception", {"exception.message": "boom"})
        span.set_status(Status(StatusCode.ERROR, "failed"))
    return list(memory.get_finished_spans())


def test_spans_round_trip_through_the_codec() -> None:
    (original,) = _spans()
    (copy,) = spool_codec.decode(spool_codec.encode([original]))
    assert copy.name == original.name and copy.kind == original.kind
    assert copy.context.trace_id == original.context.trace_id
    assert copy.context.span_id == original.context.span_id
    assert copy.parent.span_id == 0xDEF and copy.parent.is_remote
    assert dict(copy.attributes) == dict(original.attributes)
    assert (copy.start_time, copy.end_time) == (original.start_time, original.end_time)
    assert [(e.name, dict(e.attributes), e.timestamp) for e in copy.events] == [
        (e.name, dict(e.attributes), e.timestamp) for e in original.events
    ]
    assert copy.links[0].context.span_id == 0x2 and dict(copy.links[0].attributes) == {
        "why": "retry"
    }
    assert (copy.status.status_code, copy.status.description) == (StatusCode.ERROR, "failed")
    assert dict(copy.resource.attributes) == dict(original.resource.attributes)
    scope = copy.instrumentation_scope
    assert (scope.name, scope.version, scope.schema_url) == (
        "scope",
        "1.2",
        "https://opentelemetry.io/schemas/1",
    )


def test_batches_come_out_oldest_first_and_a_leased_one_is_not_handed_out_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    one, two = Spool(path, "otlp", "dest", 1 << 20), Spool(path, "otlp", "dest", 1 << 20)
    for index in range(3):
        one.put(bytes([index]) * 10, index + 1)
    first = one.claim(60)
    assert first is not None and first.spans == 1
    second = two.claim(60)  # another sender (a live one) gets the next batch, not the first
    assert second is not None and second.spans == 2
    two.release(second)
    one.done(first)
    assert [two.claim(60).spans for _ in range(2)] == [2, 3]  # type: ignore[union-attr]
    assert two.claim(60) is None
    one.close()
    two.close()


def test_a_lease_left_by_a_dead_process_or_a_closed_spool_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    spool = Spool(path, "otlp", "dest", 1 << 20)
    spool.put(b"x" * 10, 5)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True).stdout.strip()  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE batches SET lease_until = 1e12, lease_pid = ?", (int(dead),))
    assert spool.claim(60) is not None  # the pid is gone
    other = Spool(path, "otlp", "dest", 1 << 20)
    assert other.claim(60) is None  # leased by a live spool of this process
    spool.close()  # gives its leases back
    assert other.claim(60) is not None
    with sqlite3.connect(path) as conn:  # an earlier process that had this pid (a container)
        conn.execute(
            "UPDATE batches SET lease_until = 1e12, lease_pid = ?, lease_owner = 'earlier'",
            (os.getpid(),),
        )
    assert other.claim(60) is not None
    other.close()


def test_the_size_cap_drops_the_oldest_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", "otlp", "dest", 250)
    assert spool.put(b"a" * 100, 1) == []
    assert spool.put(b"b" * 100, 2) == []
    assert spool.put(b"c" * 100, 3) == [(spool.origin, 1)]
    assert spool.put(b"d" * 300, 4) == [(spool.origin, 4)]  # alone over the cap: not kept
    assert spool.summary().spans == 2 + 3
    spool.close()
