"""Tests of the fake OpenAI server itself.

Every other test trusts the fake to behave like the real API for the real ``openai`` client and
the real Agents SDK, so these tests drive exactly that stack (no mocks) and also validate the
payloads against the ``openai`` pydantic types, which the client itself does not do (it builds
models without validation, so a malformed fake would otherwise go unnoticed).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
)
from agents.items import ModelResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from fake_openai import FakeOpenAI, Reply, Request, ToolCall, Usage

MODEL_CLASSES = [OpenAIResponsesModel, OpenAIChatCompletionsModel]
MODEL_IDS = ["responses", "chat"]
NO_TRACING = RunConfig(tracing_disabled=True)


def make_model(
    fake: FakeOpenAI, model_class: type, client: openai.AsyncOpenAI | None = None
) -> Any:
    return model_class(model="gpt-4o", openai_client=client or fake.client())


def make_agent(fake: FakeOpenAI, model_class: type, **kwargs: Any) -> Agent[Any]:
    # The fake is not api.openai.com, so the SDK would not ask for usage on Chat streams by
    # default; include_usage makes streamed chat runs report tokens like the real service.
    kwargs.setdefault("model_settings", ModelSettings(include_usage=True))
    return Agent(model=make_model(fake, model_class), **kwargs)


async def run_agent(agent: Agent[Any], prompt: str, stream: bool) -> Any:
    """Run with or without streaming; the streamed result is fully consumed, as apps do."""
    if not stream:
        return await Runner.run(agent, prompt, run_config=NO_TRACING)
    result = Runner.run_streamed(agent, prompt, run_config=NO_TRACING)
    async for _ in result.stream_events():
        pass
    return result


@pytest.mark.parametrize("stream", [False, True], ids=["sync", "stream"])
@pytest.mark.parametrize("model_class", MODEL_CLASSES, ids=MODEL_IDS)
async def test_tool_call_then_answer(fake_openai: FakeOpenAI, model_class: type, stream: bool):
    seen: list[tuple[str, int]] = []

    @function_tool
    def get_weather(city: str, days: int) -> str:
        """Weather forecast for a city."""
        seen.append((city, days))
        return f"sunny in {city}"

    fake_openai.script(
        [
            Reply(
                tool_calls=[ToolCall("get_weather", {"city": "Paris", "days": 2})],
                usage=Usage(input_tokens=7, output_tokens=3, cached_tokens=2, reasoning_tokens=1),
            ),
            Reply(
                text="It is sunny in Paris.",
                usage=Usage(input_tokens=20, output_tokens=8, cached_tokens=4, reasoning_tokens=2),
            ),
        ]
    )
    agent = make_agent(fake_openai, model_class, name="weather", instructions="Be brief.")
    agent.tools = [get_weather]

    result = await run_agent(agent, "Weather in Paris?", stream)

    assert result.final_output == "It is sunny in Paris."
    assert seen == [("Paris", 2)]
    assert len(fake_openai.requests) == 2
    first, second = fake_openai.requests
    api = "responses" if model_class is OpenAIResponsesModel else "chat"
    assert [first.api, second.api] == [api, api]
    assert first.stream is stream and second.stream is stream
    assert first.instructions == "Be brief."
    assert first.user_text == "Weather in Paris?"
    assert first.tool_outputs == []
    assert second.tool_outputs == ["sunny in Paris"]
    assert first.headers["authorization"] == "Bearer test-key"

    usage = result.context_wrapper.usage
    assert usage.requests == 2
    assert usage.input_tokens == 27
    assert usage.output_tokens == 11
    assert usage.total_tokens == 38
    assert usage.input_tokens_details.cached_tokens == 6
    assert usage.output_tokens_details.reasoning_tokens == 3
    raw: list[ModelResponse] = result.raw_responses
    assert [r.usage.input_tokens for r in raw] == [7, 20]
    assert [r.usage.output_tokens_details.reasoning_tokens for r in raw] == [1, 2]


@pytest.mark.parametrize("stream", [False, True], ids=["sync", "stream"])
@pytest.mark.parametrize("model_class", MODEL_CLASSES, ids=MODEL_IDS)
async def test_parallel_tool_calls(fake_openai: FakeOpenAI, model_class: type, stream: bool):
    seen: list[str] = []

    @function_tool
    def lookup(key: str) -> str:
        """Look a key up."""
        seen.append(key)
        return key.upper()

    fake_openai.script(
        [
            Reply(
                tool_calls=[
                    ToolCall("lookup", {"key": "a"}, call_id="call_a"),
                    ToolCall("lookup", {"key": "b"}),
                ]
            ),
            Reply(text="done"),
        ]
    )
    agent = make_agent(fake_openai, model_class, name="lookup_agent", tools=[lookup])

    result = await run_agent(agent, "look up a and b", stream)

    assert result.final_output == "done"
    assert sorted(seen) == ["a", "b"]
    assert fake_openai.requests[1].tool_outputs == ["A", "B"]


@pytest.mark.parametrize("stream", [False, True], ids=["sync", "stream"])
@pytest.mark.parametrize("model_class", MODEL_CLASSES, ids=MODEL_IDS)
async def test_handoff(fake_openai: FakeOpenAI, model_class: type, stream: bool):
    agent_b = make_agent(fake_openai, model_class, name="agent_b", instructions="You are B.")
    agent_a = make_agent(
        fake_openai, model_class, name="agent_a", instructions="You are A.", handoffs=[agent_b]
    )
    fake_openai.script([Reply(tool_calls=[ToolCall("transfer_to_agent_b", {})]), Reply(text="B")])

    result = await run_agent(agent_a, "hand me over", stream)

    assert result.final_output == "B"
    assert result.last_agent is agent_b
    assert [r.instructions for r in fake_openai.requests] == ["You are A.", "You are B."]
    assert result.context_wrapper.usage.requests == 2


@pytest.mark.parametrize("stream", [False, True], ids=["sync", "stream"])
@pytest.mark.parametrize("model_class", MODEL_CLASSES, ids=MODEL_IDS)
async def test_error_status_raises(fake_openai: FakeOpenAI, model_class: type, stream: bool):
    fake_openai.script([Reply(status=500, error_message="model exploded")])
    agent = make_agent(fake_openai, model_class, name="failing")

    with pytest.raises(openai.APIStatusError) as excinfo:
        await run_agent(agent, "hi", stream)

    assert excinfo.value.status_code == 500
    assert "model exploded" in str(excinfo.value)
    assert len(fake_openai.requests) == 1  # max_retries=0: exactly one attempt


async def test_request_id_header_reaches_the_sdk(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(text="a"), Reply(text="b")])
    request_ids = []
    for model_class in MODEL_CLASSES:
        agent = make_agent(fake_openai, model_class, name="ids")
        result = await run_agent(agent, "hi", stream=False)
        request_ids.append(result.raw_responses[0].request_id)
    assert request_ids == ["req_1", "req_2"]
    assert [r.path for r in fake_openai.requests] == ["/v1/responses", "/v1/chat/completions"]


async def test_unbuildable_reply_answers_500_instead_of_hanging(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(tool_calls=[ToolCall("f", {"x": object()})])])
    with pytest.raises(openai.InternalServerError, match="could not build the reply"):
        await fake_openai.client().responses.create(model="gpt-4o", input="hi", stream=True)


async def test_string_arguments_are_sent_verbatim(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(tool_calls=[ToolCall("f", "{not json", call_id="c")])])
    completion = await fake_openai.client().chat.completions.create(model="gpt-4o", messages=[])
    tool_call = (completion.choices[0].message.tool_calls or [])[0]
    assert tool_call.type == "function"
    assert tool_call.function.arguments == "{not json"


def test_request_helpers_read_both_apis_content_shapes():
    responses = Request(
        path="/v1/responses",
        headers={},
        body={
            "model": "m",
            "stream": True,
            "instructions": "sys",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "out1"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "out2"}],
                },
                {"type": "message", "role": "user", "content": "second"},
                {"role": "assistant", "content": "not me"},
            ],
        },
    )
    assert responses.api == "responses"
    assert responses.stream is True
    assert responses.instructions == "sys"
    assert responses.tool_outputs == ["out1", "out2"]
    assert responses.user_text == "second"
    assert Request("/v1/responses", {"input": "plain"}, {}).user_text == "plain"

    chat = Request(
        path="/v1/chat/completions",
        headers={},
        body={
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "dev prompt"}]},
                {"role": "user", "content": "question"},
                {"role": "assistant", "tool_calls": [{"id": "c1"}]},
                {"role": "tool", "tool_call_id": "c1", "content": "answer"},
            ]
        },
    )
    assert chat.api == "chat"
    assert chat.stream is False
    assert chat.instructions == "dev prompt"
    assert chat.tool_outputs == ["answer"]
    assert chat.user_text == "question"
    assert Request("/v1/chat/completions", {"messages": []}, {}).instructions is None


async def test_rate_limit_status_maps_to_openai_exception(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(status=429, error_message="slow down")])
    with pytest.raises(openai.RateLimitError):
        await fake_openai.client().responses.create(model="gpt-4o", input="hi")


async def test_exhausted_script_answers_500_with_clear_message(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(text="only one")])
    client = fake_openai.client()
    await client.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.InternalServerError, match="script exhausted"):
        await client.responses.create(model="gpt-4o", input="again")


async def test_no_responder_and_raising_responder_answer_500(fake_openai: FakeOpenAI):
    client = fake_openai.client()
    with pytest.raises(openai.InternalServerError, match="no responder"):
        await client.chat.completions.create(model="gpt-4o", messages=[])

    def broken(request: Request) -> Reply:
        raise RuntimeError("responder bug")

    fake_openai.set_responder(broken)
    with pytest.raises(openai.InternalServerError, match="responder bug"):
        await client.chat.completions.create(model="gpt-4o", messages=[])


def _address(fake: FakeOpenAI) -> tuple[str, int]:
    host, port = fake.base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    return host, int(port)


def _post(
    connection: http.client.HTTPConnection, path: str, body: dict[str, Any]
) -> tuple[int, http.client.HTTPResponse, str]:
    """POST with the stdlib client, to see the exact bytes the fake sends (the openai client
    builds its models without validation and would hide a malformed payload)."""
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response, response.read().decode()


def _parse_sse(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) per SSE event; also checks every event is properly terminated."""
    assert text.endswith("\n\n")
    events = []
    for block in text[:-2].split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) <= {"event", "data"}
        events.append((fields.get("event"), fields["data"]))
    return events


