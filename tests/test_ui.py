"""`agentel ui` in a real browser: headless Chromium (Playwright) on a real `agentel ui`
process, reading stores filled by real OpenAI Agents SDK runs.

Every page test runs once on SQLite and once on PostgreSQL (when AGENTEL_TEST_POSTGRES_URL
is set). One browser serves the whole module; each test gets a fresh page that fails the
test if any dialog opens (the HTML-injection canary).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentel.store import open_store
from fake_openai import FakeOpenAI
from store_support import drop_schema, postgres_problem, support_run
from viewer_support import (
    AGENTEL,
    CHROMIUM,
    XSS_IMG,
    XSS_SCRIPT,
    Recorded,
    Viewer,
    record_runs,
    start_viewer,
    stop,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: apt-get install chromium (or set AGENTEL_TEST_CHROMIUM)",
        allow_module_level=True,
    )

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Recorded]]:
    """The same recorded runs in a SQLite file and, when there is one, a PostgreSQL schema
    named after this branch of tests."""
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('viewer') / 'traces.db'}"}
    if postgres_problem() is None:
        base = os.environ["AGENTEL_TEST_POSTGRES_URL"]
        urls["postgres"] = f"{base}?schema=viewer_ui_{os.getpid()}"
    try:
        with FakeOpenAI() as fake:
            recorded = record_runs(fake, list(urls.values()))
        yield urls, recorded
    finally:
        if "postgres" in urls:
            drop_schema(urls["postgres"])


@pytest.fixture(scope="module", params=BACKENDS)
def viewer(
    request: pytest.FixtureRequest, stores: tuple[dict[str, str], Recorded]
) -> Iterator[Viewer]:
    urls, _ = stores
    if request.param not in urls:
        pytest.skip(postgres_problem() or "no PostgreSQL")
    running = start_viewer(urls[request.param])
    yield running
    stop(running)


@pytest.fixture(scope="module")
def runs(stores: tuple[dict[str, str], Recorded]) -> Recorded:
    return stores[1]


@pytest.fixture(scope="module")
def browser(stores: object) -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
    assert dialogs == [], f"a script from the data ran: {dialogs}"


def _rows(page: object) -> object:
    return page.locator("#rows tr.trace")  # type: ignore[attr-defined]


def _row(page: object, workflow: str) -> object:
    return page.locator("#rows tr.trace", has=page.locator("td.workflow", has_text=workflow))  # type: ignore[attr-defined]


# --- the trace list --------------------------------------------------------------------------


def test_list_shows_the_runs_newest_first_with_their_status(
    viewer: Viewer, runs: Recorded, page
) -> None:
    page.goto(viewer.url + "/")
    ids = _rows(page).evaluate_all("rows => rows.map(r => r.dataset.traceId)")
    order = [runs.hostile, runs.refund_other, runs.refund, runs.failing, runs.demo]
    assert [i for i in ids if i in order] == order
    expect(_row(page, "Customer support").locator(".badge.status-ok")).to_have_text("ok")
    expect(_row(page, "Inventory check").locator(".badge.status-error")).to_have_text("error")
    expect(_row(page, "Customer support").locator("td.agents")).to_have_text("Triage → Billing")
    expect(_row(page, "Customer support").locator("td").nth(5)).to_contain_text("/")
    expect(_row(page, "Refund desk").first.locator("a[href^='/conversation/']")).to_have_text(
        "conv-refund"
    )


def test_filters_change_the_list_and_the_url(viewer: Viewer, runs: Recorded, page) -> None:
    page.goto(viewer.url + "/")
    page.select_option("select[name=status]", "error")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"/\?status=error$"))  # empty filters stay out of the URL
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-trace-id", runs.failing)

    page.fill("input[name=agent]", "billing")
    page.select_option("select[name=status]", "")
    page.fill("input[name=min_tokens]", "100")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"agent=billing"))
    assert "min_tokens=100" in page.url and "status" not in page.url
    ids = _rows(page).evaluate_all("rows => rows.map(r => r.dataset.traceId)")
    recorded = {runs.demo, runs.failing, runs.refund, runs.refund_other, runs.hostile}
    # names match in any case: the demo's agent is "Billing"
    assert [i for i in ids if i in recorded] == [runs.refund_other, runs.refund, runs.demo]

    # a bookmarked URL gives the same view
    page.goto(viewer.url + "/?tool=strict_inventory&since=1h")
    expect(_rows(page)).to_have_count(1)
    expect(page.locator("input[name=tool]")).to_have_value("strict_inventory")
    page.goto(viewer.url + "/?meta=note%3Dnothing")
    expect(page.locator("#rows tr.empty")).to_contain_text("No traces match")


def test_paging_moves_through_the_list(viewer: Viewer, runs: Recorded, page) -> None:
    page.goto(viewer.url + "/?workflow=Refund+desk&offset=1")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-trace-id", runs.refund)  # the older one
    page.click("text=← newer")
    page.wait_for_url(re.compile(r"offset=0"))
    expect(_rows(page)).to_have_count(2)


def test_a_bad_filter_value_is_a_clear_message(viewer: Viewer, page) -> None:
    for query, message in [
        ("min_tokens=lots", "min_tokens='lots' is not a whole number"),
        ("since=yesterday", "since: 'yesterday' is not a time"),
        ("status=maybe", "status='maybe' is not one of ok, error"),
        ("min_duration=slow", "min_duration: 'slow' is not a duration"),
        ("meta=novalue", "meta: 'novalue' is not KEY=VALUE"),
    ]:
        response = page.goto(f"{viewer.url}/?{query}")
        assert response.status == 400, query
        expect(page.get_by_role("alert")).to_contain_text(message)
        assert "Traceback" not in page.content()
        expect(page.locator("#filters")).to_be_visible()  # the form stays to fix it


def test_new_traces_appear_without_a_reload(viewer: Viewer, page) -> None:
    page.goto(viewer.url + "/?workflow=Live+support")
    expect(page.locator("#rows tr.empty")).to_be_visible()
    run = support_run(seed=int(time.time()), start_ns=time.time_ns(), workflow="Live support")
    with open_store(viewer.db) as store:
        store.write_spans(run.spans)  # another process writing while the viewer reads
    expect(_rows(page)).to_have_count(1, timeout=15_000)
    expect(_rows(page).first).to_have_attribute("data-trace-id", run.trace_hex)


def test_a_running_trace_fills_in_as_its_spans_arrive(viewer: Viewer, page) -> None:
    run = support_run(seed=int(time.time()) + 1, start_ns=time.time_ns(), workflow="Growing")
    with open_store(viewer.db) as store:
        store.write_spans(run.spans[:3])  # the first spans of a run that is still going
        page.goto(f"{viewer.url}/trace/{run.trace_hex}")
        expect(page.locator(".trace-head .badge.running")).to_be_visible()
        expect(page.locator("#waterfall .span-row")).to_have_count(3)
        store.write_spans(run.spans[3:])
    expect(page.locator("#waterfall .span-row")).to_have_count(len(run.spans), timeout=15_000)
    expect(page.locator(".trace-head .badge.running")).to_have_count(0)


# --- the trace page --------------------------------------------------------------------------


def test_waterfall_has_one_row_per_span_nested_and_placed_by_time(
    viewer: Viewer, runs: Recorded, page
) -> None:
    with open_store(viewer.db) as store:
        tree = store.get_trace(runs.demo)
    assert tree is not None
    page.goto(f"{viewer.url}/trace/{runs.demo}")
    rows = page.locator("#waterfall .span-row")
    expect(rows).to_have_count(len(tree.spans))
    shown = rows.evaluate_all(
        """rows => rows.map(r => {
            const bar = r.querySelector('.bar').getBoundingClientRect();
            const track = r.querySelector('.track').getBoundingClientRect();
            const name = r.querySelector('.name').getBoundingClientRect();
            return {id: r.dataset.spanId, parent: r.dataset.parentId,
                    name: r.querySelector('.name').textContent, indent: name.left,
                    left: bar.left - track.left, width: bar.width, track: track.width};
        })"""
    )
    # tree order: each span right after its parent or an earlier sibling, indented under it
    expected: list[tuple[str, int]] = []

    def walk(spans, depth: int) -> None:
        for span in spans:
            expected.append((span.span_id, depth))
            walk(span.children, depth + 1)

    walk(tree.roots, 0)
    assert [row["id"] for row in shown] == [span_id for span_id, _ in expected]
    by_id = {span.span_id: span for span in tree.spans}
    indent = {row["id"]: row["indent"] for row in shown}
    for row in shown:
        span = by_id[row["id"]]
        assert row["name"] == span.name
        assert row["parent"] == (span.parent_span_id or "")
        if span.parent_span_id:
            assert indent[row["id"]] > indent[span.parent_span_id]
    names = [row["name"] for row in shown]
    assert names[:3] == [
        "invoke_workflow Customer support",
        "invoke_agent Triage",
        "apply_guardrail no_card_numbers",
    ]
    # bars: placed at the start and sized by the duration, on one axis for the whole trace
    origin = min(span.start_ns for span in tree.spans)
    total = max(span.end_ns for span in tree.spans) - origin
    for row in shown:
        span = by_id[row["id"]]
        px_per_ns = row["track"] / total
        assert row["left"] == pytest.approx((span.start_ns - origin) * px_per_ns, abs=1.5)
        expected_width = max((span.end_ns - span.start_ns) * px_per_ns, 2)
        assert row["width"] == pytest.approx(expected_width, abs=1.5)
    starts = [row["left"] for row in shown if by_id[row["id"]].agent == "Triage"]
    assert starts == sorted(starts)


def test_clicking_a_tool_span_shows_its_call_id_and_arguments(
    viewer: Viewer, runs: Recorded, page
) -> None:
    page.goto(f"{viewer.url}/trace/{runs.refund}")
    page.locator(".span-row", has_text="execute_tool refund").click()
    details = page.locator("#details .span-details")
    expect(details.locator(".tool")).to_contain_text("call_refund")
    expect(details.locator(".tool-arguments")).to_have_text(
        '{\n  "order_id": "A7",\n  "amount": 5.5\n}'
    )
    expect(details.locator(".tool-result")).to_contain_text("refunded 5.5 on A7")
    assert "span=" in page.url  # the selected span is part of the link
    page.reload()
    expect(page.locator("#details .tool")).to_contain_text("call_refund")

    # content not captured: the call id is there, the arguments are not, a hint says why
    page.goto(f"{viewer.url}/trace/{runs.demo}")
    page.locator(".span-row", has_text="execute_tool lookup_order").click()
    expect(details.locator(".tool")).to_contain_text("call_lookup")
    expect(details.locator(".tool-arguments")).to_have_count(0)
    expect(details.locator(".hint")).to_contain_text(
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY"
    )


def test_model_span_details_show_tokens_and_settings(viewer: Viewer, runs: Recorded, page) -> None:
    page.goto(f"{viewer.url}/trace/{runs.refund}")
    page.locator(".span-row.kind-model").nth(0).click()
    usage = page.locator("#details .usage")
    expect(usage).to_contain_text("input tokens100")
    expect(usage).to_contain_text("cached input tokens40")
    expect(usage).to_contain_text("output tokens10")
    expect(page.locator("#details .model")).to_contain_text("request modelgpt-4o")
    page.locator(".span-row.kind-handoff").click()
    expect(page.locator("#details .handoff")).to_contain_text("fromtriage")
    expect(page.locator("#details .handoff")).to_contain_text("tobilling")


def test_the_failing_span_shows_its_exception_and_stack(
    viewer: Viewer, runs: Recorded, page
) -> None:
    page.goto(f"{viewer.url}/trace/{runs.failing}")
    failed = page.locator(".span-row.error", has_text="execute_tool strict_inventory")
    expect(failed).to_have_count(1)
    expect(failed.locator(".err-mark")).to_be_visible()
    failed.click()
    exception = page.locator("#details .exception")
    expect(exception.locator(".exc-type")).to_have_text("LookupError")
    expect(exception.locator(".exc-message")).to_have_text("warehouse unreachable for X1")
    expect(exception.locator(".stacktrace")).to_contain_text("Traceback (most recent call last)")
    expect(exception.locator(".stacktrace")).to_contain_text("in strict_inventory")


def test_captured_content_reads_as_a_conversation(viewer: Viewer, runs: Recorded, page) -> None:
    page.goto(f"{viewer.url}/trace/{runs.refund}")
    talk = page.locator(".trace-conversation .msg")
    expect(talk.filter(has_text="Please refund order A7").first).to_have_class(
        re.compile("role-user")
    )
    call = page.locator(".trace-conversation .tool-call", has_text="lookup_order")
    expect(call).to_contain_text("call_lookup")
    expect(call.locator("pre")).to_have_text('{\n  "order_id": "A7"\n}')
    expect(talk.last).to_contain_text("Refunded 5.5 on order A7.")
    expect(talk.last).to_have_class(re.compile("role-assistant"))
    page.goto(f"{viewer.url}/trace/{runs.demo}")
    expect(page.locator(".trace-conversation .hint")).to_contain_text("Content was not captured")


def test_agents_path_and_totals_per_agent(viewer: Viewer, runs: Recorded, page) -> None:
    page.goto(f"{viewer.url}/trace/{runs.demo}")
    nodes = page.locator("svg.path .agent-node text")
    expect(nodes).to_have_text(["Triage", "Billing"])
    expect(page.locator("svg.path .edge-label")).to_have_text(["handoff"])
    totals = page.locator("table.totals tbody tr")
    expect(totals).to_have_count(2)
    expect(totals.nth(0).locator("td")).to_have_text(
        [
            "Triage",
            "1",
            re.compile(r"^[\d.]+ m?s$"),
            "2",
            "2",
            "20 / 10",
            re.compile(r"^\$0\.\d{4}$"),
            "0",
        ]
    )
    expect(totals.nth(1).locator("td").nth(3)).to_have_text("2")  # Billing's model calls


def test_conversation_page_lists_the_traces_of_a_conversation(
    viewer: Viewer, runs: Recorded, page
) -> None:
    page.goto(viewer.url + "/")
    _row(page, "Refund desk").first.locator("a[href^='/conversation/']").click()
    turns = page.locator("details.turn")
    expect(turns).to_have_count(2)
    expect(turns.nth(0)).to_have_attribute("data-trace-id", runs.refund)  # oldest first
    turns.nth(0).locator("summary").click(position={"x": 4, "y": 4})  # not on its link
    expect(turns.nth(0).locator(".tool-call", has_text="refund")).to_contain_text('"amount": 5.5')
    expect(turns.nth(1).locator(".tool-call", has_text="refund")).to_contain_text('"amount": 7.25')
    response = page.goto(viewer.url + "/conversation/nobody")
    assert response.status == 404


def test_stats_page_charts_and_tables(viewer: Viewer, page) -> None:
    page.goto(viewer.url + "/stats?period=1h")
    expect(page.locator("figure.chart")).to_have_count(5)
    expect(page.locator("figure.chart figcaption")).to_contain_text(
        ["Runs", "Error rate", "Latency", "Tokens", "Cost"]
    )
    bars = page.locator("figure.chart").first.locator("rect.bar")
    heights = bars.evaluate_all("bars => bars.map(b => b.getBBox().height)")
    assert sum(1 for h in heights if h > 0) >= 1
    tools = page.locator("table.stats[data-group=tool] tbody tr")
    row = tools.filter(has=page.locator("td", has_text=re.compile("^strict_inventory$")))
    expect(row.locator("td")).to_contain_text(["strict_inventory", "1", "1", "100.0 %"])
    agents = page.locator("table.stats[data-group=agent]")
    expect(agents).to_contain_text("Triage")
    response = page.goto(viewer.url + "/stats?period=forever")
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("period='forever' is not one of")


def test_compare_marks_the_differing_tool_call(viewer: Viewer, runs: Recorded, page) -> None:
    page.goto(f"{viewer.url}/trace/{runs.refund}")
    page.select_option(".compare-pick select[name=b]", runs.refund_other)
    page.click(".compare-pick button")
    page.wait_for_url(re.compile(rf"/compare\?a={runs.refund}&b={runs.refund_other}"))
    rows = page.locator("table.compare-spans tbody tr")
    differing = page.locator("table.compare-spans tr.diff")
    expect(differing).to_have_count(1)
    expect(differing).to_have_attribute("data-name", "execute_tool refund")
    expect(differing.locator(".differences")).to_have_text("arguments, result")
    expect(differing.locator("pre")).to_have_text(
        [
            '{\n  "order_id": "A7",\n  "amount": 5.5\n}',
            '{\n  "order_id": "A7",\n  "amount": 7.25\n}',
        ]
    )
    same = rows.filter(has=page.locator("td", has_text=re.compile("^execute_tool lookup_order$")))
    expect(same).not_to_have_class(re.compile("diff"))
    # a run of another shape: the spans only one side has are marked too
    page.goto(f"{viewer.url}/compare?a={runs.refund}&b={runs.failing}")
    expect(page.locator("tr.diff .differences", has_text="only in B").first).to_be_visible()


# --- safety ----------------------------------------------------------------------------------


def test_html_in_the_data_is_shown_as_text(viewer: Viewer, runs: Recorded, page) -> None:
    injected = "img[src=x], script:not([src])"
    page.goto(viewer.url + "/")
    expect(_row(page, "Hostile").locator("td.workflow")).to_have_text(f"Hostile {XSS_SCRIPT}")
    assert page.locator(injected).count() == 0
    page.goto(f"{viewer.url}/trace/{runs.hostile}")
    expect(page.locator(".trace-head h1")).to_contain_text(f"Hostile {XSS_SCRIPT}")
    expect(page.locator(".trace-head .meta")).to_have_text(f"note={XSS_IMG}")
    expect(page.locator("svg.path .agent-node title")).to_have_text(f"agent{XSS_IMG}")
    page.locator(".span-row", has_text="execute_tool annotate").click()
    arguments = json.dumps({"note": XSS_IMG + XSS_SCRIPT}, indent=2)
    expect(page.locator("#details .tool-arguments")).to_have_text(arguments)
    expect(page.locator(".trace-conversation")).to_contain_text(f"hello {XSS_SCRIPT}")
    expect(page.locator(".trace-conversation")).to_contain_text(f"Done {XSS_SCRIPT}")
    assert page.locator(injected).count() == 0
    page.goto(f"{viewer.url}/compare?a={runs.hostile}&b={runs.refund}")
    page.goto(f"{viewer.url}/conversation/{XSS_SCRIPT}")
    assert page.locator(injected).count() == 0  # dialogs are checked by the page fixture


def test_unknown_trace_ids_are_a_404_page(viewer: Viewer, runs: Recorded, page) -> None:
    for path in (
        "/trace/ffffffffffffffffffffffffffffffff",
        "/trace/not-a-trace-id",
        f"/trace/{runs.demo}/span/0000000000000000",
        "/compare?a=abcdef&b=123456",
        "/no-such-page",
    ):
        response = page.goto(viewer.url + path)
        assert response.status == 404, path
        expect(page.locator("h1")).to_contain_text("404")
        assert "Traceback" not in page.content()
    page.goto(viewer.url + "/trace/not-a-trace-id")
    expect(page.get_by_role("alert")).to_have_text(
        "No trace with the id 'not-a-trace-id' is in this store."
    )


def test_no_endpoint_writes(viewer: Viewer, runs: Recorded) -> None:
    with open_store(viewer.db) as store:
        before = store.counts()
    for path in ("/", "/rows", f"/trace/{runs.demo}", "/stats", "/compare", "/conversation/x"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            request = urllib.request.Request(viewer.url + path, data=b"x=1", method=method)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 405, (method, path)
    with open_store(viewer.db) as store:
        assert store.counts() == before


def test_listens_on_loopback_only_and_answers_only_its_own_host_name(viewer: Viewer) -> None:
    port = int(viewer.url.rsplit(":", 1)[1])
    assert viewer.url == f"http://127.0.0.1:{port}"
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[3] == "0A"  # LISTEN
    ]
    assert f"0100007F:{port:04X}" in listening  # 127.0.0.1, not 0.0.0.0
    assert f"00000000:{port:04X}" not in listening
    rebound = urllib.request.Request(viewer.url + "/", headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(rebound, timeout=10)
    assert refused.value.code == 400


# --- the command -----------------------------------------------------------------------------


def test_ctrl_c_stops_the_viewer_cleanly(stores: tuple[dict[str, str], Recorded]) -> None:
    running = start_viewer(stores[0]["sqlite"])
    assert "Ctrl-C to stop" in running.printed
    with urllib.request.urlopen(running.url + "/", timeout=10) as answer:
        assert answer.status == 200
    code, out, err = stop(running)
    assert code == 0, err
    assert "Viewer stopped." in out
    assert "Traceback" not in err


def test_another_host_warns_that_traces_may_be_private(
    stores: tuple[dict[str, str], Recorded],
) -> None:
    running = start_viewer(stores[0]["sqlite"], "--host", "0.0.0.0")
    try:
        warning = running.printed.splitlines()[0]
        assert warning.startswith("Warning: serving on 0.0.0.0")
        assert "private content" in warning
    finally:
        stop(running)


def _ui(*args: str) -> tuple[int, str]:
    import subprocess

    result = subprocess.run(
        [*AGENTEL, *args], capture_output=True, text=True, timeout=60, env=_plain_env()
    )
    return result.returncode, result.stderr


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AGENTEL_", "OTEL_"))}


def test_bad_store_and_busy_port_are_one_line_errors(
    tmp_path: Path, stores: tuple[dict[str, str], Recorded]
) -> None:
    missing = tmp_path / "nothing.db"
    code, err = _ui("--db", str(missing), "ui", "--port", "0")
    assert code == 1 and err.count("\n") == 1
    assert f"no trace store at {missing} yet" in err and not missing.exists()

    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 100)
    code, err = _ui("--db", str(junk), "ui", "--port", "0")
    assert code == 1 and err.count("\n") == 1
    assert f"{junk} is not a SQLite database, so not a trace store" in err

    code, err = _ui("--db", stores[0]["sqlite"], "ui", "--port", "70000")
    assert code == 2 and "'--port': 70000 is not in the range 0<=x<=65535" in err

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = _ui("--db", stores[0]["sqlite"], "ui", "--port", str(port))
    assert code == 1 and err.count("\n") == 1
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in err


def test_demo_names_the_viewer_command_without_the_password() -> None:
    import subprocess

    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    base = os.environ["AGENTEL_TEST_POSTGRES_URL"].replace("://postgres@", "://postgres:hunter2@")
    url = f"{base}?schema=viewer_demo_{os.getpid()}"
    try:
        result = subprocess.run(
            [*AGENTEL, "--db", url, "demo"],
            capture_output=True,
            text=True,
            timeout=120,
            env=_plain_env(),
        )
        assert result.returncode == 0, result.stderr
        assert "hunter2" not in result.stdout + result.stderr
        masked = url.replace(":hunter2@", ":***@")
        assert f"See it in the browser: run `agentel --db {masked} ui`" in result.stdout
    finally:
        drop_schema(url)
