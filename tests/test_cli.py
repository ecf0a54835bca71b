"""The ``agentel`` command, run as a user runs it: a subprocess on a real database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentel import semconv
from agentel.store import SCHEMA_VERSION, open_store
from otlp_receiver import OTLPReceiver
from store_support import BASE_NS, drop_schema, postgres_url, support_run

_SCRIPT = Path(sys.executable).with_name("agentel")
AGENTEL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agentel.cli"]


def _env(db: Path | str | None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AGENTEL_", "OTEL_", "CELESTO_")) and k != "OPENAI_API_KEY"
    }
    if db is not None:
        env["AGENTEL_DB"] = str(db)
    return {**env, **extra}


def agentel(*args: str, db: Path | str | None, ok: bool = True, **env: str):
    result = subprocess.run(
        [*AGENTEL, *args], env=_env(db, **env), capture_output=True, text=True, timeout=120
    )
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One offline demo run, recorded in a fresh SQLite file; yields (file, output)."""
    db = tmp_path_factory.mktemp("cli") / "agentel.db"
    result = agentel("demo", db=db)
    yield db, result.stdout


def test_demo_runs_offline_and_prints_its_tree(demo_db: tuple[Path, str]) -> None:
    _, out = demo_db
    assert "OFFLINE with a scripted model" in out
    assert "OPENAI_API_KEY is not set" in out
    assert "Final answer: I'm sorry your order arrived broken." in out
    for line in [
        "invoke_workflow Customer support",
        "├─ invoke_agent Triage",
        "│  ├─ apply_guardrail no_card_numbers",
        "│  ├─ execute_tool lookup_order",
        "│  └─ execute_tool transfer_to_billing (handoff)",
        "└─ invoke_agent Billing",
        "   ├─ execute_tool issue_refund",
    ]:
        assert line in out
    assert "tokens 1,004 in / 104 out" in out
    assert "See it in the browser: run `agentel ui` and open http://127.0.0.1:8320/trace/" in out
    assert "\x1b[" not in out  # no colour codes when piped


