"""A fake OpenAI HTTP server for tests.

Why a real HTTP server instead of mocking ``AsyncOpenAI``: the instrumentation under test wraps
the OpenAI Agents SDK, which talks to the ``openai`` client, which talks HTTP. Serving real HTTP
on 127.0.0.1 exercises the whole stack exactly as production does (request building, SSE
parsing, error mapping, usage conversion), so the tests break when an SDK upgrade changes any of
it, instead of silently passing against a mock that encodes our own assumptions.

The server is stdlib only (``http.server.ThreadingHTTPServer`` in a daemon thread): one thread
per connection, HTTP/1.1 keep-alive, ``Content-Length`` on JSON bodies and chunked transfer
encoding on SSE streams, so the client both sees the end of every stream and can reuse the
connection afterwards.

Typical use, with the ``fake_openai`` fixture from ``conftest.py``::

    from fake_openai import FakeOpenAI, Reply, ToolCall, Usage

    async def test_weather(fake_openai: FakeOpenAI) -> None:
        fake_openai.script([
            Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
            Reply(text="It is sunny.", usage=Usage(input_tokens=20, cached_tokens=4)),
        ])
        model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
        ...
        assert fake_openai.requests[1].tool_outputs == ["sunny"]

Note for Chat Completions streaming: the Agents SDK only asks for usage
(``stream_options.include_usage``) when talking to api.openai.com, so pass
``ModelSettings(include_usage=True)`` to get token counts from streamed chat runs; the fake,
like the real API, sends the usage chunk only when asked.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai

__all__ = [
    "FakeOpenAI",
    "Reply",
    "Request",
    "Responder",
    "ToolCall",
    "Usage",
]

RESPONSES_PATH = "/v1/responses"
CHAT_PATH = "/v1/chat/completions"


@dataclass
class ToolCall:
    """A function call the fake model makes. ``arguments`` is sent JSON-encoded, like the API;
    a ``str`` is sent verbatim, to test how callers cope with malformed arguments."""

    name: str
    arguments: dict[str, Any] | str
    call_id: str | None = None  # generated "call_<n>" if None


@dataclass
class Usage:
    """Token usage reported for one reply, mapped onto both APIs' usage shapes."""

    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class Reply:
    """What the fake model answers to one request.

    ``status != 200`` answers with an OpenAI-style JSON error body instead (also for streaming
    requests, as the real API does for errors detected before the stream starts). ``delay`` is
    slept before the first byte is written; nothing sleeps between SSE events.
    """

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    status: int = 200
    error_message: str = "fake error"
    delay: float = 0.0
    model: str | None = None  # default: the request's model + "-2025-01-01"
    finish_reason: str | None = None  # chat only; default "tool_calls" if tool_calls else "stop"


@dataclass
class Request:
    """One request the fake received, with helpers that read both APIs' request shapes."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]  # keys are lower-cased

    @property
    def api(self) -> str:
        """``"responses"`` or ``"chat"``, from the path."""
        return "chat" if self.path.rstrip("/").endswith("/chat/completions") else "responses"

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def instructions(self) -> str | None:
        """The system prompt: Responses ``instructions``; Chat: first system/developer message."""
        if self.api == "responses":
            value = self.body.get("instructions")
            return value if isinstance(value, str) or value is None else _text_of(value)
        for message in self.body.get("messages") or []:
            if isinstance(message, dict) and message.get("role") in ("system", "developer"):
                return _text_of(message.get("content"))
        return None

    @property
    def tool_outputs(self) -> list[str]:
        """Outputs of tool calls already present in the input, in order."""
        if self.api == "responses":
            return [
                _text_of(item.get("output"))
                for item in self._input_items()
                if item.get("type") == "function_call_output"
            ]
        return [
            _text_of(message.get("content"))
            for message in self.body.get("messages") or []
            if isinstance(message, dict) and message.get("role") == "tool"
        ]

    @property
    def user_text(self) -> str:
        """Text of the last user message ("" if there is none)."""
        if self.api == "responses":
            items = self._input_items()
        else:
            items = [m for m in self.body.get("messages") or [] if isinstance(m, dict)]
        for item in reversed(items):
            if item.get("role") == "user" and item.get("type", "message") == "message":
                return _text_of(item.get("content"))
        return ""

    def _input_items(self) -> list[dict[str, Any]]:
        raw = self.body.get("input")
        if isinstance(raw, str):
            return [{"role": "user", "content": raw}]
        return [item for item in raw or [] if isinstance(item, dict)]


Responder = Callable[[Request], Reply]


def _text_of(content: Any) -> str:
    """Flatten message content (a string or a list of text parts) into plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        if parts or not content:
            return "".join(parts)
    return json.dumps(content)