@pytest.fixture
def connection(fake_openai: FakeOpenAI) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection(*_address(fake_openai), timeout=10)
    yield conn
    conn.close()


RICH_REPLY = Reply(
    text="Hello there, world",
    tool_calls=[ToolCall("f", {"x": 1}, call_id="call_x"), ToolCall("g", {})],
    usage=Usage(input_tokens=3, output_tokens=4, cached_tokens=1, reasoning_tokens=2),
)
TOOLS = [{"type": "function", "name": "f", "parameters": {}, "strict": False}]


def test_responses_json_validates_against_openai_types(
    fake_openai: FakeOpenAI, connection: http.client.HTTPConnection
):
    fake_openai.script([RICH_REPLY])
    body = {"model": "gpt-4o", "input": "hi", "instructions": "sys", "tools": TOOLS}
    status, response, text = _post(connection, "/v1/responses", body)

    assert status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("x-request-id") == "req_1"
    validated = Response.model_validate_json(text)
    assert validated.id == "resp_1"
    assert validated.object == "response"
    assert validated.model == "gpt-4o-2025-01-01"
    assert validated.status == "completed"
    assert validated.instructions == "sys"
    assert validated.output_text == "Hello there, world"
    assert [item.type for item in validated.output] == ["message", "function_call", "function_call"]
    call = validated.output[1]
    assert call.type == "function_call"
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("call_x", "f", {"x": 1})
    assert validated.output[2].type == "function_call"
    assert validated.output[2].call_id == "call_1"
    assert validated.usage is not None
    assert validated.usage.input_tokens == 3
    assert validated.usage.output_tokens == 4
    assert validated.usage.input_tokens_details.cached_tokens == 1
    assert validated.usage.output_tokens_details.reasoning_tokens == 2
    assert validated.usage.total_tokens == 7


