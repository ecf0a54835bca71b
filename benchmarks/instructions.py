"""What tracing a run costs in CPU instructions: a figure that does not drift with the machine.

Timings on shared machines drift by up to 2x between processes and by tens of percent within
one, which blurs a 10 % change. Instruction counts do not: ``valgrind --tool=cachegrind``
counts every instruction a process executes, all threads included (so the export thread's
work is counted too), and gives the same total for the same code and inputs whatever else
the machine is doing. Each layer runs the in-process scenario of ``overhead.py`` in its own
process twice, for ``--short`` and for ``--long`` runs; the difference divided by the extra
runs is the cost of one run, start-up and warm-up cancelled out. The layers:

    plain    the run with ``RunConfig(tracing_disabled=True)``: the baseline
    sdk      the Agents SDK's own tracing, no processor
    floor    the SDK's tracing + bare OTel spans at agentel's places (bare_bridge.py)
    off      agentel, content off
    on       agentel, content on

    python benchmarks/instructions.py                 # every layer, 20 and 120 runs
    python benchmarks/instructions.py --layers plain floor off --long 220
    PYTHONPATH=/path/to/other/src python benchmarks/instructions.py   # another agentel

Needs valgrind (Debian's ``valgrind``); two layers are counted at a time, one per core. A run
under valgrind is about 50 times slower: 20 and 120 runs take about a minute and a half per
layer on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LAYERS = ("plain", "sdk", "floor", "off", "on")
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def run_layer(layer: str, runs: int) -> None:
    """In the counted process: set ``layer`` up, then run the scenario ``runs`` times."""
    import overhead
    from agents import RunConfig, Runner
    from agents.tracing import set_trace_processors
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    exporter = overhead.DiscardingExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    config = RunConfig(workflow_name="bench", tracing_disabled=layer == "plain")
    if layer == "sdk":
        set_trace_processors([])
    elif layer == "floor":
        import bare_bridge

        bare_bridge.install(provider.get_tracer("floor"), overhead.ScenarioModel)
    elif layer in ("off", "on"):
        from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

        capture = "SPAN_ONLY" if layer == "on" else "NO_CONTENT"
        OpenAIAgentsInstrumentor().instrument(tracer_provider=provider, capture_content=capture)
    agent = overhead.support_agents_on(overhead.ScenarioModel())

    async def runs_of_the_scenario() -> None:
        for _ in range(runs):
            await Runner.run(agent, overhead.PROMPT, run_config=config)

    asyncio.run(runs_of_the_scenario())
    provider.force_flush()
    expected = 0 if layer in ("plain", "sdk") else runs * overhead.SPANS_PER_RUN
    if exporter.count != expected:
        raise SystemExit(f"{layer}: exported {exporter.count} spans, expected {expected}")


def count(layer: str, runs: int) -> int:
    """Instructions of one process that runs ``layer`` ``runs`` times."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        layer,
        str(runs),
    ]
    # A fixed hash seed: set and dict iteration orders, and so the work, are the same each time.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    match = _REFS.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"{layer} x{runs} failed:\n{done.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def per_run(layer: str, short: int, long: int) -> float:
    with ThreadPoolExecutor(max_workers=2) as pool:
        few, many = pool.map(lambda runs: count(layer, runs), (short, long))
    return (many - few) / (long - short)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--layers", nargs="+", choices=LAYERS, default=list(LAYERS))
    parser.add_argument("--short", type=int, default=20, help="runs in the shorter process")
    parser.add_argument("--long", type=int, default=120, help="runs in the longer process")
    parser.add_argument("--child", nargs=2, metavar=("LAYER", "RUNS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_layer(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    layers = list(dict.fromkeys(["plain", *args.layers]))
    import agentel

    print(f"agentel from {Path(agentel.__file__).parent}; {args.short} and {args.long} runs")
    header = f"{'layer':<7} {'instructions/run':>17} {'added':>11} {'x floor':>8} {'vs off':>7}"
    print(header)
    print("-" * len(header))
    counted: dict[str, float] = {}
    for layer in layers:
        counted[layer] = per_run(layer, args.short, args.long)
        added = counted[layer] - counted["plain"]
        floor = counted.get("floor", 0) - counted["plain"]
        off = counted.get("off", 0) - counted["plain"]
        ratio = f"{added / floor:.2f}" if "floor" in counted and floor > 0 else "-"
        versus_off = f"{100 * (added / off - 1):+.0f}%" if layer == "on" and off > 0 else "-"
        print(
            f"{layer:<7} {counted[layer]:>17,.0f} {added:>11,.0f} {ratio:>8} {versus_off:>7}",
            flush=True,
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
