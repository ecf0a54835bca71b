"""What ``agentel`` shows, run as a user runs it (a subprocess) on runs recorded through the
real OpenAI Agents SDK: errors, the tripped guardrail, the timeline, the conversation, one
meaning of "error" in every view, and the small things a user notices."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from agentel.store import open_store
from cli_runs import Recorded, record_runs
from fake_openai import FakeOpenAI
from store_support import BASE_NS, MS, support_run
from test_cli import AGENTEL, _env, agentel
from test_store_reading import _make_v3

BAR = "█▉▊▋▌▍▎▏▐▕"
WIDE = {"COLUMNS": "160"}


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Recorded]]:
    """The weather run (a forgiven tool error, two tools in parallel) and the guardrail run
    (tripped, the run failed), recorded with content into a fresh SQLite file."""
    db = tmp_path_factory.mktemp("views") / "agentel.db"
    with FakeOpenAI() as fake:
        recorded = record_runs(str(db), fake)
    yield db, recorded


def test_show_names_the_exception_raised_and_the_end_of_its_stack(views) -> None:
    db, runs = views
    out = agentel("show", runs.weather, db=db, **WIDE).stdout
    assert "execute_tool get_weather ✗ ValueError" in out  # marked in the tree
    assert "✗ execute_tool get_weather: ValueError: no such city" in out
    assert "Error running tool" not in out  # the SDK's wrapper message is not the error
    assert 'raise ValueError("no such city")' in out  # the frame where it was raised
    assert "Traceback (most recent call last)" not in out  # only the end of the stack...
    full = agentel("show", runs.weather, "--stack", db=db, **WIDE).stdout
    assert "Traceback (most recent call last)" in full  # ...all of it with --stack
    assert len(full.splitlines()) > len(out.splitlines())


def test_show_marks_the_guardrail_that_tripped_and_names_the_exception_once(views) -> None:
    db, runs = views
    out = agentel("show", runs.guardrail, db=db, **WIDE).stdout
    [guardrail] = [line for line in out.splitlines() if "apply_guardrail no_card_numbers" in line]
    assert "⚠ tripped" in guardrail
    assert "error (the run failed)" in out
    assert out.count("Guardrail InputGuardrail triggered tripwire") == 1
    assert re.search(r"\(\d+ earlier frames?: --stack shows all\)", out)
    assert "✗ invoke_workflow Card check: InputGuardrailTripwireTriggered, from invoke_agent" in out
    weather = agentel("show", runs.weather, db=db).stdout
    assert "tripped" not in weather  # a guardrail that passed is not marked


def _bar_span(line: str) -> tuple[int, int]:
    """The columns a timeline bar covers on a line of ``show --timeline``."""
    cells = [i for i, ch in enumerate(line) if ch in BAR]
    return cells[0], cells[-1]


def test_timeline_shows_the_parallel_tools_side_by_side(views) -> None:
    db, runs = views
    out = agentel("show", runs.weather, "--timeline", db=db, **WIDE).stdout
    lines = out.splitlines()
    [header] = [line for line in lines if line.startswith("SPAN")]
    assert "START" in header and "TIMELINE" in header
    tools = [line for line in lines if "─ execute_tool get_weather" in line]
    chats = [line for line in lines if "─ chat gpt-4o" in line]
    assert len(tools) == 2 and len(chats) == 2
    (a_start, a_end), (b_start, b_end) = (_bar_span(line) for line in tools)
    assert a_start <= b_end and b_start <= a_end  # they ran at the same time
    assert _bar_span(chats[0])[1] <= min(a_start, b_start) + 1  # after the first model call
    assert _bar_span(chats[1])[0] >= max(a_end, b_end) - 1  # and before the second
    assert all(re.search(r"\s\+\d+(\.\d+)? (ms|s)\s", line) for line in tools)  # offsets
    # by default only where the terminal is wide enough
    assert "TIMELINE" in agentel("show", runs.weather, db=db, COLUMNS="140").stdout
    assert "TIMELINE" not in agentel("show", runs.weather, db=db).stdout
    assert "TIMELINE" not in agentel("show", runs.weather, "--no-timeline", db=db, **WIDE).stdout


def test_content_is_shown_as_a_conversation(views) -> None:
    db, runs = views
    out = agentel("show", runs.weather, "--content", db=db, COLUMNS="2000").stdout
    conversation = out[out.index("Conversation") :]
    assert "── Forecaster ──" in conversation
    assert "system (instructions)\n    Answer with the weather of each city asked about." in out
    long_question = "Weather in Paris and Atlantis? " + "I am planning a long trip. " * 25
    assert f"user\n    {long_question.strip()}\n" in conversation  # whole, not cut at 400
    call = 'assistant → calls get_weather\n    {\n      "city": "Atlantis"\n    }'
    assert call in conversation
    assert 'tool ← get_weather returned\n    {\n      "city": "Paris",' in conversation
    assert "assistant\n    Paris is sunny at 21 °C. I found no city called Atlantis." in out
    assert conversation.count("Weather in Paris and Atlantis?") == 1  # each message once
    assert " | " not in conversation


def test_content_that_was_not_recorded_says_how_to_record_it(tmp_path: Path) -> None:
    db = tmp_path / "quiet.db"
    agentel("demo", "--no-content", db=db)
    out = agentel("show", "--last", "--content", db=db).stdout
    assert out.rstrip().endswith(
        "No message content was recorded for this trace. To record it, run the app with "
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY."
    )


def _rows(out: str) -> dict[str, list[str]]:
    """Table rows by their first cell."""
    return {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}


def test_every_view_agrees_on_what_an_error_is(views) -> None:
    """A run failed when its root span failed (the guardrail run); a tool error the agent
    recovered from is a failed span of a run that is ok (the weather run)."""
    db, runs = views
    failed_runs = agentel("traces", "--status", "error", "--json", db=db).stdout
    assert [json.loads(line)["trace_id"] for line in failed_runs.splitlines()] == [runs.guardrail]
    ok_runs = agentel("traces", "--status", "ok", "--json", db=db).stdout
    assert [json.loads(line)["trace_id"] for line in ok_runs.splitlines()] == [runs.weather]
    with_failed_spans = agentel("traces", "--failed-spans", "--json", db=db).stdout
    assert len(with_failed_spans.splitlines()) == 2
    listed = agentel("traces", db=db, **WIDE).stdout
    weather = next(line for line in listed.splitlines() if "Weather desk" in line)
    assert " ok " in weather and re.search(r"\s1\s", weather)  # status ok, 1 failed span

    by_workflow = _rows(agentel("stats", "--by", "workflow", db=db).stdout)
    assert by_workflow["Weather"][:5] == ["Weather", "desk", "1", "0", "0.0%"]
    assert by_workflow["Card"][:5] == ["Card", "check", "1", "1", "100.0%"]
    by_agent = _rows(agentel("stats", "--by", "agent", db=db).stdout)
    assert by_agent["Forecaster"][1:3] == ["2", "1"]  # two runs, the guardrail one failed
    by_tool = _rows(agentel("stats", "--by", "tool", db=db).stdout)
    assert by_tool["get_weather"][1:3] == ["2", "1"]
    assert by_tool["get_weather"][-1] == "-"  # a tool has no price of its own: not "$0"
    assert "RUNS  FAILED" in agentel("stats", db=db).stdout


def test_small_things(views, tmp_path: Path) -> None:
    db, runs = views
    # names match in any case
    assert len(agentel("traces", "--agent", "FORECASTER", "--json", db=db).stdout.splitlines()) == 2
    assert runs.weather[:12] in agentel("traces", "--tool", "Get_Weather", db=db).stdout
    # a duration needs its unit
    bare = agentel("traces", "--min-duration", "2", db=db, ok=False)
    assert bare.returncode == 2 and "give a unit" in bare.stderr and "2s or 2ms" in bare.stderr
    slow = agentel("traces", "--min-duration", "250ms", "--json", db=db).stdout  # tools sleep 0.3 s
    assert [json.loads(line)["trace_id"] for line in slow.splitlines()] == [runs.weather]
    # start times carry their time zone
    tokyo = agentel("show", runs.weather, db=db, TZ="Asia/Tokyo").stdout
    assert re.search(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST", tokyo)
    assert "STARTED JST" in agentel("traces", db=db, TZ="Asia/Tokyo").stdout
    # plurals, and paging that says there is more
    assert "7 spans, 1 failed" in tokyo
    paged = agentel("traces", "--limit", "1", db=db).stdout
    assert paged.splitlines()[-1] == "1 trace of 2 shown; --offset 1 for the next page."
    assert "[ok] store: schema v4, 2 traces, 10 spans" in agentel("doctor", db=db).stdout


def test_traces_fit_80_columns_and_use_a_wider_terminal(views) -> None:
    db, _ = views
    narrow = agentel("traces", db=db).stdout.splitlines()
    assert max(len(line) for line in narrow) <= 80
    assert narrow[0].split()[:6] == ["TRACE", "STARTED", "UTC", "NAME", "STATUS", "DURATION"]
    assert any("Weather desk" in line for line in narrow)
    wide = agentel("traces", db=db, COLUMNS="160").stdout.splitlines()
    assert 100 < max(len(line) for line in wide) <= 160
    assert "CONVERSATION" in wide[0] and any("conv-weather" in line for line in wide)


def test_an_ambiguous_id_prefix_says_so(tmp_path: Path) -> None:
    db = tmp_path / "many.db"
    runs = [support_run(seed=seed, start_ns=BASE_NS + seed * MS) for seed in range(40)]
    with open_store(str(db)) as store:
        for run in runs:
            store.write_spans(run.spans)
    ids = sorted(run.trace_hex for run in runs)
    shared = next(a[0] for a, b in pairwise(ids) if a[0] == b[0])
    result = agentel("show", shared, db=db, ok=False)
    assert result.returncode == 1
    assert f"'{shared}' is ambiguous: " in result.stderr and "give more digits" in result.stderr
    unique = next(i for i in ids if sum(j.startswith(i[:6]) for j in ids) == 1)
    assert f"Trace {unique}" in agentel("show", unique[:6], db=db).stdout


def test_prune_says_how_many_and_asks_first(views, tmp_path: Path) -> None:
    db = tmp_path / "prune.db"
    shutil.copy(views[0], db)
    declined = subprocess.run(
        [*AGENTEL, "prune", "--older-than", "0s"],
        env=_env(db),
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert declined.returncode == 1
    assert "Delete 2 traces that started before " in declined.stdout
    assert agentel("traces", "--json", db=db).stdout.count("\n") == 2  # nothing deleted
    accepted = subprocess.run(
        [*AGENTEL, "prune", "--older-than", "0s"],
        env=_env(db),
        input="y\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert accepted.returncode == 0 and "Deleted 2 traces that started before" in accepted.stdout


def test_tail_lines_up_its_columns_and_exits_130_on_ctrl_c(views) -> None:
    db, _ = views
    tail = subprocess.Popen(
        [*AGENTEL, "tail", "--interval", "0.1"],
        env=_env(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None
    lines = [tail.stdout.readline().rstrip("\n") for _ in range(3)]
    tail.send_signal(signal.SIGINT)
    assert tail.wait(timeout=30) == 130
    header, *rows = lines
    for column in ("STATUS", "DURATION", "ERRORS"):
        at = header.index(column)
        right = at + len(column)  # numbers are right-aligned, words left-aligned
        for row in rows:
            if column == "STATUS":
                assert row[at - 1] == " " and row[at] != " ", (header, row)
            else:
                assert row[right - 1] != " " and row[right : right + 1] in ("", " "), (header, row)


# --- the demo's failure path, store paths that cannot work -------------------------------------

UNREACHABLE = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


def test_demo_against_an_unreachable_api_says_so_in_one_line_and_shows_the_failed_run(
    tmp_path: Path,
) -> None:
    db = tmp_path / "failed.db"
    result = agentel("demo", db=db, ok=False, **UNREACHABLE)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: the demo run failed: APIConnectionError: Connection error")
    assert "`agentel demo --offline`" in line
    assert "error (the run failed)" in result.stdout
    assert "chat gpt-4.1-mini ✗ APIConnectionError" in result.stdout
    failed = agentel("traces", "--status", "error", "--json", db=db).stdout
    assert json.loads(failed)["workflow"] == "Customer support"  # recorded in the store


def test_demo_offline_plays_the_scripted_model_even_with_a_key(tmp_path: Path) -> None:
    result = agentel("demo", "--offline", db=tmp_path / "offline.db", **UNREACHABLE)
    assert "OFFLINE with a scripted model" in result.stdout
    assert "Final answer: I'm sorry your order arrived broken." in result.stdout


def test_a_store_path_that_cannot_work_is_one_line(tmp_path: Path) -> None:
    for command in (["demo"], ["traces"], ["show", "--last"]):
        result = agentel(*command, db="/proc/agentel-test.db", ok=False)
        assert result.returncode == 1, command
        [line] = result.stderr.strip().splitlines()
        assert "Traceback" not in result.stdout + result.stderr
        assert "/proc is not a writable folder" in line and "agentel demo" not in line, line


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def test_reading_never_writes_into_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    app = tmp_path / "app.db"
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    for db in (empty, app):
        for command in (["traces"], ["show", "--last"], ["stats"], ["tail", "--timeout", "0"]):
            result = agentel(*command, db=db, ok=False)
            assert result.returncode == 1, command
            assert "is not an agentel trace store" in result.stderr, result.stderr
    assert empty.stat().st_size == 0
    assert _tables(app) == {"customers"}
    refused = agentel("demo", db=app, ok=False)
    assert "holds other tables (customers)" in refused.stderr and "?shared=true" in refused.stderr
    assert _tables(app) == {"customers"}
    agentel("--db", f"sqlite:///{app}?shared=true", "demo", db=None)
    assert {"customers", "traces"} <= _tables(app)


# --- a store on a read-only folder or mount ------------------------------------------------------


@pytest.fixture
def read_only_copy(views, tmp_path: Path) -> Iterator[Path]:
    """The views store in a folder nobody can write to: a read-only bind mount as root (who
    ignores permissions), a folder without write permission otherwise."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(views[0], source / "agentel.db")
    assert not (source / "agentel.db-wal").exists()
    if os.geteuid() != 0:
        source.chmod(0o555)
        yield source / "agentel.db"
        source.chmod(0o755)
        return
    mount = tmp_path / "ro"
    mount.mkdir()
    bound = subprocess.run(["mount", "--bind", str(source), str(mount)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {bound.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
        yield mount / "agentel.db"
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_store_on_a_read_only_mount_can_be_read(read_only_copy: Path, views) -> None:
    db = read_only_copy
    _, runs = views
    with pytest.raises(OSError):
        (db.parent / "probe").touch()  # nothing can be written there
    listed = agentel("traces", "--json", db=db).stdout
    assert {json.loads(line)["trace_id"] for line in listed.splitlines()} == {
        runs.weather,
        runs.guardrail,
    }
    assert "execute_tool get_weather" in agentel("show", runs.weather, db=db).stdout
    assert "Forecaster" in agentel("stats", db=db).stdout
    assert "[ok] store: schema v4, 2 traces" in agentel("doctor", db=db).stdout
    assert sorted(p.name for p in db.parent.iterdir()) == ["agentel.db"]


def test_quickstart_records_to_the_store_and_prints_what_show_prints(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "examples" / "quickstart.py"
    env = {k: v for k, v in _env(None).items() if k != "AGENTEL_DB"}
    ran = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    printed = ran.stdout[ran.stdout.index("Trace ") : ran.stdout.index("\nRecorded in")]
    shown = agentel("show", "--last", db=tmp_path / "agentel.db").stdout
    assert printed.strip() == shown.strip()
    assert "└─ invoke_agent billing" in printed and "conversation conversation-1" in printed


def test_reading_an_older_store_says_to_migrate_it_and_migrate_does(views, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(views[0], db)
    _make_v3(str(db))
    stopped = agentel("traces", db=db, ok=False)
    assert "has schema v3" in stopped.stderr and "`agentel migrate`" in stopped.stderr
    assert "schema v3" in agentel("traces", db=db, ok=False).stderr  # reading changed nothing
    assert "is at schema v4" in agentel("migrate", db=db).stdout
    assert len(agentel("traces", "--json", db=db).stdout.splitlines()) == 2


def test_tail_waits_for_a_store_that_does_not_exist_yet(tmp_path: Path) -> None:
    db = tmp_path / "later.db"
    tail = subprocess.Popen(
        [*AGENTEL, "tail", "--interval", "0.1", "--timeout", "30"],
        env=_env(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stderr is not None and tail.stdout is not None
    assert tail.stderr.readline().startswith(f"Waiting for a trace store at {db}")
    assert not db.exists()  # waiting creates nothing
    run = support_run(seed=3, start_ns=time.time_ns())
    with open_store(str(db)) as store:
        store.write_spans(run.spans)
    assert tail.stdout.readline().startswith("TRACE")
    line = tail.stdout.readline()
    tail.send_signal(signal.SIGINT)
    assert tail.wait(timeout=30) == 130
    assert line.startswith(run.trace_hex[:12])


def test_demo_with_a_key_runs_the_real_model_path_against_the_fake_server(
    tmp_path: Path,
) -> None:
    from fake_openai import Reply, ToolCall

    refund = {"order_id": "1234", "amount_usd": 49}
    with FakeOpenAI() as fake:
        fake.script(
            [
                Reply(tool_calls=[ToolCall("lookup_order", {"order_id": "1234"})]),
                Reply(tool_calls=[ToolCall("transfer_to_billing", {})]),
                Reply(tool_calls=[ToolCall("issue_refund", refund)]),
                Reply(text="Refunded $49.00 for order #1234."),
            ]
        )
        result = agentel(
            "demo", db=tmp_path / "real.db", OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake.base_url
        )
    assert "Running the demo against OpenAI (gpt-4.1-mini)" in result.stdout
    assert "Final answer: Refunded $49.00 for order #1234." in result.stdout
    assert "│  ├─ chat gpt-4.1-mini" in result.stdout and "none failed" in result.stdout
