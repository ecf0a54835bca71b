"""Message content: off by default, on when asked, off again for a run that says so."""

from __future__ import annotations

import json

import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner

from agent_fixtures import SUPPORT_SCRIPT, Traced, make_traced, support_agents
from agentel.settings import ContentCapture, parse_content_capture
from fake_openai import FakeOpenAI, Reply

CONTENT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
)


def _content_keys(traced: Traced) -> set[str]:
    return {k for s in traced.spans() for k in s.attributes if k in CONTENT_KEYS}


async def test_content_is_off_by_default(traced: Traced, fake_openai: FakeOpenAI):
    fake_openai.script(SUPPORT_SCRIPT)
    await Runner.run(support_agents(fake_openai), "Refund order A7 please")
    assert _content_keys(traced) == set()
    assert not [e for s in traced.spans() for e in s.events if "inference" in e.name]


async def test_content_on_follows_the_semconv_shapes(traced_with_content: Traced, fake_openai):
    traced = traced_with_content
    fake_openai.script(SUPPORT_SCRIPT)
    await Runner.run(support_agents(fake_openai), "Refund order A7 please")

    assert _content_keys(traced) == set(CONTENT_KEYS)
    first, second, _, last = traced.named("chat gpt-4o")
    assert json.loads(first.attributes["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "You route customer requests."}
    ]
    assert json.loads(first.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Refund order A7 please"}]}
    ]
    assert json.loads(first.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_lookup",
                    "name": "lookup_order",
                    "arguments": {"order_id": "A7"},
                }
            ],
            "finish_reason": "tool_call",
        }
    ]
    second_input = json.loads(second.attributes["gen_ai.input.messages"])
    assert second_input[-1] == {
        "role": "tool",
        "parts": [
            {"type": "tool_call_response", "id": "call_lookup", "response": "order A7: shipped"}
        ],
    }
    definitions = json.loads(first.attributes["gen_ai.tool.definitions"])
    assert [d["name"] for d in definitions] == ["lookup_order", "transfer_to_billing"]
    assert definitions[0]["type"] == "function"
    assert definitions[0]["description"] == "Look up an order by its id."
    assert definitions[0]["parameters"]["properties"]["order_id"]["type"] == "string"
    assert json.loads(last.attributes["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Refunded 5.5 on order A7."}
    ]

    tool = traced.one("execute_tool refund")
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {
        "order_id": "A7",
        "amount": 5.5,
    }
    assert json.loads(tool.attributes["gen_ai.tool.call.result"]) == "refunded 5.5 on A7"

    triage = traced.one("invoke_agent triage")
    assert json.loads(triage.attributes["gen_ai.input.messages"])[0]["parts"][0]["content"] == (
        "Refund order A7 please"
    )
    billing = traced.one("invoke_agent billing")
    assert "Refunded 5.5" in billing.attributes["gen_ai.output.messages"]
    assert "You handle refunds." in billing.attributes["gen_ai.system_instructions"]


async def test_run_without_sensitive_data_records_no_content(
    traced_with_content: Traced, fake_openai
):
    fake_openai.script(SUPPORT_SCRIPT)
    config = RunConfig(trace_include_sensitive_data=False)
    await Runner.run(support_agents(fake_openai), "Refund order A7 please", run_config=config)
    assert _content_keys(traced_with_content) == set()
    assert len(traced_with_content.named("chat gpt-4o")) == 4


async def test_content_as_events(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "event_only")
    traced = make_traced()
    try:
        fake_openai.script([Reply(text="Hello!")])
        model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
        await Runner.run(Agent(name="greeter", model=model), "hi")
    finally:
        traced.instrumentor.uninstrument()
    chat = traced.one("chat gpt-4o")
    assert "gen_ai.input.messages" not in chat.attributes
    events = [e for e in chat.events if e.name == "gen_ai.client.inference.operation.details"]
    assert len(events) == 2
    assert "hi" in events[0].attributes["gen_ai.input.messages"]
    assert "Hello!" in events[1].attributes["gen_ai.output.messages"]


async def test_long_content_is_bounded_and_stays_valid_json(monkeypatch, fake_openai: FakeOpenAI):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    traced = make_traced(content_max_length=2000)
    try:
        fake_openai.script([Reply(text="y" * 10_000)])
        model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
        image = "data:image/png;base64," + "A" * 40_000
        await Runner.run(
            Agent(name="viewer", model=model),
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "x" * 10_000},
                        {"type": "input_image", "image_url": image, "detail": "auto"},
                    ],
                }
            ],
        )
    finally:
        traced.instrumentor.uninstrument()
    chat = traced.one("chat gpt-4o")
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        value = chat.attributes[key]
        assert len(value) <= 2000
        json.loads(value)
    parts = json.loads(chat.attributes["gen_ai.input.messages"])[0]["parts"]
    assert parts[0]["content"].startswith("xxx") and "truncated" in parts[0]["content"]
    assert parts[1] == {
        "type": "blob",
        "modality": "image",
        "mime_type": "image/png",
        "content": "[blob omitted: 30000 bytes]",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SPAN_ONLY", ContentCapture.SPAN_ONLY),
        ("span_and_event", ContentCapture.SPAN_AND_EVENT),
        ("true", ContentCapture.SPAN_ONLY),
        ("1", ContentCapture.SPAN_ONLY),
        ("false", ContentCapture.NO_CONTENT),
        ("0", ContentCapture.NO_CONTENT),
        (None, ContentCapture.NO_CONTENT),
    ],
)
def test_capture_switch_values(raw, expected):
    assert parse_content_capture(raw) is expected


def test_unknown_capture_value_warns_with_the_accepted_values(caplog):
    assert parse_content_capture("everything") is ContentCapture.NO_CONTENT
    message = caplog.records[-1].getMessage()
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in message
    assert "SPAN_ONLY" in message and "EVENT_ONLY" in message and "NO_CONTENT" in message


async def test_event_only_puts_no_content_on_any_span(
    monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI
):
    """Agent and tool spans included: with EVENT_ONLY, content lives in events alone."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    traced = make_traced()
    try:
        fake_openai.script(SUPPORT_SCRIPT)
        await Runner.run(support_agents(fake_openai), "Refund order A7 please")
    finally:
        traced.instrumentor.uninstrument()

    names = {s.name for s in traced.spans()}
    assert {"invoke_agent triage", "invoke_agent billing", "execute_tool refund"} <= names
    assert _content_keys(traced) == set()
    events = [
        e
        for s in traced.named("chat gpt-4o")
        for e in s.events
        if e.name == "gen_ai.client.inference.operation.details"
    ]
    assert len(events) == 2 * 4  # the content went to events: input and output per call
    assert "Refund order A7 please" in events[0].attributes["gen_ai.input.messages"]
