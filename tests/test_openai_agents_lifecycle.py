"""Switches, instrument/uninstrument symmetry, robustness and concurrency."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import subprocess
import sys
import threading
import time
from types import FunctionType
from typing import Any

import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool, trace
from agents.run import AgentRunner
from agents.tracing import get_trace_provider
from agents.tracing.processors import default_processor
from opentelemetry.trace import StatusCode

import agentel
from agent_fixtures import SUPPORT_SCRIPT, Traced, make_traced, support_agents, tree
from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor, convert
from fake_openai import FakeOpenAI, Reply, ToolCall


def _processors() -> tuple[Any, ...]:
    return get_trace_provider()._multi_processor._processors


async def test_sdk_tracing_switches_mean_no_spans(
    traced: Traced, fake_openai: FakeOpenAI, monkeypatch
):
    fake_openai.set_responder(lambda request: Reply(text="ok"))
    agent = support_agents(fake_openai)
    await Runner.run(agent, "a", run_config=RunConfig(tracing_disabled=True))
    with trace("off", disabled=True):
        await Runner.run(agent, "b")
    assert traced.spans() == []
    assert len(fake_openai.requests) == 2


async def test_uninstrument_restores_originals_and_stops_spans(fake_openai: FakeOpenAI):
    from agents.models.openai_responses import OpenAIResponsesModel as ModelClass

    originals = (AgentRunner.run, AgentRunner.run_streamed, ModelClass.get_response)
    processors_before = _processors()
    fake_openai.set_responder(lambda request: Reply(text="ok"))
    agent = support_agents(fake_openai)
    tool = agent.tools[0]
    invoker_before = tool.on_invoke_tool

    traced = make_traced()
    assert AgentRunner.run is not originals[0]
    assert default_processor() not in _processors()
    await Runner.run(agent, "a")
    assert tool.on_invoke_tool is not invoker_before  # patched for the run
    assert len(traced.spans()) == 3

    traced.instrumentor.uninstrument()
    assert (AgentRunner.run, AgentRunner.run_streamed, ModelClass.get_response) == originals
    assert tool.on_invoke_tool is invoker_before
    assert _processors() == processors_before
    traced.exporter.clear()
    await Runner.run(agent, "b")
    assert traced.spans() == []


async def test_instrument_twice_is_harmless(fake_openai: FakeOpenAI):
    traced = make_traced()
    try:
        OpenAIAgentsInstrumentor().instrument(tracer_provider=traced.tracer_provider)
        fake_openai.set_responder(lambda request: Reply(text="ok"))
        await Runner.run(support_agents(fake_openai), "a")
    finally:
        traced.instrumentor.uninstrument()
    assert len(traced.named("chat gpt-4o")) == 1


async def test_keep_openai_export_keeps_the_sdk_exporter():
    traced = make_traced(keep_openai_export=True)
    try:
        assert default_processor() in _processors()
    finally:
        traced.instrumentor.uninstrument()
    assert default_processor() in _processors()


async def test_converter_failure_leaves_the_run_untouched(
    traced_with_content: Traced, fake_openai: FakeOpenAI, monkeypatch
):
    fake_openai.script(SUPPORT_SCRIPT)
    expected = "Refunded 5.5 on order A7."

    def broken(*args, **kwargs):
        raise RuntimeError("converter bug")

    for name in ("input_messages_json", "output_messages_json", "tool_definitions_json"):
        monkeypatch.setattr(convert, name, broken)
    result = await Runner.run(support_agents(fake_openai), "Refund order A7 please")

    assert result.final_output == expected
    assert len(result.raw_responses) == 4
    spans = traced_with_content.spans()
    assert len(traced_with_content.named("chat gpt-4o")) == 4
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


async def test_sdk_objects_we_do_not_understand_are_survived(
    traced: Traced, fake_openai: FakeOpenAI
):
    """A model object with none of the attributes we read still runs and still gets a span."""
    from agents.models.interface import Model

    class OddModel(Model):
        async def get_response(self, *args, **kwargs):
            return await real.get_response(*args, **kwargs)

        def stream_response(self, *args, **kwargs):
            return real.stream_response(*args, **kwargs)

    real = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    fake_openai.script([Reply(text="fine")])
    result = await Runner.run(Agent(name="odd", model=OddModel()), "hi")
    assert result.final_output == "fine"
    # the odd model's call and the real model's call inside it are distinct model objects
    names = [s.name for s in traced.spans()]
    assert "chat OddModel" in names
    odd = traced.one("chat OddModel")
    assert odd.attributes["gen_ai.provider.name"] == "_OTHER"


@pytest.mark.parametrize("cancel", [True, False])
async def test_abandoned_stream_ends_every_span(traced: Traced, fake_openai: FakeOpenAI, cancel):
    fake_openai.script(SUPPORT_SCRIPT)
    result = Runner.run_streamed(support_agents(fake_openai), "Refund order A7 please")
    async for event in result.stream_events():
        if event.type == "run_item_stream_event":
            break  # the user stops reading half-way
    if cancel:
        result.cancel()
    deadline = time.monotonic() + 30  # the SDK's run task ends on its own schedule
    while not traced.named("invoke_workflow Agent workflow"):
        assert time.monotonic() < deadline, [s.name for s in traced.spans()]
        await asyncio.sleep(0.02)
    spans = traced.spans()
    assert spans[0].name == "invoke_workflow Agent workflow"
    assert all(s.end_time is not None for s in spans)
    started = {s.name for s in spans}
    assert {"invoke_agent triage", "chat gpt-4o"} <= started


async def test_fifty_concurrent_runs_make_fifty_traces(traced: Traced, fake_openai: FakeOpenAI):
    def responder(request):
        if request.tool_outputs:
            return Reply(text=f"done {request.user_text}")
        return Reply(tool_calls=[ToolCall("lookup_order", {"order_id": request.user_text})])

    fake_openai.set_responder(responder)
    agent = support_agents(fake_openai)
    results = await asyncio.gather(
        *(
            Runner.run(agent, f"order-{i}", run_config=RunConfig(group_id=f"c{i}"))
            for i in range(50)
        )
    )
    assert [r.final_output for r in results] == [f"done order-{i}" for i in range(50)]
    _assert_separate_complete_traces(traced, 50)


def test_eight_threads_with_run_sync(traced: Traced, fake_openai: FakeOpenAI):
    def responder(request):
        if request.tool_outputs:
            return Reply(text=f"done {request.user_text}")
        return Reply(tool_calls=[ToolCall("lookup_order", {"order_id": request.user_text})])

    fake_openai.set_responder(responder)
    outputs: dict[int, str] = {}

    def worker(i: int) -> None:
        agent = support_agents(fake_openai)
        outputs[i] = Runner.run_sync(
            agent, f"order-{i}", run_config=RunConfig(group_id=f"c{i}")
        ).final_output

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outputs == {i: f"done order-{i}" for i in range(8)}
    _assert_separate_complete_traces(traced, 8)


def _assert_separate_complete_traces(traced: Traced, count: int) -> None:
    by_trace: dict[int, list] = {}
    for span in traced.spans():
        by_trace.setdefault(span.context.trace_id, []).append(span)
    assert len(by_trace) == count
    for spans in by_trace.values():
        assert tree(spans) == [
            "invoke_workflow Agent workflow",
            "  invoke_agent triage",
            "    chat gpt-4o",
            "    execute_tool lookup_order",
            "    chat gpt-4o",
        ]
        assert len({s.attributes["gen_ai.conversation.id"] for s in spans}) == 1


def test_entry_point_for_opentelemetry_instrument():
    entry_points = importlib.metadata.entry_points(group="opentelemetry_instrumentor")
    ours = [ep for ep in entry_points if ep.name == "agentel_openai_agents"]
    assert len(ours) == 1
    assert ours[0].load() is OpenAIAgentsInstrumentor
    assert "openai-agents >= 0.21" in OpenAIAgentsInstrumentor().instrumentation_dependencies()


async def test_agentel_instrument_does_every_installed_framework(fake_openai: FakeOpenAI):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert "openai-agents" in agentel.instrument(tracer_provider=provider)
    try:
        fake_openai.set_responder(lambda request: Reply(text="ok"))
        await Runner.run(support_agents(fake_openai), "a")
    finally:
        agentel.uninstrument()
    assert [s.name for s in exporter.get_finished_spans()][-1] == "invoke_workflow Agent workflow"
    assert not OpenAIAgentsInstrumentor().is_instrumented_by_opentelemetry


@function_tool
def _unused() -> str:
    """Defined at import time, before any instrumentation, like most apps' tools."""
    return "x"


