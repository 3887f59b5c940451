"""The Grafana replay mode: datasource scrape interval, the dashboard's own time range, panel widths,
variables fetched from the datasource (and findings when the target's label API differs).

Expectations come from Grafana's documented rules (rangeutil.roundInterval table, the rate
interval rule, dateMath) and from manifests/grafana (datasources.yaml, the dashboard JSON); the
label-values server below answers from a fixed table and records what it was asked, so the tests
see exactly what the harness sends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.dashboards import load_dashboards, parse_dashboard
from fixtures.promql.grafana_mode import (
    Datasource,
    GrafanaSession,
    dashboard_range,
    fetch_variables,
    load_datasources,
    panel_max_data_points,
    parse_time,
    variable_options,
)
from fixtures.promql.replay import build_grafana_query, cases_for
from fixtures.promql.variables import TemplateError
from seeder.manifest import SeedManifest

ROOT = Path(__file__).parents[3]
DASHBOARD = ROOT / "manifests/grafana/dashboard-k8s-seeded.yaml"
END_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
DAY_MS = 86_400_000


def _shipped():
    (dash,) = load_dashboards(DASHBOARD)
    return dash


def _spec(dash, title: str, mode: str = "range"):
    return next(s for s in cases_for([dash], ["grafana"]) if s.panel.title == title and s.mode == mode)


# --- datasource, time range, width -----------------------------------------------------------


def test_provisioned_datasources_carry_the_scrape_interval() -> None:
    ds = load_datasources(ROOT / "manifests")
    assert ds["mytsdb"].time_interval == "60s" and ds["mytsdb"].is_default
    assert ds["reference"].scrape_interval == "60s"
    assert ds["MyTSDB"] is ds["mytsdb"]  # Grafana resolves a datasource by uid or by name
    assert Datasource("x", "x", "prometheus").scrape_interval == "15s"  # Grafana's default


def test_scrape_interval_comes_from_the_datasource_not_the_seed() -> None:
    # D1: a 6 h panel 960 px wide: 22.5 s rounds to 20 s, raised to the datasource's 60 s; the rate
    # interval is max(60 s + 60 s, 4 * 60 s) = 4m, where the seed's 30 s would have given 2m.
    panel = {"id": 1, "title": "P", "type": "timeseries", "gridPos": {"w": 12},
             "datasource": {"uid": "mytsdb"},
             "targets": [{"refId": "A", "expr": "rate(x[$__rate_interval])"}]}
    dash = parse_dashboard({"title": "d", "time": {"from": "now-6h", "to": "now"}, "panels": [panel]},
                           "d", "t")
    query = build_grafana_query(_spec(dash, "P"), END_MS, {}, load_datasources(ROOT / "manifests"))
    assert query.scrape_interval == "60s" and query.max_data_points == 960
    assert query.timing.step_ms == 60_000 and query.expr == "rate(x[4m0s])"
    assert query.timing.aligned_start_ms == END_MS - 6 * 3_600_000  # already on the 60 s grid
    without = build_grafana_query(_spec(dash, "P"), END_MS, {}, {})  # nothing provisioned: 15 s
    assert without.scrape_interval == "15s" and without.timing.step_ms == 20_000


def test_the_dashboards_seven_day_range_and_panel_widths() -> None:
    dash = _shipped()
    assert dashboard_range(dash, END_MS) == (END_MS - 7 * DAY_MS, END_MS)
    values = {}  # no variables in these expressions' step math
    wide = build_grafana_query(_spec(dash, "Pod count by phase"), END_MS, values, load_datasources(ROOT))
    # w=12 of 24 in 1920 px: 960 points; 7 d / 960 = 630 s -> rounded 10 min (table bound 750 s)
    assert wide.max_data_points == 960 and wide.timing.step_ms == 600_000
    assert wide.timing.aligned_start_ms == (END_MS - 7 * DAY_MS) // 600_000 * 600_000
    narrow = build_grafana_query(_spec(dash, "HTTP p99 latency"), END_MS, values, load_datasources(ROOT))
    # w=8: 640 points; 945 s -> rounded 15 min (bound 1050 s)
    assert narrow.max_data_points == 640 and narrow.timing.step_ms == 900_000


def test_panel_max_data_points_wins_over_the_width() -> None:
    panel = {"id": 1, "title": "P", "type": "timeseries", "gridPos": {"w": 24}, "maxDataPoints": 100,
             "targets": [{"refId": "A", "expr": "x"}]}
    (parsed,) = parse_dashboard({"panels": [panel]}, "d", "t").panels
    assert panel_max_data_points(parsed) == 100
    del panel["maxDataPoints"]
    (parsed,) = parse_dashboard({"panels": [panel]}, "d", "t").panels
    assert panel_max_data_points(parsed) == 1920


@pytest.mark.parametrize(("text", "round_up", "expected"), [
    ("now", False, END_MS), ("now-7d", False, END_MS - 7 * DAY_MS), ("now-1h", False, END_MS - 3_600_000),
    ("now-1d/d", False, END_MS - DAY_MS), ("now-1d/d", True, END_MS - 1),
    ("now-1M", False, 1_790_812_800_000),  # 2026-10-01
    ("2026-10-25T00:00:00Z", False, END_MS - 7 * DAY_MS), ("1793491200000", False, END_MS),
])
def test_dashboard_time_math(text: str, round_up: bool, expected: int) -> None:
    assert parse_time(text, END_MS, round_up=round_up) == expected


def test_month_arithmetic_clamps_to_the_months_end() -> None:
    march_31 = 1_774_915_200_000  # 2026-03-31T00:00:00Z
    assert parse_time("now-1M", march_31, round_up=False) == 1_772_236_800_000  # 2026-02-28


def test_bad_dashboard_time_is_named() -> None:
    with pytest.raises(TemplateError, match="now-x"):
        parse_time("now-x", END_MS, round_up=False)


def test_panels_in_collapsed_rows_are_labelled() -> None:
    dash = _shipped()
    collapsed = [s for s in cases_for([dash], ["grafana"]) if s.panel.row_collapsed]
    assert collapsed and all("collapsed row 'PromQL coverage'" in s.note for s in collapsed)
    assert not any(s.note for s in cases_for([dash], ["grafana"]) if not s.panel.row_collapsed)
    assert not any(s.note for s in cases_for([dash], ["slice"]))


# --- variable options ------------------------------------------------------------------------


def test_variable_options_regex_dedupe_and_sort() -> None:
    values = ["pod-10", "pod-9", "Pod-1", "pod-9", "node-1"]
    assert variable_options(values, "", 0) == ["pod-10", "pod-9", "Pod-1", "node-1"]
    assert variable_options(values, "", 1) == ["Pod-1", "node-1", "pod-10", "pod-9"]
    assert variable_options(values, "", 2) == ["pod-9", "pod-10", "node-1", "Pod-1"]
    assert variable_options(values, "", 3) == ["Pod-1", "node-1", "pod-9", "pod-10"]  # numerical
    assert variable_options(values, "", 5) == ["node-1", "Pod-1", "pod-10", "pod-9"]  # case-insensitive
    assert variable_options(values, "/pod-(\\d+)/", 1) == ["10", "9"]  # capture group, then sort
    assert variable_options(values, "/^pod/i", 0) == ["pod-10", "pod-9", "Pod-1"]


class _LabelServer(ThreadingHTTPServer):
    """Answers /api/v1/label/<name>/values from a table keyed by (name, match[]); records requests.

    ``max_span_s`` imitates MyTSDB's documented refusal of spans over 24 h.
    """

    def __init__(self, table: dict[tuple[str, str | None], list[str]],
                 max_span_s: float | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _LabelHandler)
        self.table, self.max_span_s = table, max_span_s
        self.seen: list[dict[str, list[str]]] = []


class _LabelHandler(BaseHTTPRequestHandler):
    server: _LabelServer

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = parse_qs(url.query)
        name = url.path.removeprefix("/api/v1/label/").removesuffix("/values")
        self.server.seen.append({"name": [name], **params})
        match = (params.get("match[]") or [None])[0]
        span = float(params["end"][0]) - float(params["start"][0])
        if self.server.max_span_s is not None and span > self.server.max_span_s:
            body = {"status": "error", "errorType": "execution", "error": "time range exceeds 24 hours"}
        else:
            body = {"status": "success", "data": self.server.table.get((name, match), [])}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    servers: list[_LabelServer] = []

    def start(table: dict[tuple[str, str | None], list[str]],
              max_span_s: float | None = None) -> _LabelServer:
        server = _LabelServer(table, max_span_s)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _client(server: _LabelServer) -> PromClient:
    return PromClient(f"http://127.0.0.1:{server.server_address[1]}")


CHAIN = [
    {"name": "cluster", "type": "query", "query": "label_values(up, cluster)", "multi": True,
     "includeAll": True, "sort": 1, "current": {"value": ["$__all"]}},
    {"name": "pod", "type": "query", "query": 'label_values(up{cluster=~"$cluster"}, pod)', "multi": True,
     "includeAll": True, "sort": 1, "current": {"value": ["$__all"]}},
]
TABLE = {("cluster", "up"): ["b.1", "a-0"],
         ("pod", 'up{cluster=~"(a-0|b\\\\.1)"}'): ["p1", "p0"]}


def test_variables_are_fetched_in_order_with_the_earlier_selections(serve) -> None:
    reference = serve(TABLE)
    dash = parse_dashboard({"templating": {"list": CHAIN}, "panels": []}, "d", "t")
    resolved = fetch_variables(dash, _client(reference), _client(reference), END_MS - 7 * DAY_MS, END_MS)
    assert resolved.error is None and all(f.ok for f in resolved.fetches)
    assert resolved.values["cluster"].options == ("a-0", "b.1")  # sort 1: alphabetical
    assert resolved.values["pod"].options == ("p0", "p1") and resolved.values["pod"].is_all
    asked = [(r["name"][0], r.get("match[]"), r["start"][0], r["end"][0]) for r in reference.seen]
    start, end = str((END_MS - 7 * DAY_MS) // 1000), str(END_MS // 1000)
    # the pod query carries the cluster selection, regex-escaped and joined, over the dashboard range
    assert asked[::2] == [("cluster", ["up"], start, end),
                          ("pod", ['up{cluster=~"(a-0|b\\\\.1)"}'], start, end)]


def test_a_target_that_rejects_the_span_is_a_finding_and_the_replay_goes_on(serve) -> None:
    reference, target = serve(TABLE), serve(TABLE, max_span_s=86_400)
    dash = parse_dashboard({"templating": {"list": CHAIN}, "panels": []}, "d", "t")
    resolved = fetch_variables(dash, _client(target), _client(reference), END_MS - 7 * DAY_MS, END_MS)
    assert resolved.error is None
    assert [f.ok for f in resolved.fetches] == [False, False]
    first = resolved.fetches[0]
    assert first.target_values is None and "exceeds 24 hours" in first.target_error
    assert first.reference_values == ["a-0", "b.1"]
    assert "the target failed" in first.diff() and "label_values(up, cluster)" in first.explain()
    assert resolved.values["pod"].options == ("p0", "p1")  # continued with the reference's options


def test_other_options_on_the_target_are_a_finding(serve) -> None:
    reference = serve(TABLE)
    target = serve({**TABLE, ("cluster", "up"): ["a-0", "mytsdb"]})
    dash = parse_dashboard({"templating": {"list": CHAIN[:1]}, "panels": []}, "d", "t")
    (fetch,) = fetch_variables(dash, _client(target), _client(reference), END_MS - DAY_MS, END_MS).fetches
    assert not fetch.ok
    assert fetch.diff() == ("1 missing on the target: ['b.1']; 1 extra on the target: ['mytsdb'] "
                            "(target 2 options, reference 2)")


def test_a_failing_reference_stops_the_dashboard_with_the_reason(serve) -> None:
    reference = serve(TABLE, max_span_s=1)
    manifest = SeedManifest(spec={}, seed=1, start_ms=END_MS - DAY_MS, end_ms=END_MS, interval_ms=60_000)
    session = GrafanaSession(_client(reference), _client(reference), manifest, {})
    dash = parse_dashboard({"templating": {"list": CHAIN}, "panels": []}, "d", "t")
    resolved = session.resolve(dash)
    assert resolved.error is not None and "reference's label API failed" in resolved.error
    assert session.resolve(dash) is resolved  # fetched once per session


def test_non_label_values_variable_queries_are_named() -> None:
    var = {"name": "m", "type": "query", "query": "query_result(up)"}
    dash = parse_dashboard({"templating": {"list": [var]}, "panels": []}, "d", "t")
    dead = PromClient("http://127.0.0.1:9", timeout=1)
    with pytest.raises(TemplateError, match="only label_values"):
        fetch_variables(dash, dead, dead, END_MS - DAY_MS, END_MS)


# --- reducing a 7-day failure on a short window ---------------------------------------------


def _matrix(client: PromClient, times, values: dict[float, float]):
    from fixtures.promql.client import PromRequest, decode

    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"pod": "a"}, "values": [[t, str(v)] for t, v in sorted(values.items())]}]}}
    request = PromRequest(client.base_url, "/api/v1/query_range",
                          (("query", "x"), ("start", str(times.start)), ("end", str(times.end))))
    return decode(request, 200, json.dumps(body))


def test_grafana_range_failures_are_reduced_around_their_first_difference() -> None:
    from fixtures.promql.reduce import QueryTimes, Reducer
    from fixtures.promql.replay import REDUCTION_WINDOW_STEPS, reduction_window

    dead = PromClient("http://127.0.0.1:9", timeout=1)  # every answer below is already known
    reducer = Reducer(dead, dead)
    step = 600.0
    full = QueryTimes.range_(0.0, 100 * step, step)
    grid = [i * step for i in range(101)]
    bad_at = 40 * step
    reference = {t: 1.0 for t in grid}
    target = {t: (2.0 if t == bad_at else 1.0) for t in grid}
    failing = reducer.remember("x", full, _matrix(dead, full, target), _matrix(dead, full, reference))
    n = REDUCTION_WINDOW_STEPS
    narrowed = QueryTimes.range_(bad_at - n * step, bad_at + n * step, step)
    inside = [t for t in grid if narrowed.start <= t <= narrowed.end]
    reducer.remember("x", narrowed, _matrix(dead, narrowed, {t: target[t] for t in inside}),
                     _matrix(dead, narrowed, {t: reference[t] for t in inside}))
    assert reduction_window(reducer, "x", failing) == narrowed
    # a difference that does not show on the short window keeps the full range
    other = Reducer(dead, dead)
    failing = other.remember("x", full, _matrix(dead, full, target), _matrix(dead, full, reference))
    other.remember("x", narrowed, _matrix(dead, narrowed, {t: 1.0 for t in inside}),
                   _matrix(dead, narrowed, {t: 1.0 for t in inside}))
    assert reduction_window(other, "x", failing) == full