def test_responses_sse_validates_and_follows_real_event_order(
    fake_openai: FakeOpenAI, connection: http.client.HTTPConnection
):
    fake_openai.script([RICH_REPLY])
    body = {"model": "gpt-4o", "input": "hi", "tools": TOOLS, "stream": True}
    status, response, text = _post(connection, "/v1/responses", body)

    assert status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    events = []
    for name, data in _parse_sse(text):
        event = adapter.validate_json(data)
        assert name == event.type
        events.append(event)
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].response.status == "in_progress"
    assert events[0].response.usage is None
    text_deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(text_deltas) == "Hello there, world"
    arg_deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(e.delta for e in arg_deltas[:2]) == json.dumps({"x": 1})
    assert [e.output_index for e in events if e.type == "response.output_item.done"] == [0, 1, 2]
    final = events[-1].response
    assert final.status == "completed"
    assert final.output_text == "Hello there, world"
    assert final.usage is not None and final.usage.total_tokens == 7


async def test_openai_stream_helper_accumulates_the_final_response(fake_openai: FakeOpenAI):
    fake_openai.script([RICH_REPLY])
    client = fake_openai.client()
    tools: Any = TOOLS
    async with client.responses.stream(model="gpt-4o", input="hi", tools=tools) as stream:
        types = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert types[-1] == "response.completed"
    assert final.output_text == "Hello there, world"
    assert final.usage is not None and final.usage.input_tokens == 3


