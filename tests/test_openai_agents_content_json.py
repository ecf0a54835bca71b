"""Content JSON assembled from parts encoded once is the JSON a fresh conversion gives.

Model calls resend the whole conversation, the tool definitions and the instructions, so
their parts come from a cache; these tests hold the cached text to the uncached one for every
item shape the converter knows, on a first call and on a call that hits the cache, and show
that a tool definition changed in place is not answered with its old text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents import Agent, function_tool, handoff
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_reasoning_item import Summary

from agentel import content
from agentel.instrumentation.openai_agents import convert

UNBOUNDED = 10**9


def _output_items() -> list[Any]:
    return [
        ResponseReasoningItem(
            id="rs_1", type="reasoning", summary=[Summary(text="think", type="summary_text")]
        ),
        ResponseOutputMessage(
            id="msg_1",
            type="message",
            role="assistant",
            status="completed",
            content=[
                ResponseOutputText(type="output_text", text="Looking it up", annotations=[]),
                ResponseOutputRefusal(type="refusal", refusal="not that"),
            ],
        ),
        ResponseFunctionToolCall(
            type="function_call", call_id="call_1", name="lookup_order", arguments='{"order": "A7"}'
        ),
        ResponseFunctionToolCall(
            type="function_call", call_id="call_2", name="refund", arguments="not json"
        ),
    ]


def _input_items() -> list[Any]:
    return [
        {"role": "developer", "content": "Be brief"},
        {"role": "user", "content": "My order A7 arrived broken, please refund"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "this photo"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                {"type": "input_file", "file_id": "file_9"},
            ],
        },
        *[item.model_dump(exclude_unset=True) for item in _output_items()],
        {"type": "function_call_output", "call_id": "call_1", "output": '{"status": "broken"}'},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": [{"type": "input_text", "text": "x"}],
        },
        {"type": "function_call", "call_id": "call_3", "name": "refund", "arguments": None},
        {"type": "item_reference", "id": "ref_1"},
        {"role": "assistant", "content": "Refunded 5.5"},
    ]


@pytest.mark.parametrize("capture_blobs", [False, True])
def test_input_messages_text_is_the_fresh_conversion_on_every_call(capture_blobs: bool):
    items = _input_items()
    expected = content.to_json(convert.input_messages(items, capture_blobs), UNBOUNDED)
    first = convert.input_messages_json(items, capture_blobs, UNBOUNDED)
    again = convert.input_messages_json(_input_items(), capture_blobs, UNBOUNDED)
    assert first == expected
    assert again == expected
    roles = [message["role"] for message in json.loads(first)]
    assert roles == ["system", "user", "user", "assistant", "tool", "assistant"]


def test_output_messages_text_is_the_fresh_conversion_and_feeds_the_next_input():
    items = _output_items()
    expected = content.to_json(convert.output_messages(items, "tool_call", False), UNBOUNDED)
    assert convert.output_messages_json(items, "tool_call", False, UNBOUNDED) == expected
    message = json.loads(expected)[0]
    assert message["finish_reason"] == "tool_call"
    assert message["parts"][-2]["arguments"] == {"order": "A7"}


def test_a_resent_tool_call_is_encoded_once(monkeypatch: pytest.MonkeyPatch):
    built: list[str | None] = []
    original = content.tool_call_part

    def counting(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
        built.append(call_id)
        return original(call_id, name, arguments)

    monkeypatch.setattr(content, "tool_call_part", counting)
    call = {"type": "function_call", "call_id": "call_once", "name": "f", "arguments": "{}"}
    for _ in range(3):
        history = [{"role": "user", "content": "hi"}, dict(call)]
        convert.input_messages_json(history, False, UNBOUNDED)
    assert built == ["call_once"]


def test_long_content_is_truncated_as_before():
    items = [*_input_items(), {"role": "user", "content": "x" * 5000}]
    expected = content.to_json(convert.input_messages(items, False), 600)
    text = convert.input_messages_json(items, False, 600)
    assert text == expected
    assert len(text) <= 600
    json.loads(text)
    output = convert.output_messages_json(_output_items(), "stop", False, 120)
    assert output == content.to_json(convert.output_messages(_output_items(), "stop", False), 120)


def test_tool_definitions_text_follows_a_definition_changed_in_place():
    @function_tool
    def lookup_order(order: str) -> str:
        """Find an order."""
        return order

    billing = Agent(name="billing")
    handoffs = [handoff(billing)]
    expected = content.to_json(convert.tool_definitions([lookup_order], handoffs), UNBOUNDED)
    assert convert.tool_definitions_json([lookup_order], handoffs, UNBOUNDED) == expected
    # The SDK builds a new handoff for every model call: equal, so the same text.
    assert convert.tool_definitions_json([lookup_order], [handoff(billing)], UNBOUNDED) == expected

    schema = lookup_order.params_json_schema
    schema["properties"]["order"]["description"] = "The order id"
    changed = convert.tool_definitions_json([lookup_order], handoffs, UNBOUNDED)
    assert json.loads(changed)[0]["parameters"]["properties"]["order"]["description"] == (
        "The order id"
    )
    lookup_order.description = "Find an order by id."
    renamed = convert.tool_definitions_json([lookup_order], handoffs, UNBOUNDED)
    assert json.loads(renamed)[0]["description"] == "Find an order by id."
    assert renamed == content.to_json(convert.tool_definitions([lookup_order], handoffs), UNBOUNDED)


def test_system_instructions_text_is_the_fresh_conversion():
    for text in ("Route the customer", "Route the customer", "é" * 3):
        expected = content.to_json(content.system_instructions(text), UNBOUNDED)
        assert convert.system_instructions_json(text, UNBOUNDED) == expected
    long = "y" * 4000
    assert convert.system_instructions_json(long, 300) == content.to_json(
        content.system_instructions(long), 300
    )
