"""Small SVG charts drawn on the server: bars for counts, lines for latencies.

The stats page needs a handful of plots over time; drawing them as SVG from the numbers
keeps the page free of a script library and of any build step. Shapes come out as plain
numbers; the template writes the SVG (and escapes every label).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agentel.store.model import TimelineRow

WIDTH, HEIGHT = 560, 150
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 48, 20, 8


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Chart:
    title: str
    y_max: str
    bars: list[Bar] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (css class, points)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, label)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = PAD_LEFT
    plot_bottom: int = HEIGHT - PAD_BOTTOM


def _x_labels(labels: Sequence[str], slot: float) -> list[tuple[float, str]]:
    if not labels:
        return []
    picks = sorted({0, len(labels) // 2, len(labels) - 1})
    return [(PAD_LEFT + slot * (i + 0.5), labels[i]) for i in picks]


def _scale(top: float) -> float:
    return top if top > 0 else 1.0


def bar_chart(
    title: str, values: Sequence[float], labels: Sequence[str], fmt: str = "{:,.0f}"
) -> Chart:
    """One bar per bucket; each bar's tooltip names its bucket and value."""
    top = _scale(max(values, default=0))
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = (WIDTH - PAD_LEFT) / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        height = plot_h * value / top
        bars.append(
            Bar(
                x=PAD_LEFT + slot * i + slot * 0.1,
                y=HEIGHT - PAD_BOTTOM - height,
                width=slot * 0.8,
                height=height,
                title=f"{labels[i]}: {fmt.format(value)}",
            )
        )
    return Chart(title, fmt.format(max(values, default=0)), bars, x_labels=_x_labels(labels, slot))


def line_chart(
    title: str,
    series: Sequence[tuple[str, str, Sequence[float]]],
    labels: Sequence[str],
    fmt: str = "{:,.0f}",
) -> Chart:
    """Lines over the buckets: ``series`` is (css class, legend label, values)."""
    highest = max((max(values, default=0) for _, _, values in series), default=0)
    top = _scale(highest)
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = (WIDTH - PAD_LEFT) / max(len(labels), 1)
    lines = []
    for css, _, values in series:
        points = " ".join(
            f"{PAD_LEFT + slot * (i + 0.5):.1f},{HEIGHT - PAD_BOTTOM - plot_h * v / top:.1f}"
            for i, v in enumerate(values)
        )
        lines.append((css, points))
    return Chart(
        title,
        fmt.format(highest),
        lines=lines,
        x_labels=_x_labels(labels, slot),
        legend=[(css, label) for css, label, _ in series],
    )


def timeline_charts(timeline: Sequence[TimelineRow], labels: Sequence[str]) -> list[Chart]:
    """The stats page's plots: runs, error rate, p50/p95 latency, tokens and cost."""
    return [
        bar_chart("Runs", [r.runs for r in timeline], labels),
        bar_chart("Error rate", [100 * r.error_rate for r in timeline], labels, "{:.0f} %"),
        line_chart(
            "Latency (ms)",
            [
                ("p50", "p50", [r.p50_ms for r in timeline]),
                ("p95", "p95", [r.p95_ms for r in timeline]),
            ],
            labels,
        ),
        bar_chart("Tokens", [r.input_tokens + r.output_tokens for r in timeline], labels),
        bar_chart("Cost (USD)", [r.cost_usd for r in timeline], labels, "${:,.4f}"),
    ]
