"""The ``agentel`` command: record a demo run, then read traces in the terminal.

Every subcommand reads the trace store named by ``--db``, else ``AGENTEL_DB``, else
``./agentel.db``; reading is safe while another process writes and never changes the
database (no file, table or schema upgrade is made; ``demo``, ``prune`` and ``migrate``
write). The views are rendered by :mod:`agentel.cli_format`, :mod:`agentel.cli_tree` and
:mod:`agentel.cli_content`. ``agentel COMMAND --help`` explains each one with examples.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console

from agentel import cli_format as fmt
from agentel.cli_content import CAPTURE_HINT, conversation
from agentel.cli_tree import TIMELINE_MIN_WIDTH, trace_view
from agentel.settings import (
    DEFAULT_CELESTO_BASE_URL,
    ENV_CAPTURE_CONTENT,
    ENV_CELESTO_BASE_URL,
    ENV_DB,
    ENV_EXPORTERS,
    ENV_OTLP_PRESET,
    ENV_PRICING_FILE,
    OTLP_PRESETS,
    STORE_EXPORTER_NAMES,
    PipelineSettings,
    SettingError,
    content_capture_warning,
    parse_content_capture,
)
from agentel.store import (
    SchemaTooNewError,
    StoreOpenError,
    TraceStore,
    TraceSummary,
    open_store,
    resolve_url,
    sqlite_path,
)
from agentel.store.query import GROUP_BY_CHOICES
from agentel.version import __version__

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000}


class SinceType(click.ParamType):
    """``30m``, ``2h``, ``7d``, ``1w`` back from now, or a date/time such as ``2025-06-01``."""

    name = "WHEN"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime | timedelta:
        if isinstance(value, datetime | timedelta):
            return value
        text = str(value).strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
        if match:
            return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not a time: use 30m, 2h, 7d, 1w or a date like 2025-06-01")


class DurationType(click.ParamType):
    """``250ms``, ``1.5s``, ``2m``: a number with its unit (a bare number is refused, as
    ``2`` could mean seconds as well as milliseconds); milliseconds out."""

    name = "DURATION"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m)", text)
        if not match:
            hint = f" (did you mean {text}s or {text}ms?)" if re.fullmatch(r"[\d.]+", text) else ""
            self.fail(f"{text!r} is not a duration: give a unit, as in 250ms, 1.5s, 2m{hint}")
        return float(match[1]) * _DURATION_UNITS[match[2]]


class MetaType(click.ParamType):
    """``key=value`` of the workflow's metadata."""

    name = "KEY=VALUE"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, val = str(value).partition("=")
        if not sep or not key:
            self.fail(f"{value!r} is not KEY=VALUE")
        return key, val


SINCE = SinceType()
DURATION = DurationType()


@dataclasses.dataclass
class _Context:
    db: str | None


def _open(ctx: click.Context, *, write: bool = False) -> TraceStore:
    """Open the store or stop with one line that says what to do.

    Reading (the default) never creates, upgrades or writes to a database; ``write`` opens
    it for a command that changes the store."""
    db = ctx.find_object(_Context).db
    try:
        url = resolve_url(db)
        path = sqlite_path(url)
        if path is not None and not path.exists():
            if write and path.parent.exists() and not _can_hold_files(path.parent):
                raise click.ClickException(
                    f"cannot create a trace store at {path}: {path.parent} is not a writable "
                    f"folder; point --db / {ENV_DB} at a writable path"
                )
            if not write:
                raise click.ClickException(_no_store_here(path))
        return open_store(url, read_only=not write)
    except (SettingError, SchemaTooNewError, StoreOpenError) as exc:
        raise click.ClickException(str(exc)) from None
    except click.ClickException:
        raise
    except Exception as exc:  # a database that cannot be reached: say which, and why
        raise click.ClickException(f"cannot open the trace store {db or url}: {exc}") from None


def _no_store_here(path: Path) -> str:
    """Why there is nothing to read at ``path``, and the next step that can work."""
    if not _can_hold_files(path.parent):
        return (
            f"no trace store at {path}, and none can be made there ({path.parent} is not a "
            f"writable folder); point --db / {ENV_DB} at an existing store or a writable path"
        )
    return (
        f"no trace store at {path} yet. Run `agentel demo` to record a run there, or "
        f"point --db / {ENV_DB} at an existing store."
    )


