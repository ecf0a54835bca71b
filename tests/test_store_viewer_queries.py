"""The query API the viewer reads through, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from agentel.store import TraceStore, open_store
from store_support import BASE_NS, TraceBuilder, store_url, support_run  # noqa: F401

HOUR_NS = 3600 * 10**9


@pytest.fixture
def store(store_url: str):  # noqa: F811
    with open_store(store_url) as opened:
        yield opened


def test_get_span_finds_one_span_of_a_trace(store: TraceStore) -> None:
    run = support_run(seed=21)
    store.write_spans(run.spans)
    tree = store.get_trace(run.trace_hex)
    assert tree is not None
    tool = next(s for s in tree.spans if s.tool == "issue_refund")
    found = store.get_span(run.trace_hex, tool.span_id.upper())
    assert found is not None
    assert (found.name, found.parent_span_id, found.attributes) == (
        "execute_tool issue_refund",
        tool.parent_span_id,
        tool.attributes,
    )
    assert store.get_span(run.trace_hex, "0" * 16) is None
    assert store.get_span("f" * 32, tool.span_id) is None


def test_trace_agents_in_the_order_they_ran(store: TraceStore) -> None:
    first, second = support_run(seed=22), TraceBuilder(seed=23, start_ns=BASE_NS + HOUR_NS)
    solo = second.agent("Solo")
    second.chat(solo)
    second.finish()
    store.write_spans([*first.spans, *second.spans])
    assert store.trace_agents([first.trace_hex, second.trace_hex, "e" * 32]) == {
        first.trace_hex: ["Triage", "Billing"],
        second.trace_hex: ["Solo"],
        "e" * 32: [],
    }
    assert store.trace_agents([]) == {}


def test_names_of_each_kind(store: TraceStore) -> None:
    store.write_spans(support_run(seed=24, workflow="Refunds").spans)
    store.write_spans(support_run(seed=25, workflow="Support").spans)
    assert store.names("workflow") == ["Refunds", "Support"]
    assert store.names("agent") == ["Billing", "Triage"]
    assert store.names("model") == ["gpt-4o", "gpt-4o-mini"]
    assert store.names("tool") == ["issue_refund", "lookup_order", "transfer_to_billing"]
    with pytest.raises(ValueError, match="kind='span' is not one of"):
        store.names("span")


def test_timeline_buckets_runs_over_time(store: TraceStore) -> None:
    for hour, duration, error in [(0, 100, None), (0, 300, "Boom"), (2, 500, None)]:
        run = TraceBuilder(seed=30 + hour * 10 + duration, start_ns=BASE_NS + hour * HOUR_NS)
        agent = run.agent("A", error=error)
        run.chat(agent, input_tokens=10, output_tokens=1)
        store.write_spans(run.finish(duration_ms=duration, error=error))  # the run failed
    rows = store.timeline(BASE_NS, until=BASE_NS + 4 * HOUR_NS, buckets=4)
    assert [r.start_ns for r in rows] == [BASE_NS + i * HOUR_NS for i in range(4)]
    assert [r.runs for r in rows] == [2, 0, 1, 0]
    assert [r.errors for r in rows] == [1, 0, 0, 0]
    assert rows[0].error_rate == 0.5
    assert rows[0].p50_ms == pytest.approx(200) and rows[0].p95_ms == pytest.approx(290)
    assert rows[2].p95_ms == pytest.approx(500)
    assert [r.input_tokens for r in rows] == [20, 0, 10, 0]
    assert rows[0].cost_usd == pytest.approx(2 * (10 * 2.5 + 1 * 10) / 1e6)
    # only [since, until): a run an hour before is left out
    assert sum(r.runs for r in store.timeline(BASE_NS + HOUR_NS, BASE_NS + 3 * HOUR_NS, 2)) == 1


def test_get_summary_reads_the_trace_row_alone(store: TraceStore) -> None:
    run = support_run(seed=26, metadata={"user": "bob"})
    store.write_spans(run.spans)
    summary = store.get_summary(run.trace_hex[:10])
    assert summary is not None
    assert (summary.trace_id, summary.span_count, summary.metadata) == (
        run.trace_hex,
        8,
        {"user": "bob"},
    )
    assert summary.start_ns == min(s.start_time for s in run.spans)
    assert store.get_summary("f" * 32) is None


def test_stats_of_a_recent_period_in_a_larger_store(store: TraceStore) -> None:
    """A period holding few of the traces is read through them; the figures are the same."""
    for seed in range(8):
        store.write_spans(support_run(seed=40 + seed, start_ns=BASE_NS + seed * 10**6).spans)
    recent = support_run(seed=50, start_ns=time.time_ns() - 60 * 10**9)
    store.write_spans(recent.spans)
    last_hour = timedelta(hours=1)
    agents = {row.key: row for row in store.stats("agent", since=last_hour)}
    assert sorted(agents) == ["Billing", "Triage"]
    assert (agents["Triage"].runs, agents["Triage"].input_tokens) == (1, 1000)
    assert (agents["Billing"].runs, agents["Billing"].input_tokens) == (1, 2000)
    models = {row.key: row.runs for row in store.stats("model", since=last_hour)}
    assert models == {"gpt-4o": 1, "gpt-4o-mini": 1}
    tools = {row.key: row.runs for row in store.stats("tool", since=last_hour)}
    assert tools == {"lookup_order": 1, "transfer_to_billing": 1, "issue_refund": 1}
    everything = {row.key: row.runs for row in store.stats("tool")}
    assert everything["lookup_order"] == 9
