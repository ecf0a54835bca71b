"""What tracing a run with agentel costs: added wall and CPU time per run and per span.

Machines here drift in speed by up to 2x between processes, so runs are measured in pairs in
one process: a traced run and the same run with ``RunConfig(tracing_disabled=True)`` (which
the instrumentation honours by doing nothing), alternating which goes first. The figure is the
median of the per-pair differences. CPU is ``time.process_time()``, all threads, so the OTel
BatchSpanProcessor's export thread is counted too.

Scenario (10 spans): workflow > triage (chat, tool, chat, handoff) > billing (chat, tool, chat).

    python benchmarks/overhead.py            # both model kinds, content off and on
    python benchmarks/overhead.py --pairs 100 --only inprocess
    python benchmarks/overhead.py --breakdown  # in-process, content off, cost by layer
    python benchmarks/overhead.py --floor      # next to bare OTel spans and peers (peers.py)
    python benchmarks/overhead.py --only agno  # Agno: agentel next to Agno's own tracing
    python benchmarks/overhead.py --exporters  # end to end: OTLP, SQLite, PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents import (
    Agent,
    Model,
    ModelResponse,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    Usage,
)
from agents.testing import assistant_message, function_call
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider

from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from agent_fixtures import support_agents_on
from fake_openai import FakeOpenAI, Reply, ToolCall

SPANS_PER_RUN = 10
PROMPT = "My order A7 arrived broken, please refund 5.5"


class DiscardingExporter(SpanExporter):
    """Receives every batch and drops it: we measure making spans, not a network."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def _next_step(agent: str, tool_outputs: int) -> tuple[str | None, str, dict[str, Any]]:
    """(tool to call or None for the answer, call id, arguments) for the scenario."""
    if agent == "triage":
        if tool_outputs == 0:
            return "lookup_order", "call_lookup", {"order_id": "A7"}
        return "transfer_to_billing", "call_handoff", {}
    if tool_outputs < 3:  # the lookup and the handoff each left one output
        return "refund", "call_refund", {"order_id": "A7", "amount": 5.5}
    return None, "", {}


class ScenarioModel(Model):
    """An in-process model that plays the scenario with no I/O at all."""

    model = "gpt-4o"

    async def get_response(self, system_instructions, input, *args: Any, **kwargs: Any):
        agent = "triage" if "route" in (system_instructions or "") else "billing"
        outputs = sum(
            1
            for item in input
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        )
        tool, call_id, arguments = _next_step(agent, outputs)
        item = (
            function_call(tool, arguments, call_id=call_id)
            if tool
            else assistant_message("Refunded 5.5 on order A7.")
        )
        return ModelResponse(
            output=[item],
            usage=Usage(requests=1, input_tokens=120, output_tokens=15, total_tokens=135),
            response_id=f"resp_{agent}_{outputs}",
        )

    def stream_response(self, *args: Any, **kwargs: Any):
        raise NotImplementedError


def _loopback_responder(request: Any) -> Reply:
    agent = "triage" if "route" in (request.instructions or "") else "billing"
    tool, call_id, arguments = _next_step(agent, len(request.tool_outputs))
    if tool is None:
        return Reply(text="Refunded 5.5 on order A7.")
    return Reply(tool_calls=[ToolCall(tool, arguments, call_id=call_id)])


TRACED = RunConfig(workflow_name="bench")
UNTRACED = RunConfig(workflow_name="bench", tracing_disabled=True)


async def timed_pair(
    agent: Agent[Any], index: int, after_run: Callable[[bool], None] | None = None
) -> dict[bool, tuple[float, float]]:
    """A traced run and the same run untraced, the traced one first on even ``index``es:
    (wall, CPU) seconds of each, by whether it was traced; ``after_run(traced)``, untimed,
    after each."""
    timings: dict[bool, tuple[float, float]] = {}
    for traced in (True, False) if index % 2 == 0 else (False, True):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await Runner.run(agent, PROMPT, run_config=TRACED if traced else UNTRACED)
        timings[traced] = (time.perf_counter() - wall0, time.process_time() - cpu0)
        if after_run is not None:
            after_run(traced)
    return timings