def _can_hold_files(folder: Path) -> bool:
    """A folder where a database file could be created: writable, on a filesystem that is
    mounted read-write and stores files (/proc and /sys have no blocks)."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return os.access(folder, os.W_OK) and not info.f_flag & os.ST_RDONLY and info.f_blocks > 0


def _out() -> Console:
    return fmt.console()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    metavar="URL",
    help=f"Trace store: a file path, sqlite:///path or postgresql://... "
    f"[default: ${ENV_DB}, else ./agentel.db]",
)
@click.version_option(__version__, prog_name="agentel")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """See what your AI agents did: traces recorded by agentel, read in the terminal.

    \b
    Start here:
      agentel demo              run a multi-agent example and record its trace
      agentel show --last       the newest trace as a tree: time, tokens, cost, errors
      agentel traces            list traces (filter by agent, model, status, time, ...)
      agentel stats --by model  runs, error rate, p50/p95 latency, tokens and cost
      agentel ui                the same in the browser: waterfall, stats, compare runs
      agentel doctor            where traces go and whether each destination answers

    Record your own app's runs into the same store with agentel.setup(exporters=["store"]).
    """
    ctx.obj = _Context(db)


# --- demo ------------------------------------------------------------------------------------


@main.command()
@click.option("--no-content", is_flag=True, help="Do not record messages and tool arguments.")
@click.option(
    "--offline", is_flag=True, help="Use the scripted model even when OPENAI_API_KEY is set."
)
@click.pass_context
def demo(ctx: click.Context, no_content: bool, offline: bool) -> None:
    """Run a multi-agent example through the OpenAI Agents SDK and show its trace.

    A triage agent checks the request with a guardrail, looks the order up with a tool and
    hands off to a billing agent, which refunds it with another tool. With OPENAI_API_KEY set
    the agents call a real OpenAI model (a fraction of a cent); without it, or with
    --offline, a scripted model plays the same conversation offline.
    """
    try:
        from agentel.demo import REAL_MODEL, SCRIPTED_MODEL, offline_by_default, run_demo
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise click.ClickException(
            f"the demo needs the OpenAI Agents SDK: pip install 'agentel[openai-agents]' ({exc})"
        ) from None
    _open(ctx, write=True).close()  # a store that cannot be written stops here, in one line
    url = resolve_url(ctx.find_object(_Context).db)
    offline = offline or offline_by_default()
    if not offline:
        click.echo(f"Running the demo against OpenAI ({REAL_MODEL}); OPENAI_API_KEY is set.")
    elif os.environ.get("OPENAI_API_KEY"):
        click.echo(f"Running the demo OFFLINE with a scripted model ({SCRIPTED_MODEL}): --offline.")
    else:
        click.echo(
            f"Running the demo OFFLINE with a scripted model ({SCRIPTED_MODEL}): "
            "OPENAI_API_KEY is not set, so no model is called and no cost is shown. "
            "Set OPENAI_API_KEY to use a real model."
        )
    result = run_demo(url, capture_content=not no_content, offline=offline)
    if result.error is None:
        click.echo(f"Final answer: {result.final_output}\n")
    if result.trace_id is None:
        raise click.ClickException(
            f"the run {'failed (' + result.error + ')' if result.error else 'finished'} "
            f"but no trace arrived in {_masked('', url)}"
        )
    with _open(ctx) as store:
        tree = store.get_trace(result.trace_id)
    assert tree is not None
    out = _out()
    for part in trace_view(tree, width=out.width):
        fmt.emit(out, part)
    if result.error is not None:
        click.echo(f"\nThe trace above is recorded in {_masked('', url)}.")
        raise click.ClickException(
            f"the demo run failed: {result.error}. "
            "`agentel demo --offline` plays it with a scripted model instead"
        )
    click.echo(
        f"\nRecorded in {_masked('', url)}. Next: `agentel show --last --content` for the "
        "messages, `agentel traces`, `agentel stats --by agent`."
    )
    db = ctx.find_object(_Context).db
    viewer = "agentel ui" if db is None else f"agentel --db {_masked('', db)} ui"
    click.echo(
        f"See it in the browser: run `{viewer}` and open "
        f"http://127.0.0.1:8320/trace/{result.trace_id}"
    )


# --- traces ----------------------------------------------------------------------------------


def _trace_filters(func: Any) -> Any:
    options = [
        click.option("--since", type=SINCE, help="Started after: 30m, 2h, 7d or a date."),
        click.option("--until", type=SINCE, help="Started before: 30m, 2h, 7d or a date."),
        click.option("--status", type=click.Choice(["ok", "error"]), help="error: the run failed."),
        click.option("--failed-spans", "has_errors", is_flag=True, default=None,
                     help="A span failed, also one the run recovered from (a tool error)."),
        click.option("--workflow", help="Workflow name, as in agents.trace(...)."),
        click.option("--agent", help="An agent that ran in the trace (any case)."),
        click.option("--model", help="A model that was called (request model name, any case)."),
        click.option("--tool", help="A tool (or handoff) that was called (any case)."),
        click.option("--conversation", help="Conversation (SDK group_id)."),
        click.option("--min-duration", type=DURATION, help="At least this long: 500ms, 2s, 1m."),
        click.option("--max-duration", type=DURATION, help="At most this long."),
        click.option("--min-tokens", type=int, help="At least this many tokens (in + out)."),
        click.option("--min-cost", type=float, help="At least this cost in USD."),
        click.option("--meta", type=MetaType(), help="Workflow metadata KEY=VALUE."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _filter_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "since": options["since"],
        "until": options["until"],
        "status": options["status"],
        "workflow": options["workflow"],
        "agent": options["agent"],
        "model": options["model"],
        "tool": options["tool"],
        "conversation_id": options["conversation"],
        "min_duration_ms": options["min_duration"],
        "max_duration_ms": options["max_duration"],
        "min_tokens": options["min_tokens"],
        "min_cost": options["min_cost"],
        "metadata": options["meta"],
        "has_errors": options["has_errors"],
    }


def _as_json(trace: TraceSummary) -> str:
    return json.dumps({**dataclasses.asdict(trace), "start": trace.start.isoformat()})


@main.command()
@_trace_filters
@click.option("--limit", default=20, show_default=True, help="How many traces.")
@click.option("--offset", default=0, help="Skip this many (for paging).")
@click.option("--full-ids", is_flag=True, help="Show whole trace ids, not the first 12 digits.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per trace.")
@click.pass_context
def traces(
    ctx: click.Context, limit: int, offset: int, full_ids: bool, as_json: bool, **options: Any
) -> None:
    """List traces, newest first, in columns that fit the terminal.

    STATUS is the run's outcome (error: the run failed); ERRORS counts its failed spans,
    which include tool errors the run recovered from (find those with --failed-spans).

    \b
    Examples:
      agentel traces --since 1h --status error
      agentel traces --agent billing --min-duration 2s
      agentel traces --model gpt-4.1-mini --min-cost 0.01 --meta user=alice
    """
    filters = _filter_kwargs(options)
    with _open(ctx) as store:
        found = store.get_traces(**filters, limit=limit, offset=offset)
        total = store.count_traces(**filters) if found and not as_json else 0
    if as_json:
        for trace in found:
            click.echo(_as_json(trace))
        return
    if not found:
        click.echo("No traces match.")
        return
    out = _out()
    fmt.emit(out, fmt.traces_table(found, out.width, full_ids))
    if total > offset + len(found):
        click.echo(
            f"{fmt.plural(len(found), 'trace')} of {total:,} shown; "
            f"--offset {offset + len(found)} for the next page."
        )


# --- show ------------------------------------------------------------------------------------


@main.command()
@click.argument("trace_id", required=False)
@click.option("--last", is_flag=True, help="The newest trace.")
@click.option("--content", is_flag=True, help="The recorded messages, as a conversation.")
@click.option(
    "--timeline/--no-timeline",
    default=None,
    help=f"Start offsets and a bar per span on one time axis [default: on a terminal "
    f"at least {TIMELINE_MIN_WIDTH} columns wide].",
)
@click.option("--stack", is_flag=True, help="The whole stack of each error, not its end.")
@click.option(
    "--width", default=0, help="Cut each message's text at this many characters [default: no cut]."
)
@click.option("--json", "as_json", is_flag=True, help="The trace and its spans as JSON.")
@click.pass_context
def show(
    ctx: click.Context,
    trace_id: str | None,
    last: bool,
    content: bool,
    timeline: bool | None,
    stack: bool,
    width: int,
    as_json: bool,
) -> None:
    """Show one trace as a tree: durations, tokens, cost and errors per span.

    TRACE_ID may be the first digits of the id, as `agentel traces` prints them. Errors show
    the exception raised and the end of its stack; a guardrail that tripped is marked.
    Content appears only if it was recorded (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).
    """
    if bool(trace_id) == last:
        raise click.UsageError("give a TRACE_ID or --last (one of them)")
    with _open(ctx) as store:
        wanted = store.latest_trace_id() if last else _one_trace_id(store, trace_id or "")
        tree = store.get_trace(wanted) if wanted else None
    if tree is None:
        raise click.ClickException("the store has no traces yet")
    if as_json:
        spans = [
            {k: v for k, v in dataclasses.asdict(s).items() if k != "children"} for s in tree.spans
        ]
        click.echo(
            json.dumps({"trace": dataclasses.asdict(tree.summary), "spans": spans}, default=str)
        )
        return
    out = _out()
    for part in trace_view(tree, width=out.width, timeline=timeline, full_stack=stack):
        fmt.emit(out, part)
    if content:
        click.echo()
        messages = conversation(tree, width)
        if messages is None:
            click.echo(CAPTURE_HINT)  # one line, however narrow the terminal
        else:
            fmt.emit(out, messages)


def _one_trace_id(store: TraceStore, prefix: str) -> str:
    """The trace a prefix names, or a message: none, or several (listed)."""
    found = store.trace_ids_starting(prefix, limit=6)
    if not found:
        raise click.ClickException(f"no trace id starts with {prefix!r}")
    if len(found) > 1:
        listed = ", ".join(t[:16] for t in found[:5]) + (", ..." if len(found) > 5 else "")
        more = "more than 5" if len(found) > 5 else str(len(found))
        raise click.ClickException(
            f"{prefix!r} is ambiguous: {more} trace ids start with it ({listed}); give more digits"
        )
    return found[0]


# --- tail ------------------------------------------------------------------------------------


@main.command()
@click.option("--interval", default=1.0, show_default=True, help="Seconds between checks.")
@click.option("--lines", "-n", default=10, show_default=True, help="Recent traces to show first.")
@click.option("--timeout", type=float, help="Stop after this many seconds [default: until Ctrl-C].")
@click.pass_context
def tail(ctx: click.Context, interval: float, lines: int, timeout: float | None) -> None:
    """Follow new traces as they finish, one line each (like tail -f).

    Works while your app is writing to the same store, and waits for the store when the app
    has not created it yet. Ctrl-C stops it (exit status 130).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    out = _out()
    try:
        store = _wait_for_store(ctx, interval, deadline)
        if store is None:
            return
        with store:
            recent = list(reversed(store.get_traces(limit=lines))) if lines else []
            cursor = max((t.updated_ns for t in recent), default=time.time_ns())
            seen = {t.trace_id for t in recent}
            fmt.emit(out, fmt.tail_header(out.width))
            for trace in [t for t in recent if t.complete]:
                fmt.emit(out, fmt.tail_line(trace, out.width))
            while deadline is None or time.monotonic() < deadline:
                time.sleep(interval)
                for trace in store.traces_updated_since(cursor):
                    cursor = max(cursor, trace.updated_ns)
                    if trace.trace_id not in seen:
                        seen.add(trace.trace_id)
                        fmt.emit(out, fmt.tail_line(trace, out.width))
    except KeyboardInterrupt:
        ctx.exit(130)  # the shell's convention for a command stopped by Ctrl-C


