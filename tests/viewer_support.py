"""Helpers for the viewer tests: real SDK runs recorded into stores, and `agentel ui` as a
process.

The runs go through the real OpenAI Agents SDK, the real ``openai`` client and agentel's
instrumentor against the fake OpenAI server, into every store given (SQLite, and PostgreSQL
when the tests have one), so each store holds the same traces.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from agents import (
    Agent,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import agentel
from agent_fixtures import SUPPORT_SCRIPT, support_agents
from agentel.demo import build_agents
from agentel.store import open_store
from agentel.store.exporter import StoreSpanExporter
from fake_openai import FakeOpenAI, Reply, ToolCall, Usage

_SCRIPT = Path(sys.executable).with_name("agentel")
AGENTEL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agentel.cli"]
CHROMIUM = os.environ.get("AGENTEL_TEST_CHROMIUM", "/usr/bin/chromium")

XSS_SCRIPT = '<script>alert("xss-script")</script>'
XSS_IMG = '"><img src=x onerror=alert("xss-img")>'


@function_tool(failure_error_function=None)
def strict_inventory(sku: str) -> str:
    """Check stock for a SKU, failing the run on error."""
    raise LookupError(f"warehouse unreachable for {sku}")


@function_tool
def annotate(note: str) -> str:
    """Store a note about the customer."""
    return f"noted: {note}"


@dataclass
class Recorded:
    """The trace ids of the recorded runs, by what each run is for."""

    demo: str
    failing: str
    refund: str
    refund_other: str
    hostile: str


def _demo_script() -> list[Reply]:
    return [
        Reply(tool_calls=[ToolCall("lookup_order", {"order_id": "1234"}, call_id="call_lookup")]),
        Reply(tool_calls=[ToolCall("transfer_to_billing", {}, call_id="call_transfer")]),
        Reply(
            tool_calls=[
                ToolCall(
                    "issue_refund", {"order_id": "1234", "amount_usd": 49.0}, call_id="call_issue"
                )
            ]
        ),
        Reply(text="Refunded $49.00 for order #1234.", usage=Usage(input_tokens=300)),
    ]


@contextlib.contextmanager
def _traced(urls: list[str], capture: bool) -> Iterator[None]:
    provider = TracerProvider()
    for url in urls:
        provider.add_span_processor(SimpleSpanProcessor(StoreSpanExporter(url)))
    agentel.instrument(tracer_provider=provider, capture_content=capture)
    try:
        yield
    finally:
        agentel.uninstrument()
        provider.shutdown()


def _run(agent: Agent[Any], text: str, **config: Any) -> None:
    with contextlib.suppress(Exception):  # the failing run fails: its trace is what we want
        asyncio.run(Runner.run(agent, text, run_config=RunConfig(**config)))


def record_runs(fake: FakeOpenAI, urls: list[str]) -> Recorded:
    """The demo scenario (content not captured), a failing run, two captured runs of one
    workflow that differ in a tool's arguments, and a run full of HTML."""

    def model() -> OpenAIResponsesModel:  # a client per run: each run has its own event loop
        return OpenAIResponsesModel(model="gpt-4o", openai_client=fake.client())

    with _traced(urls, capture=False):
        fake.script(_demo_script())
        _run(
            build_agents(model()),
            "My order #1234 arrived broken. Can I get a refund?",
            workflow_name="Customer support",
            group_id="conv-demo",
        )
        fake.script([Reply(tool_calls=[ToolCall("strict_inventory", {"sku": "X1"})])])
        stock = Agent(
            name="stock", instructions="Check stock.", model=model(), tools=[strict_inventory]
        )
        _run(stock, "stock of X1?", workflow_name="Inventory check")
    with _traced(urls, capture=True):
        for amount in (5.5, 7.25):
            script = list(SUPPORT_SCRIPT)
            script[2] = Reply(
                tool_calls=[
                    ToolCall("refund", {"order_id": "A7", "amount": amount}, call_id="call_refund")
                ],
                usage=Usage(input_tokens=150, output_tokens=12, reasoning_tokens=6),
            )
            fake.script(script)
            _run(
                support_agents(fake),
                "Please refund order A7",
                workflow_name="Refund desk",
                group_id="conv-refund",
            )
        fake.script(
            [
                Reply(tool_calls=[ToolCall("annotate", {"note": XSS_IMG + XSS_SCRIPT})]),
                Reply(text=f"Done {XSS_SCRIPT}"),
            ]
        )
        hostile = Agent(
            name=f"agent{XSS_IMG}",
            instructions=f"Be careful {XSS_SCRIPT}",
            model=model(),
            tools=[annotate],
        )
        _run(
            hostile,
            f"hello {XSS_SCRIPT}",
            workflow_name=f"Hostile {XSS_SCRIPT}",
            trace_metadata={"note": XSS_IMG},
        )
    with open_store(urls[0]) as store:

        def ids(workflow: str) -> list[str]:
            found = store.get_traces(workflow=workflow)
            return [t.trace_id for t in reversed(found)]  # oldest first

        [demo] = ids("Customer support")
        [failing] = ids("Inventory check")
        refund, refund_other = ids("Refund desk")
        [hostile_id] = ids(f"Hostile {XSS_SCRIPT}")
    return Recorded(demo, failing, refund, refund_other, hostile_id)


class Lines:
    """The lines a process prints, read on a thread, so a test can wait for the next one
    with a deadline (a selector on the pipe misses lines already read into its buffer)."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def next(self, timeout: float = 30.0) -> str:
        """The next line, or "" at the end of output or when none comes before the deadline."""
        try:
            return self._queue.get(timeout=timeout) or ""
        except queue.Empty:
            return ""

    def rest(self) -> str:
        """Everything printed after the lines taken, once the process has ended."""
        self._thread.join(timeout=10)
        lines = []
        while not self._queue.empty():
            lines.append(self._queue.get() or "")
        return "".join(lines)


@dataclass
class Viewer:
    process: subprocess.Popen[str]
    lines: Lines
    url: str  # without the trailing slash
    printed: str  # everything it printed up to its URL
    db: str = ""


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AGENTEL_", "OTEL_", "CELESTO_")) and k != "OPENAI_API_KEY"
    }


def start_viewer(db: str, *args: str) -> Viewer:
    """`agentel ui` on any free port; returns once it has printed its URL."""
    process = subprocess.Popen(
        [*AGENTEL, "--db", db, "ui", "--port", "0", *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = Lines(process.stdout)
    printed = ""
    line = lines.next()
    while line and "http://" not in line:  # a warning may come first
        printed += line
        line = lines.next()
    printed += line
    viewer = Viewer(process, lines, "", printed, db)
    if "http://" not in line:
        _, out, err = stop(viewer)
        raise AssertionError(f"agentel ui did not start: {printed + out + err!r}")
    viewer.url = line[line.index("http://") :].split()[0].rstrip("/")
    return viewer


def stop(viewer: Viewer, timeout: float = 15.0) -> tuple[int, str, str]:
    """Ctrl-C, as a person stops it; returns (exit status, stdout after, stderr)."""
    process = viewer.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    err = process.stderr.read() if process.stderr else ""
    return process.returncode, viewer.lines.rest(), err or ""