async def _measure(
    agent: Agent[Any], pairs: int, warmup: int, flush: Callable[[], int] | None = None
) -> dict[str, float]:
    """Paired runs; with ``flush`` (flushes the layer's spans, returns how many it exported so
    far) also spans per traced run and the spans untraced runs made, counted in the warm-up,
    where a flush after each run costs no measured time."""
    wall_diffs: list[float] = []
    cpu_diffs: list[float] = []
    plain_walls: list[float] = []
    plain_cpus: list[float] = []
    warmup_spans = {True: 0, False: 0}
    seen = flush() if flush is not None else 0

    def count_spans(traced: bool) -> None:
        nonlocal seen
        assert flush is not None
        exported = flush()
        warmup_spans[traced] += exported - seen
        seen = exported

    for index in range(warmup + pairs):
        counting = flush is not None and index < warmup
        timings = await timed_pair(agent, index, count_spans if counting else None)
        if index < warmup:
            continue
        wall_diffs.append(timings[True][0] - timings[False][0])
        cpu_diffs.append(timings[True][1] - timings[False][1])
        plain_walls.append(timings[False][0])
        plain_cpus.append(timings[False][1])
    wall = statistics.median(wall_diffs)
    cpu = statistics.median(cpu_diffs)
    result = {
        "plain_wall_us": statistics.median(plain_walls) * 1e6,
        "plain_cpu_us": statistics.median(plain_cpus) * 1e6,
        "added_wall_us": wall * 1e6,
        "added_cpu_us": cpu * 1e6,
        "wall_per_span_us": wall * 1e6 / SPANS_PER_RUN,
        "cpu_per_span_us": cpu * 1e6 / SPANS_PER_RUN,
        "cpu_pct": 100 * cpu / statistics.median(plain_cpus),
    }
    if flush is not None:
        result["spans_per_run"] = (flush() - seen) / pairs
        result["warmup_spans_per_run"] = warmup_spans[True] / max(warmup, 1)
        result["untraced_spans"] = warmup_spans[False]
    return result


def _run_case(kind: str, capture: str, pairs: int, warmup: int) -> dict[str, float]:
    provider = TracerProvider()
    exporter = DiscardingExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=capture)
    fake = None
    try:
        if kind == "inprocess":
            agent = support_agents_on(ScenarioModel())
        else:
            fake = FakeOpenAI()
            fake.set_responder(_loopback_responder)
            agent = support_agents_on(
                OpenAIResponsesModel(model="gpt-4o", openai_client=fake.client())
            )
        result = asyncio.run(_measure(agent, pairs, warmup))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        if fake is not None:
            fake.close()
    expected = (pairs + warmup) * SPANS_PER_RUN
    if exporter.count != expected:
        raise SystemExit(f"exported {exporter.count} spans, expected {expected}")
    return result


def _breakdown(pairs: int, warmup: int) -> None:
    """Where the in-process overhead goes, each layer measured the same paired way: the Agents
    SDK's own tracing with no processor at all, then agentel on a no-op ``TracerProvider``
    (agentel's code, no OTel SDK), then agentel with the OTel SDK as in the main table."""
    from agents.tracing import get_trace_provider, set_trace_processors

    def sdk_tracing_only() -> Any:
        processors = list(get_trace_provider()._multi_processor._processors)
        set_trace_processors([])
        return lambda: set_trace_processors(processors)

    def agentel_without_otel_sdk() -> Any:
        instrumentor = OpenAIAgentsInstrumentor()
        instrumentor.instrument(tracer_provider=NoOpTracerProvider())
        return instrumentor.uninstrument

    def agentel_with_otel_sdk() -> Any:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
        instrumentor = OpenAIAgentsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        return lambda: (instrumentor.uninstrument(), provider.shutdown())

    layers = (
        ("Agents SDK tracing only", sdk_tracing_only),
        ("+ agentel, no-op OTel", agentel_without_otel_sdk),
        ("+ OTel SDK (full)", agentel_with_otel_sdk),
    )
    print(f"{'in-process, content off':<26} {'run cpu':>9} {'+cpu/run':>9} {'+cpu %':>7}")
    for label, install in layers:
        undo = install()
        try:
            r = asyncio.run(_measure(support_agents_on(ScenarioModel()), pairs, warmup))
        finally:
            undo()
        print(
            f"{label:<26} {r['plain_cpu_us']:>7.0f}us {r['added_cpu_us']:>7.0f}us "
            f"{r['cpu_pct']:>6.1f}%",
            flush=True,
        )