def _wait_for_store(
    ctx: click.Context, interval: float, deadline: float | None
) -> TraceStore | None:
    """The store, once a writer has created it (None if the deadline passes first); a path
    where no store can ever appear is the usual one-line error at once."""
    try:
        path = sqlite_path(resolve_url(ctx.find_object(_Context).db))
    except SettingError:
        path = None
    if path is None or path.exists() or not _can_hold_files(path.parent):
        return _open(ctx)
    click.echo(f"Waiting for a trace store at {path} (the first traced run creates it).", err=True)
    while deadline is None or time.monotonic() < deadline:
        time.sleep(interval)
        if path.exists():
            try:
                return _open(ctx)
            except click.ClickException:
                continue  # created, its tables not committed yet
    return None


# --- stats -----------------------------------------------------------------------------------


@main.command()
@click.option(
    "--by", "group_by", type=click.Choice(GROUP_BY_CHOICES), default="agent", show_default=True
)
@click.option("--since", type=SINCE, help="Only runs that started after: 1h, 7d or a date.")
@click.pass_context
def stats(ctx: click.Context, group_by: str, since: datetime | timedelta | None) -> None:
    """Runs, failures, p50/p95 latency, tokens and cost per agent, model, tool,
    conversation or workflow.

    A run is one agent segment, model call or tool call (for workflows and conversations:
    a whole trace). FAILED counts runs that failed themselves; a tool error the agent
    recovered from counts for the tool, not for the agent or the workflow, as in
    `agentel traces` (STATUS is the run's outcome, ERRORS its failed spans).

    \b
    Examples:
      agentel stats --by model --since 24h
      agentel stats --by tool
    """
    with _open(ctx) as store:
        rows = store.stats(group_by, since=since)  # type: ignore[arg-type]
    if not rows:
        click.echo("No runs in this period.")
        return
    fmt.emit(_out(), fmt.stats_table(rows, group_by))