def _split(text: str, pieces: int) -> list[str]:
    """Split ``text`` into at most ``pieces`` non-empty chunks so streams carry several deltas."""
    if not text:
        return []
    pieces = max(1, min(pieces, len(text)))
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


class _ScriptedResponder:
    """Answers requests with a fixed list of replies, in order; 500 once exhausted."""

    def __init__(self, replies: list[Reply]) -> None:
        self._replies = list(replies)
        self._total = len(self._replies)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        return Reply(
            status=500,
            error_message=(
                f"FakeOpenAI script exhausted: all {self._total} scripted replies were used; "
                f"unexpected extra request to {request.path}"
            ),
        )


def _no_responder(request: Request) -> Reply:
    return Reply(
        status=500,
        error_message=(
            f"FakeOpenAI has no responder: call script() or set_responder() "
            f"before requesting {request.path}"
        ),
    )


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer tuned for tests: big backlog, no join on close, quiet errors."""

    daemon_threads = True
    # Idle keep-alive connections would make server_close() wait forever; close() shuts
    # their sockets down instead.
    block_on_close = False
    # 50+ clients connecting at once must not overflow the listen backlog (a dropped SYN
    # costs a 1 s retransmit).
    request_queue_size = 256
    allow_reuse_address = True

    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (and close() shutting sockets down) are normal in tests: stay
        # quiet about transport errors, but keep tracebacks of real bugs in the fake visible.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Serves /v1/responses and /v1/chat/completions from the owning FakeOpenAI."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Many small SSE writes: without TCP_NODELAY, Nagle + delayed ACK adds ~40 ms stalls.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._drain_body()
        self._send_error(404, f"Unknown path: GET {self.path}", "invalid_request_error")

    def do_POST(self) -> None:
        raw = self._drain_body()
        path = self.path.split("?", 1)[0]
        if path not in (RESPONSES_PATH, CHAT_PATH):
            self._send_error(404, f"Unknown path: POST {self.path}", "invalid_request_error")
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            self._send_error(400, f"Invalid JSON body: {exc}", "invalid_request_error")
            return
        request = Request(
            path=path,
            body=body,
            headers={key.lower(): value for key, value in self.headers.items()},
        )
        fake = self.server.fake
        responder = fake._record(request)
        try:
            reply = responder(request)
        except Exception as exc:  # a broken responder must fail the run, not hang it
            reply = Reply(status=500, error_message=f"FakeOpenAI responder raised: {exc!r}")
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.status != 200:
            self._send_error(reply.status, reply.error_message, "server_error")
            return
        builder = _ResponsesBuilder if request.api == "responses" else _ChatBuilder
        try:
            # Build everything before the first byte so a bad Reply (say, arguments that are
            # not JSON-serialisable) becomes a readable 500 instead of a dropped connection.
            built = builder(fake, request, reply)
            events = list(built.events()) if request.stream else None
            payload = None if request.stream else built.body()
        except Exception as exc:
            self._send_error(500, f"FakeOpenAI could not build the reply: {exc!r}", "server_error")
            return
        try:
            if events is not None:
                self._send_sse(events)
            else:
                assert payload is not None
                self._send_json(200, payload)
        except OSError:  # the client hung up; nothing left to answer
            self.close_connection = True

    def _drain_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.server.fake._next_id("req_"))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, error_type: str) -> None:
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        self._send_json(status, payload)

    def _send_sse(self, events: Iterable[bytes]) -> None:
        # Chunked encoding: the zero-length chunk tells the client the stream ended while the
        # connection stays open for reuse.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self.server.fake._next_id("req_"))
        self.end_headers()
        for event in events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")


def _sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


class _Builder:
    """Shared state for turning one Reply into an API payload."""

    def __init__(self, fake: FakeOpenAI, request: Request, reply: Reply) -> None:
        self.fake = fake
        self.request = request
        self.reply = reply
        self.created = int(time.time())
        self.model = reply.model or f"{request.body.get('model') or 'gpt-4o'}-2025-01-01"
        self.calls = [
            (
                call,
                call.call_id or fake._next_id("call_"),
                call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
            )
            for call in reply.tool_calls
        ]


class _ResponsesBuilder(_Builder):
    """Builds Responses API objects and the SSE event sequence the real API emits."""

    def __init__(self, fake: FakeOpenAI, request: Request, reply: Reply) -> None:
        super().__init__(fake, request, reply)
        self.response_id = fake._next_id("resp_")
        self.message_id = fake._next_id("msg_") if reply.text is not None else None
        self.call_item_ids = [fake._next_id("fc_") for _ in self.calls]

    def _message(self, status: str, text: str | None) -> dict[str, Any]:
        content = [] if text is None else [self._text_part(text)]
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    @staticmethod
    def _text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _function_call(self, index: int, status: str, arguments: str) -> dict[str, Any]:
        call, call_id, _ = self.calls[index]
        return {
            "id": self.call_item_ids[index],
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": call.name,
            "arguments": arguments,
        }

    def _output(self) -> list[dict[str, Any]]:
        output = []
        if self.reply.text is not None:
            output.append(self._message("completed", self.reply.text))
        for index, (_, _, arguments) in enumerate(self.calls):
            output.append(self._function_call(index, "completed", arguments))
        return output

    def _usage(self) -> dict[str, Any]:
        usage = self.reply.usage
        return {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {
                "cached_tokens": usage.cached_tokens,
                "cache_write_tokens": 0,
            },
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }

    def _response(self, completed: bool) -> dict[str, Any]:
        body = self.request.body
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created,
            "completed_at": int(time.time()) if completed else None,
            "status": "completed" if completed else "in_progress",
            "model": self.model,
            "output": self._output() if completed else [],
            "usage": self._usage() if completed else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "metadata": body.get("metadata") or {},
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "max_output_tokens": body.get("max_output_tokens"),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "text": body.get("text") or {"format": {"type": "text"}},
            "truncation": body.get("truncation", "disabled"),
            "background": False,
            "user": None,
        }

    def body(self) -> dict[str, Any]:
        return self._response(completed=True)

    def events(self) -> Iterator[bytes]:
        seq = itertools.count()

        def event(event_type: str, **fields: Any) -> bytes:
            return _sse({"type": event_type, "sequence_number": next(seq), **fields}, event_type)

        yield event("response.created", response=self._response(completed=False))
        yield event("response.in_progress", response=self._response(completed=False))
        output_index = 0
        if self.reply.text is not None:
            text = self.reply.text
            ids = {"item_id": self.message_id, "output_index": output_index}
            yield event(
                "response.output_item.added",
                output_index=output_index,
                item=self._message("in_progress", None),
            )
            yield event(
                "response.content_part.added", **ids, content_index=0, part=self._text_part("")
            )
            for delta in _split(text, 3):
                yield event(
                    "response.output_text.delta", **ids, content_index=0, delta=delta, logprobs=[]
                )
            yield event("response.output_text.done", **ids, content_index=0, text=text, logprobs=[])
            yield event(
                "response.content_part.done", **ids, content_index=0, part=self._text_part(text)
            )
            yield event(
                "response.output_item.done",
                output_index=output_index,
                item=self._message("completed", text),
            )
            output_index += 1
        for index, (call, _, arguments) in enumerate(self.calls):
            ids = {"item_id": self.call_item_ids[index], "output_index": output_index}
            yield event(
                "response.output_item.added",
                output_index=output_index,
                item=self._function_call(index, "in_progress", ""),
            )
            for delta in _split(arguments, 2):
                yield event("response.function_call_arguments.delta", **ids, delta=delta)
            yield event(
                "response.function_call_arguments.done", **ids, name=call.name, arguments=arguments
            )
            yield event(
                "response.output_item.done",
                output_index=output_index,
                item=self._function_call(index, "completed", arguments),
            )
            output_index += 1
        yield event("response.completed", response=self._response(completed=True))


class _ChatBuilder(_Builder):
    """Builds Chat Completions objects and ``chat.completion.chunk`` streams."""

    def __init__(self, fake: FakeOpenAI, request: Request, reply: Reply) -> None:
        super().__init__(fake, request, reply)
        self.completion_id = fake._next_id("chatcmpl-")
        self.finish_reason = reply.finish_reason or ("tool_calls" if self.calls else "stop")

    def _usage(self) -> dict[str, Any]:
        usage = self.reply.usage
        return {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": usage.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def body(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.reply.text,
            "refusal": None,
            "annotations": [],
        }
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": arguments},
                }
                for call, call_id, arguments in self.calls
            ]
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": self._usage(),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def events(self) -> Iterator[bytes]:
        options = self.request.body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))

        def chunk(
            delta: dict[str, Any] | None, finish_reason: str | None = None, usage: bool = False
        ) -> bytes:
            payload: dict[str, Any] = {
                "id": self.completion_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": []
                if delta is None
                else [
                    {
                        "index": 0,
                        "delta": delta,
                        "finish_reason": finish_reason,
                        "logprobs": None,
                    }
                ],
            }
            if include_usage:  # the real API sends usage: null on every chunk but the last
                payload["usage"] = self._usage() if usage else None
            return _sse(payload)

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for delta in _split(self.reply.text or "", 3):
            yield chunk({"content": delta})
        for index, (call, call_id, arguments) in enumerate(self.calls):
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
            for delta in _split(arguments, 2):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": delta}}]})
        yield chunk({}, finish_reason=self.finish_reason)
        if include_usage:
            yield chunk(None, usage=True)
        yield _sse("[DONE]")


def _mark_closed(client: openai.AsyncOpenAI) -> None:
    """Close ``client`` from synchronous code, whatever the state of the loop it ran on.

    Why: an ``AsyncOpenAI`` that is garbage-collected while open schedules ``aclose()`` on
    whatever event loop is running at that moment, typically a later test's; closing sockets
    that belong to the earlier, closed loop then fails and asyncio logs "Task exception was
    never retrieved ... Event loop is closed" in an unrelated test. The client cannot be
    awaited here (its loop is usually gone), so the close coroutine is only stepped: httpx
    marks the client closed before its first await, which is all ``__del__`` checks. The
    sockets themselves are already shut down server side.
    """
    if client.is_closed():
        return
    coroutine = client.close()
    try:
        coroutine.send(None)
    except BaseException:  # StopIteration when done; a dead loop's RuntimeError otherwise
        pass
    finally:
        coroutine.close()


class FakeOpenAI:
    """A running fake OpenAI server. Starts on construction; ``close()`` (or ``with``) stops it.

    Thread-safe: requests are served concurrently, one thread per connection.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._ids: dict[str, itertools.count[int]] = {}
        self._responder: Responder = _no_responder
        self._connections: set[socket.socket] = set()
        self._clients: weakref.WeakSet[openai.AsyncOpenAI] = weakref.WeakSet()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        bound_host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}/v1"
        # close() waits up to one poll interval for serve_forever() to notice; 2 ms keeps the
        # function-scoped fixture cheap at the cost of ~500 idle select() calls per second.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.002},
            name=f"FakeOpenAI:{bound_port}",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_responder(self, responder: Responder) -> None:
        """Answer each following request with ``responder(request)``, run in a server thread."""
        with self._lock:
            self._responder = responder

    def script(self, replies: list[Reply]) -> None:
        """Answer the following requests with ``replies`` in order; 500 once they run out."""
        self.set_responder(_ScriptedResponder(replies))

    def reset(self) -> None:
        """Forget recorded requests and the responder, e.g. between tests sharing one server."""
        with self._lock:
            self.requests.clear()
            self._responder = _no_responder

    def client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """An ``AsyncOpenAI`` pointed at this server; no retries unless ``max_retries`` is given,
        so a scripted error reaches the code under test exactly once."""
        import openai

        kwargs.setdefault("api_key", "test-key")
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("max_retries", 0)
        client = openai.AsyncOpenAI(**kwargs)
        with self._lock:
            self._clients.add(client)
        return client

    def close(self) -> None:
        """Stop serving and drop open connections so no handler thread outlives the fake."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            _mark_closed(client)

    # -- used by the handler -------------------------------------------------------------

    def _record(self, request: Request) -> Responder:
        with self._lock:
            self.requests.append(request)
            return self._responder

    def _next_id(self, prefix: str) -> str:
        # One counter per prefix, so ids are predictable: resp_1, resp_2, call_1, ...
        with self._lock:
            counter = self._ids.setdefault(prefix, itertools.count(1))
            return f"{prefix}{next(counter)}"

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)
