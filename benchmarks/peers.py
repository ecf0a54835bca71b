"""Peer instrumentations of the OpenAI Agents SDK, installed the way the overhead benchmark's
layers are: each function takes the span processor to send spans to and returns the function
that undoes what it did, so ``overhead.py --floor`` measures each peer in the same process,
against the same untraced run, as agentel and its floor. Each peer runs with its own defaults.

None of them is a dependency of agentel. They go into a venv of their own, so the project's
test venv stays as it is; Traceloop's and the OTel contrib package both install the module
``opentelemetry.instrumentation.openai_agents``, so each goes into a folder of its own under
``benchmarks/.peers/`` (git-ignored) and is imported from there only while it is measured:

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -e '.[test]'
    .venv-peers/bin/pip install 'openinference-instrumentation-openai-agents==2.6.0' \\
        'logfire>=5,<6' opentelemetry-semantic-conventions-ai opentelemetry-util-genai
    .venv-peers/bin/pip install --no-deps --target benchmarks/.peers/traceloop \\
        'opentelemetry-instrumentation-openai-agents==0.62.4'
    .venv-peers/bin/pip install --no-deps --target benchmarks/.peers/contrib \\
        'opentelemetry-instrumentation-openai-agents-v2==0.1.0'
    .venv-peers/bin/python benchmarks/overhead.py --floor --pairs 150 --warmup 20

(``opentelemetry-semantic-conventions-ai`` is what Traceloop's package needs and
``opentelemetry-util-genai`` what the contrib one needs, installed in the venv because
``--no-deps`` leaves them out.) A peer that is not installed is skipped.

Why in one process, with the shared module name imported afresh for each, rather than a
subprocess per peer: these machines drift in speed by up to 2x between processes, and the
table compares layers with one another ("x floor", agentel against the lightest peer), which
only means something when every layer ran in the same process. The fresh import is checked:
the module must come from the peer's own folder, or the layer fails.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

Undo = Callable[[], None]

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
# The module name Traceloop's and the contrib package share.
SHARED_MODULE = "opentelemetry.instrumentation.openai_agents"


@dataclass(frozen=True)
class Peer:
    """One peer: its name in the table, how to install it, and how to tell it is there."""

    name: str
    install: Callable[[SpanProcessor], Undo]
    version: Callable[[], str | None]  # None when it is not installed


def _provider(processor: SpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def _distribution_version(name: str, folder: Path | None = None) -> str | None:
    """The installed version of ``name``, looked up in ``folder`` only when given: a
    ``--target`` install is not on ``sys.path``, where the normal look-up searches."""
    if folder is not None:
        found = importlib.metadata.distributions(name=name, path=[str(folder)])
        return next((dist.version for dist in found), None)
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _forget(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def _import_from(folder: Path, package: str) -> ModuleType:
    """``package`` imported afresh from ``folder``, which is first on ``sys.path`` for the
    import only. The module stays in ``sys.modules`` while the peer is installed (its
    processor uses it); undoing the layer forgets it, so the next peer's import of the same
    name cannot be handed this one."""
    _forget(package)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(package)
    finally:
        sys.path.remove(str(folder))
        importlib.invalidate_caches()
    origin = Path(module.__file__ or "").resolve()
    if not origin.is_relative_to(folder.resolve()):
        _forget(package)
        raise RuntimeError(f"{package} came from {origin}, not from {folder}")
    return module


def _folder_peer(folder: Path, processor: SpanProcessor) -> Undo:
    """Install the ``OpenAIAgentsInstrumentor`` of the package in ``folder`` on a provider of
    its own. Undoing uninstruments it, puts the SDK's trace processors back as they were
    (Traceloop's ``uninstrument`` leaves its processor registered) and forgets the module, so
    the next peer's fresh import cannot find this one."""
    from agents.tracing import get_trace_provider, set_trace_processors

    before = list(get_trace_provider()._multi_processor._processors)
    module = _import_from(folder, SHARED_MODULE)
    provider = _provider(processor)
    instrumentor = module.OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)

    def undo() -> None:
        instrumentor.uninstrument()
        set_trace_processors(before)
        provider.shutdown()
        _forget(SHARED_MODULE)

    return undo