def test_chat_json_validates_against_openai_types(
    fake_openai: FakeOpenAI, connection: http.client.HTTPConnection
):
    fake_openai.script([replace(RICH_REPLY, model="custom-model")])
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    status, _, text = _post(connection, "/v1/chat/completions", body)

    assert status == 200
    validated = ChatCompletion.model_validate_json(text)
    assert validated.id == "chatcmpl-1"
    assert validated.object == "chat.completion"
    assert validated.model == "custom-model"
    choice = validated.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Hello there, world"
    calls = [
        (c.id, c.type, c.function.name, c.function.arguments)
        for c in choice.message.tool_calls or []
    ]
    assert calls == [("call_x", "function", "f", '{"x": 1}'), ("call_1", "function", "g", "{}")]
    usage = validated.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 4, 7)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 2


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_sse_validates_and_ends_with_done(
    fake_openai: FakeOpenAI, connection: http.client.HTTPConnection, include_usage: bool
):
    fake_openai.script([RICH_REPLY])
    body: dict[str, Any] = {"model": "gpt-4o", "messages": [], "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    status, _, text = _post(connection, "/v1/chat/completions", body)

    assert status == 200
    events = _parse_sse(text)
    assert events[-1] == (None, "[DONE]")
    chunks = [ChatCompletionChunk.model_validate_json(data) for _, data in events[:-1]]
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "Hello there, world"
    arguments: dict[int, str] = {}
    ids: dict[int, str | None] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            assert delta.function is not None
            ids.setdefault(delta.index, delta.id)
            arguments[delta.index] = arguments.get(delta.index, "") + (
                delta.function.arguments or ""
            )
    assert ids == {0: "call_x", 1: "call_1"}
    assert {i: json.loads(a) for i, a in arguments.items()} == {0: {"x": 1}, 1: {}}
    if include_usage:
        *body_chunks, finish_chunk, usage_chunk = chunks
        assert usage_chunk.choices == []
        assert usage_chunk.usage is not None and usage_chunk.usage.total_tokens == 7
        assert all(chunk.usage is None for chunk in [*body_chunks, finish_chunk])
    else:
        finish_chunk = chunks[-1]
        assert all(chunk.usage is None for chunk in chunks)
    assert finish_chunk.choices[0].finish_reason == "tool_calls"


async def test_chat_finish_reason_override(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(text="cut", finish_reason="length")])
    completion = await fake_openai.client().chat.completions.create(model="gpt-4o", messages=[])
    assert completion.choices[0].finish_reason == "length"


