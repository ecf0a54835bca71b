"""The ``agentel`` command: record a demo run, then read traces in the terminal.

Every subcommand reads the trace store named by ``--db``, else ``AGENTEL_DB``, else
``./agentel.db``; reading is safe while another process writes. ``agentel COMMAND --help``
explains each one with examples.
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
from typing import Any
from urllib.parse import urlsplit

import click

from agentel import cli_format as fmt
from agentel.redact import mask_text, mask_url, url_secrets
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
    """``250ms``, ``1.5s``, ``2m``, or a bare number of milliseconds."""

    name = "DURATION"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m)?", str(value).strip())
        if not match:
            self.fail(f"{value!r} is not a duration: use 250ms, 1.5s, 2m or milliseconds")
        return float(match[1]) * _DURATION_UNITS[match[2] or "ms"]


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


def _open(ctx: click.Context, *, must_exist: bool = True) -> TraceStore:
    """Open the store or stop with a message that says what to do."""
    db = ctx.find_object(_Context).db
    try:
        url = resolve_url(db)
        path = sqlite_path(url)
        if must_exist and path is not None and not path.exists():
            raise click.ClickException(
                f"no trace store at {path} yet. Run `agentel demo` to record a run there, or "
                f"point --db / {ENV_DB} at an existing store."
            )
        return open_store(url)
    except (SettingError, SchemaTooNewError) as exc:
        raise click.ClickException(str(exc)) from None
    except click.ClickException:
        raise
    except Exception as exc:  # a database that cannot be reached: say which, and why
        shown = mask_text(f"{db or url}: {exc}", url_secrets(db or url))
        raise click.ClickException(f"cannot open the trace store {shown}") from None


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
      agentel doctor            where traces go and whether each destination answers

    Record your own app's runs into the same store with agentel.setup(exporters=["store"]).
    """
    ctx.obj = _Context(db)


# --- demo ------------------------------------------------------------------------------------


@main.command()
@click.option("--no-content", is_flag=True, help="Do not record messages and tool arguments.")
@click.pass_context
def demo(ctx: click.Context, no_content: bool) -> None:
    """Run a multi-agent example through the OpenAI Agents SDK and show its trace.

    A triage agent checks the request with a guardrail, looks the order up with a tool and
    hands off to a billing agent, which refunds it with another tool. With OPENAI_API_KEY set
    the agents call a real OpenAI model (a fraction of a cent); without it, a scripted model
    plays the same conversation offline.
    """
    try:
        from agentel.demo import REAL_MODEL, SCRIPTED_MODEL, run_demo
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise click.ClickException(
            f"the demo needs the OpenAI Agents SDK: pip install 'agentel[openai-agents]' ({exc})"
        ) from None
    db = ctx.find_object(_Context).db
    try:
        url = resolve_url(db)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None
    if os.environ.get("OPENAI_API_KEY"):
        click.echo(f"Running the demo against OpenAI ({REAL_MODEL}); OPENAI_API_KEY is set.")
    else:
        click.echo(
            f"Running the demo OFFLINE with a scripted model ({SCRIPTED_MODEL}): "
            "OPENAI_API_KEY is not set, so no model is called and no cost is shown. "
            "Set OPENAI_API_KEY to use a real model."
        )
    result = run_demo(db, capture_content=not no_content)
    click.echo(f"Final answer: {result.final_output}\n")
    if result.trace_id is None:
        raise click.ClickException(f"the run finished but no trace arrived in {url}")
    with _open(ctx) as store:
        tree = store.get_trace(result.trace_id)
    assert tree is not None
    click.echo("\n".join(fmt.trace_header(tree)) + "\n")
    click.echo(fmt.trace_tree(tree))
    click.echo(
        f"\nRecorded in {url}. Next: `agentel show --last --content` for the messages, "
        "`agentel traces`, `agentel stats --by agent`."
    )


# --- traces ----------------------------------------------------------------------------------


