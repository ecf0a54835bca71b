"""Helpers for the trace store tests: spans shaped like the instrumentor's, and store URLs.

``store_url`` runs a test once against a SQLite file and once against a private schema of
the PostgreSQL server named by ``AGENTEL_TEST_POSTGRES_URL`` (skipped, with the reason,
when that is unset or unreachable; failed instead when unreachable in CI).
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agentel import semconv

ENV_TEST_POSTGRES = "AGENTEL_TEST_POSTGRES_URL"
MS = 1_000_000
BASE_NS = 1_750_000_000 * 1_000_000_000  # 2025-06-15, a fixed instant: tests filter on time
RESOURCE = Resource.create({"service.name": "store-tests"})


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


@lru_cache(maxsize=1)
def postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    url = os.environ.get(ENV_TEST_POSTGRES)
    if not url:
        return f"{ENV_TEST_POSTGRES} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        reason = " ".join(str(exc).split())  # one line: psycopg adds a hint on its own line
        return f"PostgreSQL at {_masked(url)} is unreachable: {reason}"
    return None


def in_ci() -> bool:
    """CI services set ``CI`` (``.ci/run`` does too)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def postgres_url() -> str:
    """A URL for a fresh private schema. Without a server the test is skipped, except in CI
    with ``AGENTEL_TEST_POSTGRES_URL`` set: there it fails, so a server that is down cannot
    turn the PostgreSQL tests into skips while the run stays green."""
    problem = postgres_problem()
    if problem:
        if in_ci() and os.environ.get(ENV_TEST_POSTGRES):
            pytest.fail(
                f"{problem}; in CI ({ENV_TEST_POSTGRES} and CI set) the PostgreSQL tests must "
                f"run: start the server, or unset {ENV_TEST_POSTGRES} to skip them",
                pytrace=False,
            )
        pytest.skip(problem)
    schema = f"agentel_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    return f"{os.environ[ENV_TEST_POSTGRES]}?schema={schema}"


def drop_schema(url: str) -> None:
    import psycopg
    from psycopg import sql

    from agentel.store.postgres import split_schema

    conninfo, schema = split_schema(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'traces.db'}"
        return
    url = postgres_url()
    try:
        yield url
    finally:
        drop_schema(url)


# --- spans -----------------------------------------------------------------------------------


def _context(trace_id: int, span_id: int) -> SpanContext:
    return SpanContext(trace_id, span_id, False, TraceFlags(TraceFlags.SAMPLED))