# --- ui --------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8320,
    show_default=True,
    help="Port (0: any free port).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the viewer in a browser.")
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, open_browser: bool) -> None:
    """Browse traces in a web page: list, waterfall, conversation, stats, compare.

    Read-only, on this machine only unless --host says otherwise. Works while an app
    writes to the same store.

    \b
    Examples:
      agentel ui --open
      agentel --db 'postgresql://user@host/db?schema=agentel' ui --port 9000
    """
    try:
        from agentel.ui.serve import PortInUseError, serve
    except ImportError as exc:
        raise click.ClickException(
            f"the viewer needs its extra: pip install 'agentel[ui]' ({exc})"
        ) from None
    try:
        serve(_open(ctx), host, port, open_browser, click.echo)
    except PortInUseError as exc:
        raise click.ClickException(str(exc)) from None


# --- prune and migrate -----------------------------------------------------------------------


@main.command()
@click.option("--older-than", required=True, type=SINCE, help="Age to delete: 30d, 12h or a date.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def prune(ctx: click.Context, older_than: datetime | timedelta, yes: bool) -> None:
    """Delete traces that started before a time, with all their spans.

    Says how many traces that is and asks first, unless --yes.

    \b
    Example:
      agentel prune --older-than 30d --yes
    """
    cutoff = (
        datetime.now().astimezone() - older_than
        if isinstance(older_than, timedelta)
        else older_than.astimezone()
    )
    when = cutoff.strftime("%Y-%m-%d %H:%M:%S %Z")
    with _open(ctx) as store:
        count = store.count_traces(until=cutoff)
    if count == 0:
        click.echo(f"No traces started before {when}; nothing to delete.")
        return
    if not yes:
        click.confirm(
            f"Delete {fmt.plural(count, 'trace')} that started before {when}?", abort=True
        )
    with _open(ctx, write=True) as store:
        deleted = store.prune(cutoff)
    click.echo(f"Deleted {fmt.plural(deleted, 'trace')} that started before {when}.")


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Upgrade the trace store to this agentel's schema (reading never changes a store)."""
    db = ctx.find_object(_Context).db
    path = sqlite_path(resolve_url(db))
    if path is not None and not path.exists():
        raise click.ClickException(_no_store_here(path))
    with _open(ctx, write=True) as store:
        click.echo(f"The trace store {store.url} is at schema v{store.schema_version}.")


# --- export ----------------------------------------------------------------------------------


def _default_otlp_url(grpc: bool = False) -> str:
    """Where the OTel SDK's OTLP exporter sends traces when given no endpoint."""
    traces_url = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces_url:
        return traces_url
    if grpc:
        return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317")
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    return base.rstrip("/") + "/v1/traces"


@main.command()
@click.option(
    "--to", "target", type=click.Choice(["otlp"]), required=True, help="Destination kind."
)
@click.argument("url", required=False)
@click.option("--since", type=SINCE, help="Only traces that started after: 1h, 7d or a date.")
@click.option("--limit", type=int, help="At most this many traces (newest first).")
@click.option("--batch-size", default=512, show_default=True, help="Spans per OTLP request.")
@click.pass_context
def export(
    ctx: click.Context, target: str, url: str | None, since: Any, limit: int | None, batch_size: int
) -> None:
    """Replay stored traces to an OTLP/HTTP endpoint (a collector, Jaeger, Phoenix, ...).

    URL defaults to $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
    $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, else http://localhost:4318/v1/traces.
    A URL without a path is a base, as in the standard variable: /v1/traces is added.
    Headers come from OTEL_EXPORTER_OTLP_HEADERS.

    \b
    Example:
      agentel export --to otlp http://localhost:4318/v1/traces --since 1d
    """
    from agentel.export.otlp import checked_url, traces_url
    from agentel.store.replay import OtlpReplay

    try:
        endpoint = traces_url(checked_url("URL", url)) if url else _default_otlp_url()
    except SettingError as exc:
        raise click.BadParameter(str(exc)) from None
    with _open(ctx) as store:
        ids = _all_trace_ids(store, since, limit)
        if not ids:
            click.echo("No traces to export.")
            return
        replay = OtlpReplay(endpoint, batch_size)
        with click.progressbar(ids, label=f"Exporting to {endpoint}", file=sys.stderr) as bar:
            for trace_id in bar:
                tree = store.get_trace(trace_id)
                if tree is not None:
                    replay.add(tree)
        replay.finish()
    if replay.failed_batches:
        raise click.ClickException(
            f"{replay.failed_batches} of {replay.batches} requests to {endpoint} failed; "
            f"sent {replay.sent_spans} spans"
        )
    sent = f"{fmt.plural(len(ids), 'trace')} ({fmt.plural(replay.sent_spans, 'span')})"
    click.echo(f"Exported {sent} to {endpoint}.")


def _all_trace_ids(store: TraceStore, since: Any, limit: int | None) -> list[str]:
    ids: list[str] = []
    for page in _pages(store, since):
        ids.extend(t.trace_id for t in page)
        if limit is not None and len(ids) >= limit:
            return ids[:limit]
    return ids


def _pages(store: TraceStore, since: Any, size: int = 500) -> Iterator[list[TraceSummary]]:
    offset = 0
    while True:
        page = store.get_traces(since=since, limit=size, offset=offset)
        if not page:
            return
        yield page
        offset += size


# --- doctor ----------------------------------------------------------------------------------

_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "HEADERS", "AUTH")