def _floor(pairs: int, warmup: int) -> None:
    """agentel next to its floor and its peers, every layer paired against the same untraced
    run: the Agents SDK's own tracing alone, then bare OTel SDK spans made at the places
    agentel makes its spans (``bare_bridge.py``), then agentel with content off and on, then
    each installed peer instrumentation (``peers.py``), each through a BatchSpanProcessor to a
    discarding exporter that counts the spans. Every layer starts with no SDK trace processor
    (agentel removes the SDK's exporter to OpenAI, and so must the others, or they would pay
    for it); the SDK's own processors are put back after each.

    Spans are counted in the warm-up (at least one pair), flushed after every run: a layer
    whose untraced runs make spans would be paired against runs that pay for tracing too and
    would understate its cost, so it is marked."""
    import bare_bridge
    import peers
    from agents.tracing import get_trace_provider, set_trace_processors

    processors = list(get_trace_provider()._multi_processor._processors)

    def sdk_tracing_only(processor: SpanProcessor) -> Callable[[], None]:
        return lambda: None

    def floor(processor: SpanProcessor) -> Callable[[], None]:
        provider = _provider_with(processor)
        undo = bare_bridge.install(provider.get_tracer("floor"), ScenarioModel)
        return lambda: (undo(), provider.shutdown())  # type: ignore[return-value]

    def agentel(capture: str) -> Callable[[SpanProcessor], Callable[[], None]]:
        def install(processor: SpanProcessor) -> Callable[[], None]:
            provider = _provider_with(processor)
            instrumentor = OpenAIAgentsInstrumentor()
            instrumentor.instrument(tracer_provider=provider, capture_content=capture)
            return lambda: (instrumentor.uninstrument(), provider.shutdown())  # type: ignore[return-value]

        return install

    layers = [
        ("Agents SDK tracing only", sdk_tracing_only),
        ("floor: bare OTel spans", floor),
        ("agentel, content off", agentel("NO_CONTENT")),
        ("agentel, content on", agentel("SPAN_ONLY")),
        *peers.installed(),
    ]
    header = (
        f"{'in-process, paired':<26} {'spans':>5} {'run cpu':>9} {'+cpu/run':>9} "
        f"{'+cpu %':>7} {'x floor':>8}"
    )
    print(header)
    print("-" * len(header))
    added: dict[str, float] = {}
    marked = False
    for label, install in layers:
        exporter = DiscardingExporter()
        processor = BatchSpanProcessor(exporter)

        def flush(processor: SpanProcessor = processor, exporter: Any = exporter) -> int:
            processor.force_flush()
            return exporter.count

        set_trace_processors([])
        undo = install(processor)
        try:
            r = asyncio.run(
                _measure(support_agents_on(ScenarioModel()), pairs, max(warmup, 1), flush)
            )
        finally:
            undo()
            processor.shutdown()
            set_trace_processors(processors)
        added[label] = r["added_cpu_us"]
        floor_cpu = added.get("floor: bare OTel spans")
        ratio = f"{r['added_cpu_us'] / floor_cpu:.2f}" if floor_cpu else "-"
        # Untraced runs made spans, or traced runs made a varying number: see the docstring.
        suspect = r["untraced_spans"] > 0 or r["spans_per_run"] != r["warmup_spans_per_run"]
        marked = marked or suspect
        print(
            f"{label:<26} {r['spans_per_run']:>5.3g} {r['plain_cpu_us']:>7.0f}us "
            f"{r['added_cpu_us']:>7.0f}us {r['cpu_pct']:>6.1f}% {ratio:>8}"
            + (f"  ! {r['untraced_spans']} spans in untraced runs" if suspect else ""),
            flush=True,
        )
    if marked:
        print("! untraced runs made spans (or traced runs a varying number): cost understated")
    _floor_summary(added, [label for label, _ in layers[4:]])


def _floor_summary(added: dict[str, float], peer_labels: list[str]) -> None:
    """agentel against the peer that adds the least CPU (content off, as agentel's default,
    and on, as the peers record tool arguments and results by default), and content on
    against off."""
    off, on = added["agentel, content off"], added["agentel, content on"]
    content = f"content on adds {100 * (on - off) / off:+.0f} % to content off"
    if not peer_labels:
        print(f"agentel: no peer installed to compare with; {content}")
        return
    best = min(peer_labels, key=lambda label: added[label])
    print(
        f"agentel, content off: {off / added[best]:.2f}x the added CPU of the lightest peer "
        f"({best}, {added[best]:.0f}us), content on: {on / added[best]:.2f}x; {content}"
    )