def test_demo_trace_is_in_the_store_as_a_tree(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    with open_store(str(db)) as store:
        tree = store.get_trace(store.latest_trace_id())
    assert tree is not None
    [workflow] = tree.roots
    assert workflow.operation == semconv.OP_INVOKE_WORKFLOW
    assert [a.agent for a in workflow.children] == ["Triage", "Billing"]
    triage, billing = workflow.children
    assert [c.operation for c in triage.children if c.operation != "apply_guardrail"] == [
        "chat",
        "execute_tool",
        "chat",
        "execute_tool",
    ]
    handoff = triage.children[-1]
    assert handoff.attributes[semconv.GEN_AI_TOOL_TYPE] == semconv.TOOL_TYPE_HANDOFF
    assert [(c.operation, c.tool) for c in billing.children] == [
        ("chat", None),
        ("execute_tool", "issue_refund"),
        ("chat", None),
    ]
    summary = tree.summary
    assert (summary.input_tokens, summary.output_tokens) == (1004, 104)
    assert summary.cost_usd is None  # the scripted model has no price
    assert summary.metadata == {"source": "agentel demo"}


def test_traces_lists_and_filters(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    out = agentel("traces", db=db, COLUMNS="160").stdout
    header, row = out.splitlines()
    assert header.split()[:5] == ["TRACE", "STARTED", "UTC", "NAME", "STATUS"]
    assert "Customer support" in row and " ok " in row and "1,004/104" in row
    assert row in agentel("traces", "--agent", "Billing", db=db, COLUMNS="160").stdout
    for flags in (
        ["--agent", "Nobody"],
        ["--status", "error"],
        ["--min-duration", "1m"],
        ["--meta", "source=elsewhere"],
        ["--since", "2020-01-01", "--until", "2020-02-01"],
    ):
        assert agentel("traces", *flags, db=db).stdout.strip() == "No traces match.", flags
    assert (
        "Customer support"
        in agentel(
            "traces",
            "--tool",
            "issue_refund",
            "--meta",
            "source=agentel demo",
            "--since",
            "1h",
            db=db,
        ).stdout
    )
    [line] = agentel("traces", "--json", db=db).stdout.splitlines()
    data = json.loads(line)
    assert (data["workflow"], data["span_count"], data["root_agent"]) == (
        "Customer support",
        11,
        "Triage",
    )


def test_show_by_id_prefix_and_last_with_content(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    trace_id = json.loads(agentel("traces", "--json", db=db).stdout)["trace_id"]
    by_prefix = agentel("show", trace_id[:8], db=db).stdout
    assert by_prefix.startswith(f"Trace {trace_id}  Customer support")
    assert "11 spans, none failed" in by_prefix
    assert "Conversation" not in by_prefix
    with_content = agentel("show", "--last", "--content", db=db).stdout
    assert "user\n    My order #1234 arrived broken. Can I get a refund?\n" in with_content
    assert 'assistant → calls lookup_order\n    {\n      "order_id": "1234"\n    }' in with_content
    missing = agentel("show", "ffffffff", db=db, ok=False)
    assert missing.returncode == 1 and "no trace id starts with 'ffffffff'" in missing.stderr


def test_stats_by_tool_and_model(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    tools = agentel("stats", "--by", "tool", db=db).stdout.splitlines()
    assert tools[0].split()[:3] == ["TOOL", "RUNS", "FAILED"]
    assert any(line.split()[:3] == ["lookup_order", "1", "0"] for line in tools)
    models = agentel("stats", "--by", "model", "--since", "1d", db=db).stdout
    [row] = [line for line in models.splitlines() if line.startswith("agentel-scripted-model")]
    assert row.split()[1] == "4" and row.rstrip().endswith("-")  # 4 calls, no price


def test_prune_deletes_old_traces(demo_db: tuple[Path, str], tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db[0], db)
    kept = agentel("prune", "--older-than", "1d", "--yes", db=db).stdout
    assert kept.startswith("No traces started before ")
    assert "Deleted 1 trace that" in agentel("prune", "--older-than", "0s", "-y", db=db).stdout
    assert agentel("traces", db=db).stdout.strip() == "No traces match."


def test_export_replays_stored_traces_to_otlp(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    with OTLPReceiver() as receiver:
        result = agentel("export", "--to", "otlp", f"{receiver.url}/v1/traces", db=db)
        spans = receiver.spans()
    assert f"Exported 1 trace (11 spans) to {receiver.url}/v1/traces." in result.stdout
    assert len(spans) == 11
    assert len({s.trace_id for s in spans}) == 1
    root = next(s for s in spans if not s.parent_span_id)
    assert root.name == "invoke_workflow Customer support"
    assert root.resource["service.name"] == "agentel-demo"


def test_tail_follows_traces_written_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    open_store(str(db)).close()
    tail = subprocess.Popen(  # the timeout only bounds a failing test: it is killed below
        [*AGENTEL, "tail", "--interval", "0.1", "--lines", "0", "--timeout", "60"],
        env=_env(db),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None
    assert tail.stdout.readline().startswith("TRACE")  # following now
    run = support_run(seed=5, start_ns=time.time_ns())
    other = support_run(seed=6, start_ns=time.time_ns(), workflow="Other")
    with open_store(str(db)) as store:
        store.write_spans(run.spans[:-1])  # an unfinished trace is not shown yet...
        store.write_spans(other.spans)
        # ...so the first trace shown is the finished one, though written after it
        first = tail.stdout.readline()
        store.write_spans(run.spans[-1:])
        then = tail.stdout.readline()
    tail.kill()
    tail.wait()
    assert first.startswith(other.trace_hex[:12]) and "Other" in first
    assert then.startswith(run.trace_hex[:12]) and "Support" in then


def test_doctor_reports_the_store_and_unreachable_endpoints(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    healthy = agentel("doctor", db=db).stdout
    assert f"url: sqlite:///{db} (from AGENTEL_DB)" in healthy
    assert f"[ok] store: schema v{SCHEMA_VERSION}, 1 trace, 11 spans" in healthy
    with OTLPReceiver() as receiver:
        answering = agentel("doctor", db=db, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url).stdout
    assert f"[ok] otlp {receiver.url}/v1/traces: answers" in answering
    down = agentel("doctor", db=db, ok=False, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert down.returncode == 1
    assert "[FAIL] otlp http://127.0.0.1:9/v1/traces: does not answer" in down.stdout
    misnamed = agentel("doctor", db=db, ok=False, AGENTEL_EXPORTERS="sqlite,bogus")
    assert misnamed.returncode == 1
    assert "[FAIL] settings: AGENTEL_EXPORTERS: unknown exporter 'bogus'" in misnamed.stdout


def test_export_to_a_base_url_adds_the_traces_path(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    with OTLPReceiver() as receiver:
        result = agentel("export", "--to", "otlp", receiver.url, db=db)
        paths = {request.path for request in receiver.trace_requests()}
    assert paths == {"/v1/traces"}
    assert f"to {receiver.url}/v1/traces." in result.stdout


def test_export_to_a_url_without_a_scheme_is_one_clear_line(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    result = agentel("export", "--to", "otlp", "localhost:4318", db=db, ok=False)
    assert result.returncode == 2
    assert "URL='localhost:4318' is not an http:// or https:// URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_runs_the_checks_setup_runs_for_a_preset(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    missing = agentel("doctor", db=db, ok=False, AGENTEL_OTLP_PRESET="langfuse")
    assert missing.returncode == 1
    out = missing.stdout
    assert "AGENTEL_OTLP_PRESET=langfuse reads:" in out
    assert "LANGFUSE_PUBLIC_KEY (required): (not set)" in out
    assert "LANGFUSE_HOST: (not set)" in out
    assert "[FAIL] settings: The langfuse preset needs LANGFUSE_PUBLIC_KEY" in out

    with OTLPReceiver() as receiver:
        keys = {"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-secret"}
        ready = agentel(
            "doctor", db=db, AGENTEL_OTLP_PRESET="langfuse", LANGFUSE_HOST=receiver.url, **keys
        ).stdout
    assert f"[ok] otlp {receiver.url}/api/public/otel/v1/traces (langfuse): answers" in ready
    assert "LANGFUSE_SECRET_KEY (required): set (12 characters, hidden)" in ready
    assert "sk-lf-secret" not in ready


def test_doctor_checks_where_the_standard_variable_sends_a_preset(
    demo_db: tuple[Path, str],
) -> None:
    db, _ = demo_db
    with OTLPReceiver() as receiver:
        out = agentel(
            "doctor",
            db=db,
            AGENTEL_OTLP_PRESET="mlflow",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.url}/v1/traces",
        ).stdout
    assert f"[ok] otlp {receiver.url}/v1/traces (mlflow): answers" in out
    assert "MLFLOW_EXPERIMENT_ID: (not set)" in out


def test_doctor_finds_what_setup_would_refuse(demo_db: tuple[Path, str]) -> None:
    db, _ = demo_db
    no_scheme = agentel("doctor", db=db, ok=False, OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318")
    assert "[FAIL] settings: OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318' is not an" in (
        no_scheme.stdout
    )
    capture = agentel(
        "doctor", db=db, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="flase"
    ).stdout
    assert "[warn] OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT='flase' is not" in capture
    assert "Accepted values: NO_CONTENT, SPAN_ONLY" in capture


def test_a_missing_store_says_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "nothing-here.db"
    result = agentel("traces", db=db, ok=False)
    assert result.returncode == 1
    assert f"no trace store at {db} yet. Run `agentel demo`" in result.stderr
    assert not db.exists()
    bad = agentel("--db", "mysql://u@h/db", "traces", db=None, ok=False)
    assert "unknown scheme 'mysql'" in bad.stderr


def test_help_teaches_the_commands() -> None:
    top = agentel("--help", db=None).stdout
    for text in ("agentel demo", "agentel show --last", "agentel traces", "agentel doctor"):
        assert text in top
    for command in ("demo", "traces", "show", "tail", "stats", "ui", "prune", "export", "doctor"):
        assert f"  {command} " in top
    traces_help = agentel("traces", "--help", db=None).stdout
    assert "--agent" in traces_help and "agentel traces --since 1h --status error" in traces_help


def test_the_cli_reads_a_postgres_store() -> None:
    url = postgres_url()
    try:
        with open_store(url) as store:
            run = support_run(seed=9, start_ns=BASE_NS)
            store.write_spans(run.spans)
        listed = agentel("--db", url, "traces", "--agent", "billing", db=None).stdout
        assert run.trace_hex[:12] in listed
        shown = agentel("--db", url, "show", "--last", db=None).stdout
        assert "└─ invoke_agent Billing" in shown and "cost $0.0038" in shown
    finally:
        drop_schema(url)


def test_show_last_shows_the_newest_of_several_traces(tmp_path: Path) -> None:
    db = tmp_path / "several.db"
    hour = 3600 * 10**9
    runs = {
        workflow: support_run(seed=seed, start_ns=BASE_NS + offset * hour, workflow=workflow)
        for seed, offset, workflow in ((1, 0, "Middle"), (2, 1, "Newest"), (3, -1, "Oldest"))
    }
    with open_store(str(db)) as store:
        for run in runs.values():  # the newest is not the last one written
            store.write_spans(run.spans)
    shown = agentel("show", "--last", db=db).stdout
    assert runs["Newest"].trace_hex in shown and "invoke_workflow Newest" in shown
    assert "Middle" not in shown and "Oldest" not in shown