def traceloop(processor: SpanProcessor) -> Undo:
    """Traceloop's OpenLLMetry: a processor on the SDK's traces."""
    return _folder_peer(PEERS_DIR / "traceloop", processor)


def otel_contrib(processor: SpanProcessor) -> Undo:
    """The OTel contrib package (``-v2``): a processor on the SDK's traces."""
    return _folder_peer(PEERS_DIR / "contrib", processor)


def openinference(processor: SpanProcessor) -> Undo:
    """OpenInference (Arize): a processor on the SDK's traces, and a wrapper around the SDK's
    step that runs function tools (for tool descriptions), which runs in untraced runs too."""
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    provider = _provider(processor)
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    return lambda: (instrumentor.uninstrument(), provider.shutdown())  # type: ignore[return-value]


def logfire(processor: SpanProcessor) -> Undo:
    """Pydantic Logfire: a wrapper around the SDK's trace provider that makes a Logfire span
    for every SDK span. Configured as a local instance (not Logfire's global one), sending
    nowhere but ``processor``, without its console output or metrics. Undoing puts the SDK's
    trace provider back and shuts the instance down; whatever else ``configure`` set up
    process-wide is why the benchmark measures this peer last."""
    import logfire as logfire_sdk
    from agents.tracing import get_trace_provider, set_trace_provider

    original = get_trace_provider()
    instance = logfire_sdk.configure(
        local=True,
        send_to_logfire=False,
        console=False,
        metrics=False,
        additional_span_processors=[processor],
    )
    instance.instrument_openai_agents()

    def undo() -> None:
        set_trace_provider(original)
        instance.shutdown()

    return undo


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _module_version(module: str, distribution: str) -> Callable[[], str | None]:
    def version() -> str | None:
        if not _importable(module):
            return None
        return _distribution_version(distribution)

    return version


def _folder_version(folder: Path, distribution: str, needs: str) -> Callable[[], str | None]:
    """The version in ``folder``, or None when the package or ``needs`` (the dependency that
    ``--no-deps`` left to be installed in the venv) is missing."""

    def version() -> str | None:
        if not _importable(needs):
            return None
        return _distribution_version(distribution, folder)

    return version


# Logfire last: it cannot be undone completely (see ``logfire``).
PEERS: tuple[Peer, ...] = (
    Peer(
        "Traceloop",
        traceloop,
        _folder_version(
            PEERS_DIR / "traceloop",
            "opentelemetry-instrumentation-openai-agents",
            "opentelemetry.semconv_ai",
        ),
    ),
    Peer(
        "OpenInference",
        openinference,
        _module_version(
            "openinference.instrumentation.openai_agents",
            "openinference-instrumentation-openai-agents",
        ),
    ),
    Peer(
        "OTel contrib",
        otel_contrib,
        _folder_version(
            PEERS_DIR / "contrib",
            "opentelemetry-instrumentation-openai-agents-v2",
            "opentelemetry.util.genai",
        ),
    ),
    Peer("Logfire", logfire, _module_version("logfire", "logfire")),
)


def installed() -> list[tuple[str, Callable[[SpanProcessor], Undo]]]:
    """(table label with version, install) of every installed peer, in measuring order; one
    printed line for each peer that is not installed."""
    found: list[tuple[str, Callable[[SpanProcessor], Undo]]] = []
    for peer in PEERS:
        version = peer.version()
        if version is None:
            print(f"({peer.name} is not installed: skipped; see benchmarks/peers.py)")
            continue
        found.append((f"{peer.name} {version}", peer.install))
    return found