@dataclass
class TraceBuilder:
    """Builds the spans of one agent run: workflow > agents > chat / tool spans.

    Every span ends up in ``spans``; ids come from ``seed`` so two processes can build the
    very same trace.
    """

    workflow: str = "Support"
    start_ns: int = BASE_NS
    conversation_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    spans: list[ReadableSpan] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.trace_id = self._random.getrandbits(128)
        self.root = _context(self.trace_id, self._random.getrandbits(64))
        self._cursor = self.start_ns

    @property
    def trace_hex(self) -> str:
        return format(self.trace_id, "032x")

    def _span(
        self,
        name: str,
        parent: SpanContext | None,
        attributes: dict[str, Any],
        duration_ms: float,
        *,
        error: str | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        context: SpanContext | None = None,
        start_ns: int | None = None,
    ) -> SpanContext:
        context = context or _context(self.trace_id, self._random.getrandbits(64))
        start = self._cursor if start_ns is None else start_ns
        events: list[Event] = []
        status = Status(StatusCode.UNSET)
        if error:
            attributes = {**attributes, semconv.ERROR_TYPE: error}
            status = Status(StatusCode.ERROR, f"{error} happened")
            events = [Event("exception", {"exception.type": error}, start + MS)]
        self.spans.append(
            ReadableSpan(
                name,
                context,
                parent,
                RESOURCE,
                attributes,
                events,
                kind=kind,
                status=status,
                start_time=start,
                end_time=start + int(duration_ms * MS),
            )
        )
        self._cursor = start + MS
        return context

    def agent(self, name: str, duration_ms: float = 100, error: str | None = None) -> SpanContext:
        attributes = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_AGENT,
            semconv.GEN_AI_AGENT_NAME: name,
            semconv.GEN_AI_PROVIDER_NAME: semconv.PROVIDER_OPENAI,
        }
        return self._span(f"invoke_agent {name}", self.root, attributes, duration_ms, error=error)

    def chat(
        self,
        parent: SpanContext,
        model: str = "gpt-4o",
        input_tokens: int = 100,
        output_tokens: int = 10,
        cached_tokens: int | None = None,
        duration_ms: float = 20,
        error: str | None = None,
    ) -> SpanContext:
        attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
            semconv.GEN_AI_REQUEST_MODEL: model,
            semconv.GEN_AI_RESPONSE_MODEL: model,
            semconv.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        }
        if cached_tokens is not None:
            attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached_tokens
        return self._span(
            f"chat {model}", parent, attributes, duration_ms, error=error, kind=SpanKind.CLIENT
        )

    def tool(
        self,
        parent: SpanContext,
        name: str,
        agent: str,
        duration_ms: float = 5,
        error: str | None = None,
        handoff: bool = False,
    ) -> SpanContext:
        attributes = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
            semconv.GEN_AI_TOOL_NAME: name,
            semconv.GEN_AI_AGENT_NAME: agent,
            semconv.GEN_AI_TOOL_TYPE: (
                semconv.TOOL_TYPE_HANDOFF if handoff else semconv.TOOL_TYPE_FUNCTION
            ),
        }
        return self._span(f"execute_tool {name}", parent, attributes, duration_ms, error=error)

    def finish(self, duration_ms: float = 1000, error: str | None = None) -> list[ReadableSpan]:
        """Add the workflow (root) span, as the instrumentation does when the run ends."""
        attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_WORKFLOW,
            semconv.GEN_AI_WORKFLOW_NAME: self.workflow,
        }
        if self.conversation_id:
            attributes[semconv.GEN_AI_CONVERSATION_ID] = self.conversation_id
        for key, value in self.metadata.items():
            attributes[semconv.AGENTEL_METADATA_PREFIX + key] = value
        self._span(
            f"invoke_workflow {self.workflow}",
            None,
            attributes,
            duration_ms,
            error=error,
            context=self.root,
            start_ns=self.start_ns,
        )
        return self.spans


def support_run(seed: int | None = None, **kwargs: Any) -> TraceBuilder:
    """The demo's shape: triage looks an order up and hands off; billing refunds."""
    run = TraceBuilder(seed=seed, **kwargs)
    triage = run.agent("Triage", duration_ms=300)
    run.chat(triage, "gpt-4o", 1000, 100)
    run.tool(triage, "lookup_order", "Triage")
    run.tool(triage, "transfer_to_billing", "Triage", handoff=True)
    billing = run.agent("Billing", duration_ms=400)
    run.chat(billing, "gpt-4o-mini", 2000, 200, cached_tokens=1000)
    run.tool(billing, "issue_refund", "Billing")
    run.finish(duration_ms=800)
    return run


def write_runs(
    url: str, seeds: list[int], half: str = "all", spans_per_batch: int = 8, start_at: float = 0
) -> None:
    """Write the support runs of ``seeds`` through the exporter (used by writer processes).

    ``half`` = ``even`` or ``odd`` writes every other span of each run, so two processes
    together deliver each trace; batches mix spans of several traces. Writing starts at the
    wall-clock time ``start_at``, so processes started one after another write at once.
    """
    import time

    from agentel.store.exporter import StoreSpanExporter

    spans: list[ReadableSpan] = []
    for seed in seeds:
        run = support_run(seed=seed, start_ns=BASE_NS + seed * MS)
        start = {"all": 0, "even": 0, "odd": 1}[half]
        spans.extend(run.spans[start :: 1 if half == "all" else 2])
    exporter = StoreSpanExporter(url)
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(0, len(spans), spans_per_batch):
        result = exporter.export(spans[i : i + spans_per_batch])
        if result.name != "SUCCESS":
            raise SystemExit(f"batch {i} failed")
    exporter.shutdown()