def _masked(name: str, value: str) -> str:
    if any(word in name.upper() for word in _SECRET_WORDS):
        return f"set ({len(value)} characters, hidden)"
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", value)


def _check_otlp(config: PipelineSettings, target: Any) -> tuple[bool, str, str]:
    """(ok, label, detail) for the OTLP endpoint setup() would send to."""
    grpc = config.otlp_protocol == "grpc"
    endpoint = target.endpoint or _default_otlp_url(grpc)
    label = f"otlp {endpoint}" + (f" ({config.otlp_preset})" if config.otlp_preset else "")
    ok, detail = _accepts_connections(endpoint) if grpc else _answers(endpoint)
    return ok, label, detail


def _preset_variables(preset: str) -> None:
    from agentel.export.otlp import PRESET_VARIABLES

    click.echo(f"  {ENV_OTLP_PRESET}={preset} reads:")
    for name, required in PRESET_VARIABLES.get(preset, ()):
        value = os.environ.get(name)
        shown = _masked(name, value) if value else "(not set)"
        click.echo(f"    {name}{' (required)' if required else ''}: {shown}")


def _content_capture_line() -> str:
    """How the content switch reads, with the warning setup() would log for a bad value."""
    raw = os.environ.get(ENV_CAPTURE_CONTENT)
    warning = content_capture_warning(raw)
    if warning is not None:
        return f"  [warn] {warning}"
    return f"  content capture: {parse_content_capture(raw).value}"


