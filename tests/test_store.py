"""The trace store's query API, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agentel.store import TraceStore, open_store
from store_support import BASE_NS, MS, TraceBuilder, store_url, support_run  # noqa: F401

SUPPORT_COST = 0.0035 + 0.000345  # gpt-4o 1000/100 + gpt-4o-mini 2000 (1000 cached)/200


@pytest.fixture
def store(store_url: str):  # noqa: F811
    with open_store(store_url) as opened:
        yield opened


def _ids(traces) -> list[str]:
    return [t.trace_id for t in traces]


def test_a_run_becomes_one_trace_row_with_its_aggregates(store: TraceStore) -> None:
    run = support_run(seed=1, conversation_id="conv-1", metadata={"user": "alice"})
    store.write_spans(run.spans)

    [trace] = store.get_traces()
    assert trace.trace_id == run.trace_hex
    assert trace.name == "invoke_workflow Support"
    assert trace.workflow == "Support"
    assert trace.status == "ok"
    assert trace.complete
    assert trace.start_ns == BASE_NS
    assert trace.duration_ms == pytest.approx(800)
    assert trace.conversation_id == "conv-1"
    assert trace.root_agent == "Triage"
    assert (trace.span_count, trace.error_count) == (8, 0)
    # model calls only: the workflow and agent spans would count the same tokens twice
    assert (trace.input_tokens, trace.output_tokens) == (3000, 300)
    assert trace.cost_usd == pytest.approx(SUPPORT_COST)
    assert trace.service == "store-tests"
    assert trace.metadata == {"user": "alice"}


def test_get_trace_returns_the_tree(store: TraceStore) -> None:
    run = support_run(seed=2)
    store.write_spans(run.spans)

    tree = store.get_trace(run.trace_hex[:8])  # a unique prefix is enough
    assert tree is not None and tree.summary.trace_id == run.trace_hex
    [root] = tree.roots
    assert root.name == "invoke_workflow Support"
    assert [a.name for a in root.children] == ["invoke_agent Triage", "invoke_agent Billing"]
    triage, billing = root.children
    assert [c.name for c in triage.children] == [
        "chat gpt-4o",
        "execute_tool lookup_order",
        "execute_tool transfer_to_billing",
    ]
    assert [c.name for c in billing.children] == ["chat gpt-4o-mini", "execute_tool issue_refund"]
    chat = billing.children[0]
    assert (chat.kind, chat.model, chat.input_tokens, chat.cached_tokens) == (
        "CLIENT",
        "gpt-4o-mini",
        2000,
        1000,
    )
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert chat.resource["service.name"] == "store-tests"
    assert triage.subtree_cost() == pytest.approx(0.0035)
    assert store.get_trace("f" * 32) is None


def test_a_failed_span_is_counted_and_a_failed_run_marks_the_trace(store: TraceStore) -> None:
    """One meaning of error: the trace's status is the run's outcome (its root span); a tool
    error the run recovered from is a failed span, counted, and found with has_errors."""
    run = TraceBuilder(seed=3)
    agent = run.agent("Triage")
    run.tool(agent, "lookup_order", "Triage", error="builtins.KeyError")
    run.finish()
    store.write_spans(run.spans)
    failed_run = TraceBuilder(seed=4, start_ns=BASE_NS + 10 * MS)
    failed_run.agent("Triage", error="agents.exceptions.MaxTurnsExceeded")
    failed_run.finish(error="agents.exceptions.MaxTurnsExceeded")
    store.write_spans(failed_run.spans[:-1])  # before the root arrives: not failed yet
    assert [t.status for t in store.get_traces(status="error")] == []
    store.write_spans(failed_run.spans[-1:])

    recovered = store.get_traces(status="ok")
    assert [(t.trace_id, t.status, t.error_count) for t in recovered] == [(run.trace_hex, "ok", 1)]
    [failed] = store.get_traces(status="error")
    assert (failed.trace_id, failed.error_count) == (failed_run.trace_hex, 2)
    with_errors = store.get_traces(has_errors=True)
    assert {t.trace_id for t in with_errors} == {run.trace_hex, failed_run.trace_hex}
    assert store.count_traces(has_errors=False) == 0
    [tool] = store.get_spans(status="error", tool="lookup_order")
    assert tool.error_type == "builtins.KeyError"
    assert tool.status_message == "builtins.KeyError happened"
    assert tool.events[0]["name"] == "exception"


def _fixture_traces(store: TraceStore) -> dict[str, str]:
    """Six traces that differ in one property each; returns name -> trace id."""
    hour = 3600 * 1000 * MS
    runs = {
        "old": support_run(seed=10, start_ns=BASE_NS - 48 * hour, workflow="Nightly"),
        "support": support_run(seed=11, conversation_id="conv-a", metadata={"user": "alice"}),
        "failed": TraceBuilder(seed=12, start_ns=BASE_NS + hour),
        "slow": TraceBuilder(seed=13, start_ns=BASE_NS + 2 * hour, conversation_id="conv-a"),
        "claude": TraceBuilder(seed=14, start_ns=BASE_NS + 3 * hour, metadata={"user": "bob"}),
        "big": TraceBuilder(seed=15, start_ns=BASE_NS + 4 * hour),
    }
    failed = runs["failed"]
    failed.tool(failed.agent("Research"), "web_search", "Research", error="TimeoutError")
    failed.finish(duration_ms=50, error="TimeoutError")
    slow = runs["slow"]
    slow.chat(slow.agent("Research"), "gpt-4.1", 10, 1)
    slow.finish(duration_ms=30_000)
    claude = runs["claude"]
    claude.chat(claude.agent("Writer"), "claude-sonnet-4-20250514", 100, 10)
    claude.finish(duration_ms=200)
    big = runs["big"]
    big.chat(big.agent("Writer"), "gpt-4.1", 50_000, 5_000)
    big.finish(duration_ms=300)
    for run in runs.values():
        store.write_spans(run.spans)
    return {name: run.trace_hex for name, run in runs.items()}


def test_every_trace_filter(store: TraceStore) -> None:
    ids = _fixture_traces(store)
    hour = timedelta(hours=1)
    base = datetime.fromtimestamp(BASE_NS / 1e9, tz=timezone.utc)

    def names(**filters) -> list[str]:
        by_id = {v: k for k, v in ids.items()}
        return [by_id[t] for t in _ids(store.get_traces(**filters))]

    assert names() == ["big", "claude", "slow", "failed", "support", "old"]  # newest first
    assert names(since=base) == ["big", "claude", "slow", "failed", "support"]
    assert names(since=base + hour, until=base + 3 * hour) == ["slow", "failed"]
    assert names(since=BASE_NS + 3 * 3600 * 10**9) == ["big", "claude"]  # ns since the epoch
    assert names(status="error") == ["failed"]
    assert names(status="ok", since=base) == ["big", "claude", "slow", "support"]
    assert names(workflow="Nightly") == ["old"]
    assert names(agent="Research") == ["slow", "failed"]
    assert names(agent="Billing") == ["support", "old"]
    assert names(model="gpt-4.1") == ["big", "slow"]
    assert names(model="claude-sonnet-4-20250514") == ["claude"]
    assert names(tool="web_search") == ["failed"]
    assert names(tool="transfer_to_billing") == ["support", "old"]
    assert names(conversation_id="conv-a") == ["slow", "support"]
    assert names(min_duration_ms=1000) == ["slow"]
    assert names(max_duration_ms=200) == ["claude", "failed"]
    assert names(min_tokens=3300) == ["big", "support", "old"]
    assert names(min_cost=0.1) == ["big"]  # gpt-4.1: 50k in + 5k out = $0.14
    assert names(metadata=("user", "alice")) == ["support"]
    assert names(metadata=("user", "carol")) == []
    assert names(agent="Writer", min_tokens=1000, since=base) == ["big"]
    assert names(limit=2) == ["big", "claude"]
    assert names(limit=2, offset=2) == ["slow", "failed"]


def test_get_spans_filters(store: TraceStore) -> None:
    ids = _fixture_traces(store)
    chats = store.get_spans(operation="chat", since=BASE_NS)
    assert [s.model for s in chats] == [
        "gpt-4.1",
        "claude-sonnet-4-20250514",
        "gpt-4.1",
        "gpt-4o-mini",
        "gpt-4o",
    ]
    assert {s.trace_id for s in store.get_spans(trace_id=ids["support"])} == {ids["support"]}
    assert len(store.get_spans(trace_id=ids["support"])) == 8
    assert [s.tool for s in store.get_spans(tool="issue_refund")] == ["issue_refund"] * 2
    assert [s.name for s in store.get_spans(agent="Research", operation="invoke_agent")] == [
        "invoke_agent Research"
    ] * 2
    assert [s.model for s in store.get_spans(model="gpt-4.1", min_duration_ms=10)] == [
        "gpt-4.1"
    ] * 2
    assert len(store.get_spans(limit=3)) == 3


def test_stats_by_each_grouping(store: TraceStore) -> None:
    _fixture_traces(store)
    by_model = {row.key: row for row in store.stats("model")}
    assert by_model["gpt-4.1"].runs == 2
    assert (by_model["gpt-4.1"].input_tokens, by_model["gpt-4.1"].output_tokens) == (50_010, 5_001)
    assert by_model["gpt-4o"].cost_usd == pytest.approx(0.0035 * 2)
    assert by_model["claude-sonnet-4-20250514"].cost_usd == pytest.approx((300 + 150) / 1e6)

    by_agent = {row.key: row for row in store.stats("agent")}
    assert by_agent["Research"].runs == 2
    assert by_agent["Research"].errors == 0  # the tool failed, not the agent
    assert by_agent["Triage"].input_tokens == 2000
    assert by_agent["Triage"].cost_usd == pytest.approx(0.007)

    by_tool = {row.key: row for row in store.stats("tool")}
    assert (by_tool["web_search"].runs, by_tool["web_search"].error_rate) == (1, 1.0)

    by_workflow = {row.key: row for row in store.stats("workflow", since=BASE_NS)}
    support = by_workflow["Support"]
    assert support.runs == 5
    assert support.errors == 1
    assert support.p50_ms == pytest.approx(300)
    assert support.p95_ms == pytest.approx(30_000 - 0.2 * (30_000 - 800))  # interpolated
    assert "Nightly" not in by_workflow

    by_conversation = {row.key: row for row in store.stats("conversation")}
    assert by_conversation["conv-a"].runs == 2
    with pytest.raises(ValueError, match="group_by"):
        store.stats("planet")  # type: ignore[arg-type]


def test_prune_deletes_old_traces_with_everything_in_them(store: TraceStore) -> None:
    ids = _fixture_traces(store)
    deleted = store.prune(older_than=BASE_NS - 3600 * 10**9)
    assert deleted == 1
    assert ids["old"] not in _ids(store.get_traces())
    assert store.get_spans(trace_id=ids["old"]) == []
    assert store.get_traces(workflow="Nightly") == []
    assert store.counts() == (5, 8 + 3 + 3 + 3 + 3)
    assert store.prune(older_than=timedelta(days=365 * 1000)) == 0


def test_trace_split_over_batches_adds_up(store: TraceStore) -> None:
    run = support_run(seed=20)
    first, second, root = run.spans[:3], run.spans[3:-1], run.spans[-1:]
    store.write_spans(first)
    [partial] = store.get_traces()
    assert not partial.complete and partial.span_count == 3
    store.write_spans(second)
    store.write_spans(root)
    [trace] = store.get_traces()
    assert trace.complete
    assert (trace.span_count, trace.input_tokens, trace.output_tokens) == (8, 3000, 300)
    assert trace.cost_usd == pytest.approx(SUPPORT_COST)
    assert trace.name == "invoke_workflow Support"
    assert trace.duration_ms == pytest.approx(800)


def test_re_export_is_harmless(store: TraceStore) -> None:
    run = support_run(seed=21, metadata={"user": "alice"})
    store.write_spans(run.spans)
    before = store.get_traces()
    store.write_spans(run.spans)
    store.write_spans(run.spans[2:5])
    after = store.get_traces()
    assert store.counts() == (1, 8)
    assert [(t.span_count, t.input_tokens, t.cost_usd, t.metadata) for t in after] == [
        (t.span_count, t.input_tokens, t.cost_usd, t.metadata) for t in before
    ]


def test_cost_of_known_and_unknown_models(store: TraceStore, tmp_path, monkeypatch) -> None:
    run = TraceBuilder(seed=30)
    agent = run.agent("Writer")
    run.chat(agent, "gpt-4o-2024-08-06", 1_000_000, 100_000, cached_tokens=400_000)
    run.finish()
    store.write_spans(run.spans)
    [known] = store.get_traces()
    # 600k fresh * $2.50 + 400k cached * $1.25 + 100k out * $10 per 1M tokens
    assert known.cost_usd == pytest.approx(1.5 + 0.5 + 1.0)

    mystery = TraceBuilder(seed=31, start_ns=BASE_NS + MS)
    agent = mystery.agent("Writer")
    mystery.chat(agent, "gpt-4o", 1000, 100)
    mystery.chat(agent, "acme-llm-7b", 1000, 100)
    mystery.finish()
    store.write_spans(mystery.spans)
    trace = store.get_traces(limit=1)[0]
    assert trace.trace_id == mystery.trace_hex
    assert trace.cost_usd is None  # one call has no price: a partial sum would be wrong
    unknown = store.get_spans(model="acme-llm-7b")[0]
    assert unknown.cost_usd is None
    assert store.get_spans(model="gpt-4o")[0].cost_usd == pytest.approx(0.0035)


def test_a_trace_marked_error_stays_error_when_a_later_batch_has_none(store: TraceStore) -> None:
    """A failed run's spans, then a late span of the same trace with no error (a span that
    ended after the run, or one exported by another process): the trace stays failed."""
    run = TraceBuilder(seed=50)
    agent = run.agent("Triage", error="agents.exceptions.MaxTurnsExceeded")
    run.chat(agent, "gpt-4o", 100, 10)
    run.finish(error="agents.exceptions.MaxTurnsExceeded")
    late = TraceBuilder(seed=51)  # a span of the same trace, under the same agent
    late.trace_id, late.root = run.trace_id, run.root
    late.tool(agent, "lookup_order", "Triage")
    store.write_spans(run.spans)
    assert [(t.status, t.error_count) for t in store.get_traces()] == [("error", 2)]
    store.write_spans(late.spans)
    [trace] = store.get_traces()
    assert (trace.status, trace.error_count, trace.span_count) == ("error", 2, 4)
    assert [t.trace_id for t in store.get_traces(status="error")] == [run.trace_hex]
    assert store.get_traces(status="ok") == []


# Values a user may well type: quotes, SQL, and LIKE wildcards, all meant literally.
QUOTED = "Bob's desk"
INJECTION = "x' OR '1'='1"
WILDCARDS = ("%", "_", "Bob%", "Bob_s desk")


def test_filters_match_quoted_values_exactly_and_injection_matches_nothing(
    store: TraceStore,
) -> None:
    quoted = TraceBuilder(workflow=QUOTED, seed=60, conversation_id=QUOTED)
    quoted.metadata = {QUOTED: QUOTED}
    agent = quoted.agent(QUOTED)
    quoted.chat(agent, QUOTED, 10, 1)
    quoted.tool(agent, QUOTED, QUOTED)
    quoted.finish()
    plain = TraceBuilder(workflow="Bob", seed=61, conversation_id="Bob", start_ns=BASE_NS + MS)
    plain.metadata = {"Bob": "Bob"}
    agent = plain.agent("Bob")
    plain.chat(agent, "Bob", 10, 1)
    plain.tool(agent, "Bob", "Bob")
    plain.finish()
    store.write_spans(quoted.spans + plain.spans)

    trace_filters = ("workflow", "agent", "model", "tool", "conversation_id")
    for name in trace_filters:
        assert _ids(store.get_traces(**{name: QUOTED})) == [quoted.trace_hex], name
        assert _ids(store.get_traces(**{name: "Bob"})) == [plain.trace_hex], name
        for value in (INJECTION, *WILDCARDS):
            assert store.get_traces(**{name: value}) == [], (name, value)
    assert _ids(store.get_traces(metadata=(QUOTED, QUOTED))) == [quoted.trace_hex]
    for pair in ((QUOTED, INJECTION), (INJECTION, QUOTED), ("%", "%"), (INJECTION, INJECTION)):
        assert store.get_traces(metadata=pair) == [], pair
    assert store.get_traces(status=INJECTION) == []

    for name in ("agent", "model", "tool"):
        spans = store.get_spans(**{name: QUOTED})
        assert spans and {(s.trace_id, getattr(s, name)) for s in spans} == {
            (quoted.trace_hex, QUOTED)
        }
        for value in (INJECTION, *WILDCARDS):
            assert store.get_spans(**{name: value}) == [], (name, value)
    for name in ("operation", "status", "trace_id"):
        for value in (INJECTION, *WILDCARDS):
            assert store.get_spans(**{name: value}) == [], (name, value)
    for prefix in (INJECTION, "%", "_"):
        assert store.get_trace(prefix) is None
    assert store.counts() == (2, 8)  # nothing was changed by any of it


def test_the_latest_trace_is_the_newest_of_several(store: TraceStore) -> None:
    hour = 3600 * 1000 * MS
    middle = support_run(seed=70, start_ns=BASE_NS)
    newest = support_run(seed=71, start_ns=BASE_NS + hour)
    oldest = support_run(seed=72, start_ns=BASE_NS - hour)
    for run in (middle, newest, oldest):  # the newest is not the last one written
        store.write_spans(run.spans)
    assert store.latest_trace_id() == newest.trace_hex
    tree = store.get_trace(store.latest_trace_id() or "")
    assert tree is not None and tree.summary.start_ns == BASE_NS + hour