def _provider_with(processor: SpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=400, help="measured pairs per case")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--only", choices=["inprocess", "loopback", "agno"])
    parser.add_argument("--breakdown", action="store_true", help="cost by layer, in-process")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="agentel next to bare OTel spans and the installed peers",
    )
    parser.add_argument("--exporters", action="store_true", help="end to end, real exporters")
    args = parser.parse_args()
    if args.exporters:
        import end_to_end

        end_to_end.run(args.pairs, args.warmup)
        return
    if args.floor:
        _floor(args.pairs, args.warmup)
        return
    if args.breakdown:
        _breakdown(args.pairs, args.warmup)
        return
    if args.only == "agno":
        _agno(args.pairs, args.warmup)
        return
    kinds = [args.only] if args.only else ["inprocess", "loopback"]
    header = (
        f"{'model':<10} {'content':<10} {'run wall':>9} {'run cpu':>9} {'+wall/run':>10} "
        f"{'+cpu/run':>9} {'+wall/span':>11} {'+cpu/span':>10} {'+cpu %':>7}"
    )
    print(header)
    print("-" * len(header))
    for kind in kinds:
        pairs = args.pairs if kind == "inprocess" else max(50, args.pairs // 4)
        for capture in ("NO_CONTENT", "SPAN_ONLY"):
            r = _run_case(kind, capture, pairs, args.warmup)
            label = "off" if capture == "NO_CONTENT" else "on"
            print(
                f"{kind:<10} {label:<10} {r['plain_wall_us']:>7.0f}us {r['plain_cpu_us']:>7.0f}us "
                f"{r['added_wall_us']:>8.0f}us {r['added_cpu_us']:>7.0f}us "
                f"{r['wall_per_span_us']:>9.1f}us {r['cpu_per_span_us']:>8.1f}us "
                f"{r['cpu_pct']:>6.1f}%",
                flush=True,
            )
    if not args.only:
        print()
        _agno(args.pairs, args.warmup)


def _agno(pairs: int, warmup: int) -> None:
    """Agno (``agno_scenario.py``: an agent calls two tools, then answers) on an in-process
    model and over loopback HTTP: agentel with content off and on, and Agno's own tracing (the
    OpenInference instrumentor ``agno.tracing.setup_tracing`` installs, when
    ``openinference-instrumentation-agno`` is installed), each through a BatchSpanProcessor to
    a discarding exporter, each paired against the same untraced run. Spans per run are
    counted, as the two tracers do not make the same spans."""
    import agno_scenario

    def agentel(capture: str, exporter: DiscardingExporter) -> Any:
        from agentel.instrumentation.agno import AgnoInstrumentor

        def install() -> Any:
            provider = _discarding_provider(exporter)
            instrumentor = AgnoInstrumentor()
            instrumentor.instrument(tracer_provider=provider, capture_content=capture)
            return lambda: (instrumentor.uninstrument(), provider.shutdown())

        return install

    def agnos_own(capture: str, exporter: DiscardingExporter) -> Any:
        from openinference.instrumentation.agno import AgnoInstrumentor

        def install() -> Any:
            provider = _discarding_provider(exporter)
            instrumentor = AgnoInstrumentor()
            instrumentor.instrument(tracer_provider=provider)
            return lambda: (instrumentor.uninstrument(), provider.shutdown())

        return install

    layers = [("agentel, content off", agentel, "NO_CONTENT")]
    layers.append(("agentel, content on", agentel, "SPAN_ONLY"))
    if importlib.util.find_spec("openinference.instrumentation.agno") is not None:
        layers.append(("Agno's own tracing", agnos_own, ""))
    else:
        print("(openinference-instrumentation-agno is not installed: Agno's own tracing skipped)")
    header = (
        f"{'agno':<10} {'tracer':<22} {'spans':>5} {'run cpu':>9} {'+cpu/run':>9} "
        f"{'+cpu/span':>10} {'+cpu %':>7}"
    )
    print(header)
    print("-" * len(header))
    for kind in ("inprocess", "loopback"):
        kind_pairs = pairs if kind == "inprocess" else max(50, pairs // 4)
        with agno_scenario.scenario_model(kind) as model:
            for label, tracer, capture in layers:
                exporter = DiscardingExporter()
                r = agno_scenario.measure(model, tracer(capture, exporter), kind_pairs, warmup)
                spans = exporter.count / r["traced_runs"]
                print(
                    f"{kind:<10} {label:<22} {spans:>5.0f} {r['plain_cpu_us']:>7.0f}us "
                    f"{r['added_cpu_us']:>7.0f}us {r['added_cpu_us'] / spans:>8.1f}us "
                    f"{r['cpu_pct']:>6.1f}%",
                    flush=True,
                )


def _discarding_provider(exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


if __name__ == "__main__":
    main()