_ENV_SWITCH_APP = """
from agents import Agent, Runner
from agents.testing import ScriptedModel, assistant_message
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agentel

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
agentel.instrument(tracer_provider=provider)
model = ScriptedModel([[assistant_message("ok")]])
print(Runner.run_sync(Agent(name="a", model=model), "hi").final_output)
print(len(exporter.get_finished_spans()))
"""


@pytest.mark.parametrize(("value", "spans"), [("1", "0"), ("", "3")])
def test_openai_agents_disable_tracing_env(value: str, spans: str):
    """The SDK reads the variable once, when its trace provider is made: so a fresh process."""
    env = {**os.environ, "OPENAI_AGENTS_DISABLE_TRACING": value}
    done = subprocess.run(
        [sys.executable, "-c", _ENV_SWITCH_APP], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", spans]


def _sdk_functions() -> dict[tuple[str, str], Any]:
    """Every function and method of the loaded modules of the SDK and of the OpenAI client,
    and of their classes, by (module, qualified name): what an instrumentor could replace."""
    import wrapt

    functions = (FunctionType, classmethod, staticmethod, property, wrapt.FunctionWrapper)
    found: dict[tuple[str, str], Any] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.partition(".")[0] not in ("agents", "openai"):
            continue
        for name, value in list(vars(module).items()):
            kind = type(value)  # not isinstance(): the client's lazy proxies would load
            if issubclass(kind, type) and value.__module__ == module_name:
                for attribute, member in list(vars(value).items()):
                    if issubclass(type(member), functions):
                        found[(module_name, f"{value.__qualname__}.{attribute}")] = member
            elif issubclass(kind, functions):
                found[(module_name, name)] = value
    return found


# What agentel patches in every supported SDK release (newer ones add tool guardrails and a
# tool-failure hook): the check below covers whatever else was patched as well.
EVERY_SDK_RELEASE_PATCHES = {
    ("agents.run", "AgentRunner.run"),
    ("agents.run", "AgentRunner.run_streamed"),
    ("agents.tool", "FunctionTool.__post_init__"),
    ("agents.handoffs", "Handoff.__init__"),
    ("agents.guardrail", "InputGuardrail.run"),
    ("agents.guardrail", "OutputGuardrail.run"),
    ("agents.models.openai_responses", "OpenAIResponsesModel.get_response"),
    ("agents.models.openai_responses", "OpenAIResponsesModel.stream_response"),
    ("agents.models.openai_chatcompletions", "OpenAIChatCompletionsModel.get_response"),
    ("agents.models.openai_chatcompletions", "OpenAIChatCompletionsModel.stream_response"),
    ("openai.resources.chat.completions.completions", "AsyncCompletions.create"),
}


async def test_uninstrument_puts_back_every_function_it_patched(fake_openai: FakeOpenAI):
    """Class methods, module functions, Model.__init_subclass__, model classes defined while
    instrumented, and tool and handoff objects made before or during: all as they were."""
    import wrapt
    from agents import handoff
    from agents.models.interface import Model
    from openai.resources.chat.completions import AsyncCompletions

    triage = support_agents(fake_openai)  # its tool was made before instrument
    triage.handoffs = [handoff(triage.handoffs[0])]  # and so was this handoff object
    early = [(triage.tools[0], "on_invoke_tool"), (triage.handoffs[0], "on_invoke_handoff")]
    early_invokers = [vars(obj)[attribute] for obj, attribute in early]

    def invokers_are_the_originals() -> list[bool]:
        return [vars(o)[a] is i for (o, a), i in zip(early, early_invokers, strict=True)]

    before = _sdk_functions()  # AsyncCompletions, imported above, is among them
    assert ("openai.resources.chat.completions.completions", "AsyncCompletions.create") in before
    del AsyncCompletions
    init_subclass_before = vars(Model).get("__init_subclass__")

    traced = make_traced()
    try:
        during = _sdk_functions()
        patched = {key for key, value in during.items() if before.get(key, value) is not value}
        modules = {module for module, _ in before}
        added = {key for key in set(during) - set(before) if key[0] in modules}

        class LateModel(OpenAIResponsesModel):  # defined while instrumented: wrapped at once
            async def get_response(self, *args, **kwargs):
                return await super().get_response(*args, **kwargs)

        late_get_response = LateModel.__dict__["get_response"]
        fake_openai.script(SUPPORT_SCRIPT)
        await Runner.run(triage, "Refund order A7 please")
        assert invokers_are_the_originals() == [False, False]  # wrapped for the run
        late_tool = support_agents(fake_openai).handoffs[0].tools[0]  # made while instrumented
        fake_openai.script([Reply(text="ok")])
        late_model = LateModel(model="gpt-4o", openai_client=fake_openai.client())
        await Runner.run(Agent(name="late", model=late_model), "hi")
        assert len(traced.named("chat gpt-4o")) == 5  # every call was traced
    finally:
        traced.instrumentor.uninstrument()

    after = _sdk_functions()
    assert patched >= EVERY_SDK_RELEASE_PATCHES, sorted(EVERY_SDK_RELEASE_PATCHES - patched)
    assert {key for key in patched if after.get(key) is not before[key]} == set()
    assert ("agents.models.interface", "Model.__init_subclass__") in added
    assert added & set(after) == set()
    assert [key for key, value in after.items() if isinstance(value, wrapt.FunctionWrapper)] == []
    assert vars(Model).get("__init_subclass__") is init_subclass_before
    assert isinstance(late_get_response, wrapt.FunctionWrapper)
    assert LateModel.__dict__["get_response"] is late_get_response.__wrapped__
    assert invokers_are_the_originals() == [True, True]
    assert not isinstance(vars(late_tool)["on_invoke_tool"], wrapt.FunctionWrapper)