def _accepts_connections(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether a gRPC endpoint's port accepts a TCP connection (it speaks no plain HTTP)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        socket.create_connection(
            (parts.hostname or "localhost", parts.port or 4317), timeout
        ).close()
    except OSError as exc:
        return False, f"does not accept connections ({exc})"
    return True, "accepts connections"


def _answers(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether an HTTP endpoint answers at all (any HTTP status counts as an answer)."""
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, method="GET"), timeout=timeout
        ) as r:
            return True, f"answers (HTTP {r.status})"
    except urllib.error.HTTPError as exc:
        return True, f"answers (HTTP {exc.code})"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"does not answer ({reason})"


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Show the configuration in effect and check that each destination answers.

    Exits with status 1 if any check fails.
    """
    problems = 0

    def report(ok: bool, label: str, detail: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        mark = click.style("ok", fg="green") if ok else click.style("FAIL", fg="red", bold=True)
        click.echo(f"  [{mark}] {label}: {detail}")

    db = ctx.find_object(_Context).db
    click.echo(click.style("Trace store", bold=True))
    source = "--db" if db else (ENV_DB if os.environ.get(ENV_DB) else "default")
    try:
        url = resolve_url(db)
        click.echo(f"  url: {_masked('', url)} (from {source})")
        path = sqlite_path(url)
        if path is not None and not path.exists():
            creatable = _can_hold_files(path.parent)
            report(
                creatable,
                "store",
                "none yet; "
                + ("the first traced run creates it" if creatable else _no_store_here(path)),
            )
        else:
            with open_store(url, read_only=True) as store:
                traces_n, spans_n = store.counts()
                counted = f"{fmt.plural(traces_n, 'trace')}, {fmt.plural(spans_n, 'span')}"
                report(True, "store", f"schema v{store.schema_version}, {counted}")
    except Exception as exc:
        report(False, "store", str(exc))
    pricing = os.environ.get(ENV_PRICING_FILE)
    click.echo("  prices: bundled table" + (f" + {pricing}" if pricing else ""))

    click.echo(click.style("Exporters setup() would build", bold=True))
    click.echo(f"  {ENV_EXPORTERS}: {os.environ.get(ENV_EXPORTERS) or '(not set)'}")
    preset = os.environ.get(ENV_OTLP_PRESET, "").strip().lower()
    if preset in OTLP_PRESETS:
        _preset_variables(preset)
    from agentel.export.pipeline import plan

    try:
        config = PipelineSettings.from_env()
        named, target = plan(config)
    except SettingError as exc:
        report(False, "settings", str(exc))
        config, named, target = None, [], None
    for exporter in named:
        if exporter.name == "otlp" and config is not None:
            report(*_check_otlp(config, target))
        elif exporter.name == "celesto":
            base = os.environ.get(ENV_CELESTO_BASE_URL) or DEFAULT_CELESTO_BASE_URL
            ok, detail = _answers(base)
            report(ok, f"celesto {base}", detail)
        elif exporter.name in STORE_EXPORTER_NAMES:
            click.echo(f"  {exporter.name}: writes to the trace store above")
        else:
            click.echo(f"  {exporter.name}: in this process, nothing to reach")
        exporter.exporter.shutdown()
    click.echo(_content_capture_line())

    click.echo(click.style("Environment", bold=True))
    names = sorted(
        n
        for n in os.environ
        if n.startswith(("AGENTEL_", "OTEL_", "CELESTO_")) or n == "OPENAI_API_KEY"
    )
    for name in names:
        click.echo(f"  {name}={_masked(name, os.environ[name])}")
    if not names:
        click.echo("  (no AGENTEL_*, OTEL_*, CELESTO_* or OPENAI_API_KEY variables set)")
    try:
        from importlib.metadata import version

        click.echo(f"  openai-agents {version('openai-agents')} installed")
    except Exception:
        click.echo("  openai-agents is not installed (pip install 'agentel[openai-agents]')")
    if problems:
        ctx.exit(1)


if __name__ == "__main__":  # python -m agentel.cli
    main(prog_name="agentel")
