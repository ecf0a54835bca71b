"""The MeterProvider for the GenAI metrics, built or joined like the TracerProvider.

The instrumentors record the histograms of semconv.md through the metrics API; here they
get the semconv bucket boundaries as Views and, when OTLP is chosen, an OTLP reader.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from agentel import semconv as sc

_log = logging.getLogger(__name__)


def histogram_views() -> list[View]:
    """One View per GenAI histogram, with the bucket boundaries semconv.md gives."""
    buckets = {
        sc.METRIC_OPERATION_DURATION: sc.DURATION_BUCKETS,
        sc.METRIC_TOKEN_USAGE: sc.TOKEN_BUCKETS,
        sc.METRIC_INVOKE_AGENT_DURATION: sc.AGENT_DURATION_BUCKETS,
        sc.METRIC_EXECUTE_TOOL_DURATION: sc.DURATION_BUCKETS,
    }
    return [
        View(
            instrument_name=name,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=tuple(map(float, bounds))),
        )
        for name, bounds in buckets.items()
    ]


def build_or_join(
    readers: Sequence[MetricReader], resource: Resource
) -> tuple[MeterProvider | None, bool]:
    """(provider, joined). An SDK MeterProvider already global is used as it is: the SDK
    cannot add readers to it, so our metrics go wherever it sends its own. Otherwise one is
    built and made global when there is a reader to give it; with none, metrics stay off."""
    current = metrics.get_meter_provider()
    if isinstance(current, MeterProvider):
        if readers:
            _log.info(
                "agentel: a MeterProvider is already set; GenAI metrics go to its readers, "
                "not to agentel's exporters."
            )
        return current, True
    if not readers:
        return None, False
    provider = MeterProvider(
        metric_readers=list(readers),
        resource=resource,
        views=histogram_views(),
        shutdown_on_exit=False,
    )
    metrics.set_meter_provider(provider)
    return provider, False
