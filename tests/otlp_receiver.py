"""A loopback OTLP/HTTP receiver for tests: records every request and decodes its protobuf.

Tests point an exporter at ``receiver.url`` and then assert on what arrived on the wire:
the URL path, the headers, and each span with its attributes.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int
    events: list[str] = field(default_factory=list)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def decode_spans(requests: list[Request]) -> list[ReceivedSpan]:
    """Every span of the given ExportTraceServiceRequest bodies."""
    spans: list[ReceivedSpan] = []
    for request in requests:
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.body)
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            resource=resource,
                            status_code=span.status.code,
                            events=[event.name for event in span.events],
                        )
                    )
    return spans


class OTLPReceiver:
    """Serves ``POST /<anything>`` on 127.0.0.1 and answers ``status`` (200 by default)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.requests.append(
                    Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def trace_requests(self) -> list[Request]:
        return [r for r in self.requests if not r.path.endswith("/v1/metrics")]

    def spans(self) -> list[ReceivedSpan]:
        """Every span of every trace request, decoded."""
        return decode_spans(self.trace_requests())

    def _metrics(self) -> Iterator[Any]:
        """Every metric of every metrics request, decoded."""
        for request in self.requests:
            if not request.path.endswith("/v1/metrics"):
                continue
            message = ExportMetricsServiceRequest()
            message.ParseFromString(request.body)
            for resource_metrics in message.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    yield from scope_metrics.metrics

    def metric_names(self) -> set[str]:
        return {metric.name for metric in self._metrics()}

    def histogram_bounds(self, name: str) -> tuple[float, ...]:
        for metric in self._metrics():
            if metric.name == name:
                return tuple(metric.histogram.data_points[0].explicit_bounds)
        raise AssertionError(f"no histogram {name} received")


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until ``condition()`` holds; fail the test if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class OTLPGrpcReceiver:
    """The same for OTLP/gRPC: a loopback TraceService recording each call's metadata and
    request, decoded into the same spans as the HTTP receiver."""

    def __init__(self) -> None:
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        self.requests: list[Request] = []
        receiver = self

        class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                headers = {key: value for key, value in context.invocation_metadata()}
                receiver.requests.append(
                    Request("TraceService/Export", headers, request.SerializeToString())
                )
                return ExportTraceServiceResponse()

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OTLPGrpcReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)

    def spans(self) -> list[ReceivedSpan]:
        return decode_spans(self.requests)
