"""The viewer's speed over a large store: server time of the list and trace pages, and how
long headless Chromium takes to draw a 2,000-span waterfall.

    python benchmarks/store.py --db sqlite:////tmp/bench.db --spans 1000000   # fill once
    python benchmarks/ui.py --db sqlite:////tmp/bench.db

A real ``agentel ui`` process serves the store; server time is what it reports in each
response's ``Server-Timing`` header (from the request reaching the app to the response's
first byte, the whole page being rendered by then), alongside the time the client saw. The
list page is asked for with three filters (agent, model, since), as ``benchmarks/store.py``
asks ``get_traces``. A 2,000-span trace (a workflow of 20 agents of 99 model and tool calls
each) is added to the store first, once: writing it again changes nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from agentel import semconv
from agentel.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from viewer_support import CHROMIUM, start_viewer, stop

MODELS = ["gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "in-house-llm"]
DAY_NS = 24 * 3600 * 10**9
BIG_TRACE_ID = 0x2000_0000_0000_0000_0000_0000_0000_0001
MS = 1_000_000


def big_trace(agents: int = 20, calls: int = 99) -> list[ReadableSpan]:
    """A workflow with ``agents`` agents of ``calls`` alternating model and tool calls."""
    resource = Resource.create({"service.name": "bench-big-trace"})
    rng = random.Random(2000)
    start = time.time_ns() - 3600 * 10**9

    def context(span_id: int) -> SpanContext:
        return SpanContext(BIG_TRACE_ID, span_id, False, TraceFlags(1))

    spans: list[ReadableSpan] = []
    root = context(1)
    clock = start
    for a in range(agents):
        agent_ctx = context(2 + a * (calls + 1))
        agent_start = clock
        for c in range(calls):
            is_chat = c % 2 == 0
            attributes = (
                {
                    semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
                    semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
                    semconv.GEN_AI_USAGE_INPUT_TOKENS: rng.randrange(100, 2000),
                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: rng.randrange(10, 200),
                }
                if is_chat
                else {
                    semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
                    semconv.GEN_AI_TOOL_NAME: f"tool_{c % 7}",
                    semconv.GEN_AI_TOOL_CALL_ID: f"call_{a}_{c}",
                }
            )
            duration = rng.randrange(5, 400) * MS
            spans.append(
                ReadableSpan(
                    "chat gpt-4o" if is_chat else f"execute_tool tool_{c % 7}",
                    context(agent_ctx.span_id + 1 + c),
                    agent_ctx,
                    resource,
                    attributes,
                    start_time=clock,
                    end_time=clock + duration,
                )
            )
            clock += duration + MS
        spans.append(
            ReadableSpan(
                f"invoke_agent Agent {a}",
                agent_ctx,
                root,
                resource,
                {
                    semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_AGENT,
                    semconv.GEN_AI_AGENT_NAME: f"Agent {a}",
                },
                start_time=agent_start,
                end_time=clock,
            )
        )
    spans.append(
        ReadableSpan(
            "invoke_workflow Big run",
            root,
            None,
            resource,
            {
                semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_WORKFLOW,
                semconv.GEN_AI_WORKFLOW_NAME: "Big run",
            },
            start_time=start,
            end_time=clock,
        )
    )
    return spans


def fetch(url: str) -> tuple[float, float]:
    """(server ms from Server-Timing, client ms) for one GET."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        timing = response.headers["Server-Timing"]
    client = (time.perf_counter() - started) * 1000
    return float(timing.split("dur=")[1]), client


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94]


def draw_time(url: str, spans: int, rounds: int) -> list[float]:
    """Milliseconds from navigation start to the first frame with every waterfall row."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for _ in range(rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url, wait_until="commit")
            page.wait_for_function(
                "n => document.querySelectorAll('#waterfall .span-row').length === n",
                arg=spans,
                polling="raf",
                timeout=60_000,
            )
            drawn = page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => r(performance.now())))"
            )
            times.append(float(drawn))
            page.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a filled store (benchmarks/store.py)")
    parser.add_argument("--rounds", type=int, default=200, help="requests of each page")
    parser.add_argument("--draws", type=int, default=7, help="page loads of the big trace")
    args = parser.parse_args()

    spans = big_trace()
    with open_store(args.db) as store:
        store.write_spans(spans)
        traces_n, spans_n = store.counts()
        rng = random.Random(7)
        ids = [t.trace_id for t in store.get_traces(limit=2000, offset=rng.randrange(1000))]
    print(f"store: {traces_n:,} traces, {spans_n:,} spans; big trace: {len(spans):,} spans")

    viewer = start_viewer(args.db)
    try:
        base = viewer.url
        cold = fetch(base + "/?agent=Billing&model=gpt-4o&since=7d")
        list_server, list_client, trace_server, trace_client = [], [], [], []
        for _ in range(args.rounds):
            query = urllib.parse.urlencode(
                {
                    "agent": "Billing",
                    "model": rng.choice(MODELS),
                    "since": f"{rng.choice([1, 3, 7, 30])}d",
                }
            )
            server, client = fetch(f"{base}/?{query}")
            list_server.append(server)
            list_client.append(client)
            server, client = fetch(f"{base}/trace/{rng.choice(ids)}")
            trace_server.append(server)
            trace_client.append(client)
        big_url = f"{base}/trace/{BIG_TRACE_ID:032x}"
        big_server = [fetch(big_url)[0] for _ in range(5)]
        drawn = draw_time(big_url, len(spans), args.draws)
    finally:
        stop(viewer)

    print(f"list page, first request after start: {cold[0]:.1f} ms server")
    print(
        f"list page (agent, model, since; 50 rows) p95: {p95(list_server):.1f} ms server, "
        f"{p95(list_client):.1f} ms client ({args.rounds} requests)"
    )
    print(
        f"trace page (demo trace, 11 spans) p95: {p95(trace_server):.1f} ms server, "
        f"{p95(trace_client):.1f} ms client"
    )
    print(f"trace page of the 2,000-span trace: {statistics.median(big_server):.0f} ms server")
    print(
        f"2,000-span waterfall drawn in Chromium: median {statistics.median(drawn):.0f} ms, "
        f"max {max(drawn):.0f} ms from navigation start ({args.draws} loads)"
    )


if __name__ == "__main__":
    main()