def test_keep_alive_connection_survives_json_and_sse_responses(
    fake_openai: FakeOpenAI, connection: http.client.HTTPConnection
):
    fake_openai.set_responder(lambda request: Reply(text=f"echo {request.user_text}"))
    requests = [
        ("/v1/responses", {"model": "m", "input": "one"}),
        ("/v1/responses", {"model": "m", "input": "two", "stream": True}),
        (
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "three"}], "stream": True},
        ),
        ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "4"}]}),
    ]
    sockets = []
    for path, body in requests:
        status, response, text = _post(connection, path, body)
        assert status == 200
        assert "echo" in text
        if body.get("stream"):
            assert response.getheader("Transfer-Encoding") == "chunked"
        else:
            assert int(response.getheader("Content-Length", "0")) == len(text)
        sockets.append(connection.sock)
    assert all(sock is sockets[0] for sock in sockets)  # one TCP connection served all four
    assert [r.user_text for r in fake_openai.requests] == ["one", "two", "three", "4"]


def test_unknown_path_is_404_json(fake_openai: FakeOpenAI, connection: http.client.HTTPConnection):
    status, _, text = _post(connection, "/v1/embeddings", {"model": "m", "input": "x"})
    assert status == 404
    error = json.loads(text)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "/v1/embeddings" in error["message"]
    connection.request("GET", "/v1/models")
    response = connection.getresponse()
    assert response.status == 404
    assert "error" in json.loads(response.read())
    assert fake_openai.requests == []


async def test_delay_is_applied_before_answering(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(text="late", delay=0.2)])
    started = time.perf_counter()
    await fake_openai.client().responses.create(model="gpt-4o", input="hi")
    assert time.perf_counter() - started >= 0.2


def test_reset_clears_requests_and_responder(fake_openai: FakeOpenAI):
    fake_openai.script([Reply(text="x")])
    asyncio.run(fake_openai.client().responses.create(model="gpt-4o", input="hi"))
    fake_openai.script([Reply(text="unused")])
    fake_openai.reset()
    assert fake_openai.requests == []
    with pytest.raises(openai.InternalServerError, match="no responder"):
        asyncio.run(fake_openai.client().responses.create(model="gpt-4o", input="hi"))


def test_start_and_close_are_fast():
    started = time.perf_counter()
    for _ in range(10):
        with FakeOpenAI() as fake:
            assert fake.base_url.startswith("http://127.0.0.1:")
    assert (time.perf_counter() - started) / 10 < 0.05


async def test_close_marks_clients_closed_so_gc_does_not_touch_a_dead_loop():
    fake = FakeOpenAI()
    fake.script([Reply(text="x")])
    client = fake.client()
    await client.responses.create(model="gpt-4o", input="hi")
    assert not client.is_closed()
    fake.close()
    fake.close()  # idempotent
    assert client.is_closed()
    with pytest.raises(openai.APIConnectionError):
        await fake.client().responses.create(model="gpt-4o", input="hi")


def _echo(request: Request) -> Reply:
    return Reply(text=f"echo {request.user_text}", delay=0.02)


async def _run_many(fake: FakeOpenAI, count: int, tag: str) -> list[str]:
    """``count`` concurrent runs on the current loop, alternating APIs and streaming."""
    client = fake.client()
    agents = [
        Agent(name=f"agent_{i}", model=make_model(fake, MODEL_CLASSES[i % 2], client))
        for i in range(count)
    ]
    results = await asyncio.gather(
        *(run_agent(agent, f"{tag}-{i}", stream=i % 4 >= 2) for i, agent in enumerate(agents))
    )
    return [result.final_output for result in results]


async def test_fifty_concurrent_runs_on_one_loop(fake_openai: FakeOpenAI):
    fake_openai.set_responder(_echo)
    outputs = await asyncio.wait_for(_run_many(fake_openai, 50, "run"), timeout=30)
    assert outputs == [f"echo run-{i}" for i in range(50)]
    assert len(fake_openai.requests) == 50


def test_concurrent_runs_from_eight_threads(fake_openai: FakeOpenAI):
    fake_openai.set_responder(_echo)
    outputs: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            outputs[n] = asyncio.run(_run_many(fake_openai, 10, f"t{n}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert all(not thread.is_alive() for thread in threads)
    assert outputs == {n: [f"echo t{n}-{i}" for i in range(10)] for n in range(8)}
    assert len(fake_openai.requests) == 80