def _trace_filters(func: Any) -> Any:
    options = [
        click.option("--since", type=SINCE, help="Started after: 30m, 2h, 7d or a date."),
        click.option("--until", type=SINCE, help="Started before: 30m, 2h, 7d or a date."),
        click.option("--status", type=click.Choice(["ok", "error"]), help="error: a span failed."),
        click.option("--workflow", help="Workflow name, as in agents.trace(...)."),
        click.option("--agent", help="An agent that ran in the trace."),
        click.option("--model", help="A model that was called (request model name)."),
        click.option("--tool", help="A tool (or handoff) that was called."),
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
    """List traces, newest first.

    \b
    Examples:
      agentel traces --since 1h --status error
      agentel traces --agent Billing --min-duration 2s
      agentel traces --model gpt-4.1-mini --min-cost 0.01 --meta user=alice
    """
    with _open(ctx) as store:
        found = store.get_traces(**_filter_kwargs(options), limit=limit, offset=offset)
    if as_json:
        for trace in found:
            click.echo(_as_json(trace))
        return
    if not found:
        click.echo("No traces match.")
        return
    click.echo(fmt.traces_table(found, full_ids))


# --- show ------------------------------------------------------------------------------------


@main.command()
@click.argument("trace_id", required=False)
@click.option("--last", is_flag=True, help="The newest trace.")
@click.option("--content", is_flag=True, help="Show messages, instructions and tool I/O.")
@click.option(
    "--width", default=400, show_default=True, help="Cut content at this many characters."
)
@click.option("--json", "as_json", is_flag=True, help="The trace and its spans as JSON.")
@click.pass_context
def show(
    ctx: click.Context, trace_id: str | None, last: bool, content: bool, width: int, as_json: bool
) -> None:
    """Show one trace as a tree: durations, tokens, cost and errors per span.

    TRACE_ID may be the first digits of the id, as `agentel traces` prints them.
    Content appears only if it was recorded (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).
    """
    if bool(trace_id) == last:
        raise click.UsageError("give a TRACE_ID or --last (one of them)")
    with _open(ctx) as store:
        wanted = store.latest_trace_id() if last else trace_id
        tree = store.get_trace(wanted) if wanted else None
    if tree is None:
        raise click.ClickException(
            "the store has no traces yet" if last else f"no single trace matches {trace_id!r}"
        )
    if as_json:
        spans = [
            {k: v for k, v in dataclasses.asdict(s).items() if k != "children"} for s in tree.spans
        ]
        click.echo(
            json.dumps({"trace": dataclasses.asdict(tree.summary), "spans": spans}, default=str)
        )
        return
    click.echo("\n".join(fmt.trace_header(tree)) + "\n")
    click.echo(fmt.trace_tree(tree, content=content, content_width=width))


# --- tail ------------------------------------------------------------------------------------


@main.command()
@click.option("--interval", default=1.0, show_default=True, help="Seconds between checks.")
@click.option("--lines", "-n", default=10, show_default=True, help="Recent traces to show first.")
@click.option("--timeout", type=float, help="Stop after this many seconds [default: until Ctrl-C].")
@click.pass_context
def tail(ctx: click.Context, interval: float, lines: int, timeout: float | None) -> None:
    """Follow new traces as they finish, one line each (like tail -f).

    Works while your app is writing to the same store.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with _open(ctx, must_exist=False) as store:
        recent = list(reversed(store.get_traces(limit=lines))) if lines else []
        cursor = max((t.updated_ns for t in recent), default=time.time_ns())
        seen = {t.trace_id for t in recent}
        click.echo(click.style("  ".join(fmt.TRACE_HEADERS[:-1]), bold=True))
        for trace in [t for t in recent if t.complete]:
            click.echo(_tail_line(trace))
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(interval)
                for trace in store.traces_updated_since(cursor):
                    cursor = max(cursor, trace.updated_ns)
                    if trace.trace_id not in seen:
                        seen.add(trace.trace_id)
                        click.echo(_tail_line(trace))
        except KeyboardInterrupt:
            pass


def _tail_line(trace: TraceSummary) -> str:
    return "  ".join(fmt.trace_row(trace)[:-1])


# --- stats -----------------------------------------------------------------------------------


@main.command()
@click.option(
    "--by", "group_by", type=click.Choice(GROUP_BY_CHOICES), default="agent", show_default=True
)
@click.option("--since", type=SINCE, help="Only runs that started after: 1h, 7d or a date.")
@click.pass_context
def stats(ctx: click.Context, group_by: str, since: datetime | timedelta | None) -> None:
    """Runs, error rate, p50/p95 latency, tokens and cost per agent, model, tool,
    conversation or workflow.

    \b
    Examples:
      agentel stats --by model --since 24h
      agentel stats --by tool
    """
    with _open(ctx) as store:
        rows = store.stats(group_by, since=since)  # type: ignore[arg-type]
    click.echo(fmt.stats_table(rows, group_by) if rows else "No runs in this period.")


# --- prune -----------------------------------------------------------------------------------


@main.command()
@click.option("--older-than", required=True, type=SINCE, help="Age to delete: 30d, 12h or a date.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def prune(ctx: click.Context, older_than: datetime | timedelta, yes: bool) -> None:
    """Delete traces that started before a time, with all their spans.

    \b
    Example:
      agentel prune --older-than 30d --yes
    """
    cutoff = (
        datetime.now().astimezone() - older_than
        if isinstance(older_than, timedelta)
        else older_than
    )
    when = cutoff.strftime("%Y-%m-%d %H:%M:%S")
    with _open(ctx) as store:
        if not yes:
            click.confirm(f"Delete every trace that started before {when}?", abort=True)
        deleted = store.prune(cutoff)
    click.echo(f"Deleted {deleted} traces that started before {when}.")


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
    click.echo(f"Exported {len(ids)} traces ({replay.sent_spans} spans) to {endpoint}.")


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
    return mask_url(value)


def _check_otlp(config: PipelineSettings, target: Any) -> tuple[bool, str, str]:
    """(ok, label, detail) for the OTLP endpoint setup() would send to."""
    grpc = config.otlp_protocol == "grpc"
    endpoint = target.endpoint or _default_otlp_url(grpc)
    preset = f" ({config.otlp_preset})" if config.otlp_preset else ""
    label = f"otlp {mask_url(endpoint)}{preset}"
    ok, detail = _accepts_connections(endpoint) if grpc else _answers(endpoint)
    return ok, label, mask_text(detail, url_secrets(endpoint))


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
    except Exception as exc:  # unreachable, or a URL the client cannot even parse
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
        store = open_store(url)
        with store:
            traces_n, spans_n = store.counts()
            report(
                True, "store", f"schema v{store.schema_version}, {traces_n} traces, {spans_n} spans"
            )
    except Exception as exc:
        report(False, "store", mask_text(str(exc), url_secrets(db or os.environ.get(ENV_DB, ""))))
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
            report(ok, f"celesto {mask_url(base)}", mask_text(detail, url_secrets(base)))
        elif exporter.name in STORE_EXPORTER_NAMES:
            click.echo(f"  {exporter.name}: writes to the trace store above")
        else:
            click.echo(f"  {exporter.name}: in this process, nothing to reach")
        exporter.exporter.shutdown()
    click.echo(_content_capture_line())

    click.echo(click.style("Spool (batches waiting for a backend)", bold=True))
    try:
        from agentel.export import spool_admin

        for line in spool_admin.status_lines():
            click.echo(f"  {line}")
    except Exception as exc:
        report(False, "spool", str(exc))

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


# --- spool -----------------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@click.pass_context
def spool(ctx: click.Context) -> None:
    """Spans kept on disk while a backend (OTLP, Celesto) did not answer.

    They are sent by the app itself once the backend is back, or by the next app that starts
    with the same spool; these commands show, send or delete them now. The spool is in
    $AGENTEL_SPOOL_DIR, else ~/.local/state/agentel/spool.

    \b
    Examples:
      agentel spool           what is waiting, for which destination, and how old it is
      agentel spool flush     send it now, to the destinations this environment sets up
      agentel spool clear -y  delete it
    """
    if ctx.invoked_subcommand is None:
        from agentel.export import spool_admin

        for line in _spool_lines(spool_admin.status_lines):
            click.echo(line)


def _spool_lines(action: Any) -> list[str]:
    try:
        return list(action())
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None


@spool.command("flush")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to keep trying.")
def spool_flush(timeout: float) -> None:
    """Send the spooled spans to the backends configured by the environment."""
    from agentel.export import spool_admin

    for line in _spool_lines(lambda: spool_admin.flush(timeout)):
        click.echo(line)


@spool.command("clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def spool_clear(yes: bool) -> None:
    """Delete every spooled span (they will not be sent)."""
    from agentel.export import spool_admin

    if not yes:
        click.confirm("Delete every spooled span?", abort=True)
    for line in _spool_lines(spool_admin.clear):
        click.echo(line)


if __name__ == "__main__":  # python -m agentel.cli
    main(prog_name="agentel")
