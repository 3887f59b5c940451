"""Grafana's variable expansion and step math, pinned by cases from Grafana's documented behaviour.

Sources: Grafana docs "Variable syntax", "Advanced variable format options", Prometheus data
source "Using __rate_interval" (max($__interval + scrape interval, 4 * scrape interval)), "Global
variables" ($__interval, $__range*), and the public sources named in fixtures/promql/variables.py
(rangeutil.roundInterval table, 11000-point safe resolution, step alignment).
"""

from __future__ import annotations

import pytest

from fixtures.promql.variables import (
    TemplateError,
    VariableValue,
    compute_timing,
    format_interval,
    frontend_interval_ms,
    go_duration,
    interpolate,
    interpolate_builtins,
    parse_interval_ms,
    range_variables,
    round_interval_ms,
)

H = 3_600_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


@pytest.mark.parametrize(("raw_ms", "rounded"), [
    (9, 1), (10, 10), (14, 10), (15, 20), (3_600, 5_000), (7_499, 5_000), (7_500, 10_000),
    (14_000, 15_000), (21_600, 20_000), (25_000, 30_000), (60_000, 60_000), (90_000, 120_000),
    (300_000, 300_000), (86_400_000, 86_400_000), (4_000_000_000, 31_536_000_000),
])
def test_round_interval_frontend_table(raw_ms: int, rounded: int) -> None:
    assert round_interval_ms(raw_ms) == rounded


def test_round_interval_backend_includes_the_bound() -> None:
    assert round_interval_ms(7_500, inclusive=True) == 5_000
    assert round_interval_ms(7_500) == 10_000


# rangeutil.ts roundInterval / gtime.RoundInterval, written out from Grafana's source (not from
# the module's table): (bound in ms, value below the bound).
GRAFANA_ROUNDING = [
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000), (750_000, 600_000),
    (1_050_000, 900_000), (1_500_000, 1_200_000), (2_700_000, 1_800_000), (5_400_000, 3_600_000),
    (9_000_000, 7_200_000), (16_200_000, 10_800_000), (32_400_000, 21_600_000),
    (86_400_000, 43_200_000), (604_800_000, 86_400_000), (1_814_400_000, 604_800_000),
    (3_628_800_000, 2_592_000_000),
]


@pytest.mark.parametrize(("bound", "value"), GRAFANA_ROUNDING, ids=[str(b) for b, _ in GRAFANA_ROUNDING])
def test_rounding_table_matches_grafana_at_every_bound(bound: int, value: int) -> None:
    after = [v for b, v in GRAFANA_ROUNDING if b > bound]
    next_value = after[0] if after else 31_536_000_000
    assert round_interval_ms(bound - 0.5) == value  # frontend: interval < bound
    assert round_interval_ms(bound) == next_value
    assert round_interval_ms(bound - 0.5, inclusive=True) == value  # backend: interval <= bound
    last = bound == GRAFANA_ROUNDING[-1][0]  # gtime's last case is strict: < 6 weeks
    assert round_interval_ms(bound, inclusive=True) == (next_value if last else value)


@pytest.mark.parametrize(("text", "ms"), [("15s", 15_000), ("30", 30_000), ("1.5s", 1_000),
                                          ("1h30m", 3_600_000), ("500ms", 500), ("2d", 172_800_000)])
def test_frontend_interval_parser_truncates_like_rangeutil(text: str, ms: int) -> None:
    # rangeutil.intervalToMs: parseInt of the first number, first unit only
    assert frontend_interval_ms(text) == ms


def test_frontend_low_limit_defaults_to_15s_without_datasource_interval() -> None:
    # datasource.ts: this.interval = jsonData.timeInterval || '15s'
    t = compute_timing(T0 - H, T0, max_data_points=1000)
    assert (t.interval_ms, t.step_ms) == (15_000, 15_000)


def test_unparseable_min_step_gives_a_zero_rate_interval_like_grafana() -> None:
    # calculateRateInterval returns 0 when the requested min step is not a duration
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="15s",
                       target_interval="$__interval_ms")
    assert t.rate_interval_ms == 0 and interpolate_builtins("[$__rate_interval]", t) == "[0s]"


def test_min_step_interval_variable_uses_the_step_as_requested_min_step() -> None:
    # requestedMinStep $__interval -> calculatedStep.String(); rate = max(intervalMs + step, 4 * step)
    t = compute_timing(T0 - 24 * H, T0, max_data_points=1000, ds_scrape_interval="15s",
                       target_interval="$__interval")
    assert (t.interval_ms, t.step_ms, t.rate_interval_ms) == (60_000, 60_000, 240_000)


@pytest.mark.parametrize(("text", "ms"), [
    ("15s", 15_000), ("1m", 60_000), ("500ms", 500), ("1h30m", 5_400_000), ("30", 30_000), (">10s", 10_000),
    ("1d", 86_400_000), ("1w", 604_800_000)])
def test_parse_interval(text: str, ms: int) -> None:
    assert parse_interval_ms(text) == ms


def test_parse_interval_rejects_garbage() -> None:
    with pytest.raises(TemplateError, match="not a Grafana interval"):
        parse_interval_ms("5 minutes")


@pytest.mark.parametrize(("ms", "text"), [(60_000, "1m"), (90_000, "1m"), (15_000, "15s"), (500, "500ms"),
                                          (7_200_000, "2h"), (86_400_000, "1d")])
def test_format_interval_truncates_to_largest_unit(ms: int, text: str) -> None:
    assert format_interval(ms) == text


@pytest.mark.parametrize(("ms", "text"), [(60_000, "1m0s"), (240_000, "4m0s"), (75_000, "1m15s"),
                                          (7_200_000, "2h0m0s"), (500, "500ms"), (1_500, "1.5s")])
def test_rate_interval_uses_go_duration_strings(ms: int, text: str) -> None:
    assert go_duration(ms) == text


def test_interval_one_hour_full_width() -> None:
    # 1 h over 1000 points = 3.6 s -> rounded to 5 s by the frontend; the backend takes that
    # intervalMs as its minimum (3.6 s < 5 s), so the step is 5 s too.
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="1s")
    assert (t.interval_ms, t.step_ms) == (5_000, 5_000)


def test_min_interval_is_a_lower_limit() -> None:
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="60s")
    assert (t.interval_ms, t.step_ms) == (60_000, 60_000)
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="15s", panel_min_interval="2m")
    assert (t.interval_ms, t.step_ms) == (120_000, 120_000)


def test_target_min_step_overrides_interval_ms() -> None:
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="15s", target_interval="30s")
    assert t.step_ms == 30_000


def test_safe_resolution_caps_points_at_11000() -> None:
    # 30 days at maxDataPoints 100000 would be a 25.9 s (-> 30 s) step; 30d/11000 = 235.6 s -> 5 m wins.
    t = compute_timing(T0 - 30 * 24 * H, T0, max_data_points=100_000, ds_scrape_interval="15s")
    assert t.step_ms == 300_000


def test_rate_interval_is_max_of_interval_plus_scrape_and_four_scrapes() -> None:
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="15s")
    assert t.interval_ms == 15_000 and t.rate_interval_ms == 60_000  # max(15+15, 60)
    t = compute_timing(T0 - 48 * H, T0, max_data_points=1000, ds_scrape_interval="15s")
    assert t.interval_ms == 120_000 and t.rate_interval_ms == 135_000  # 172.8 s -> 2 m; max(120+15, 60)


def test_rate_interval_as_min_step_becomes_the_step() -> None:
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="15s",
                       target_interval="$__rate_interval")
    assert t.step_ms == t.rate_interval_ms == 60_000


def test_interval_factor_multiplies_the_step() -> None:
    t = compute_timing(T0 - H, T0, max_data_points=1000, ds_scrape_interval="60s", interval_factor=2)
    assert t.step_ms == 120_000


def test_start_and_end_align_down_to_the_step_instant_uses_raw_end() -> None:
    t = compute_timing(T0 - H + 7_000, T0 + 7_000, max_data_points=1000, ds_scrape_interval="60s")
    assert (t.aligned_start_ms, t.aligned_end_ms) == (T0 - H, T0)
    assert t.instant_ms == T0 + 7_000


def test_builtins_are_replaced_in_both_syntaxes() -> None:
    t = compute_timing(T0 - 6 * H, T0, max_data_points=1000, ds_scrape_interval="60s")
    expr = "rate(x[$__rate_interval]) + rate(x[${__interval}]) + $__interval_ms + $__range_s + ${__range}"
    assert interpolate_builtins(expr, t) == "rate(x[4m0s]) + rate(x[1m]) + 60000 + 21600 + 21600s"


def test_range_variables_round_to_seconds() -> None:
    assert range_variables(21_600_499) == {"__range": "21600s", "__range_s": "21600",
                                           "__range_ms": "21600499"}
    assert range_variables(21_600_500)["__range_s"] == "21601"


def _var(name: str, value: str | tuple[str, ...], **kw: object) -> dict[str, VariableValue]:
    return {name: VariableValue(name, value, **kw)}  # type: ignore[arg-type]


def test_all_variable_syntaxes_expand() -> None:
    v = _var("ns", "default")
    assert interpolate('x{ns="$ns"} + x{ns="${ns}"} + x{ns="[[ns]]"}', v) == \
        'x{ns="default"} + x{ns="default"} + x{ns="default"}'


def test_multi_value_becomes_escaped_alternation() -> None:
    v = _var("pod", ("api.0", "web-1"), multi=True)
    assert interpolate('x{pod=~"$pod"}', v) == 'x{pod=~"(api\\\\.0|web-1)"}'


def test_single_selected_multi_value_has_no_parentheses() -> None:
    assert interpolate("$pod", _var("pod", ("a.b",), multi=True)) == "a\\\\.b"


def test_single_value_variable_only_escapes_backslash_and_quote() -> None:
    assert interpolate("$v", _var("v", "a.b\\c'd")) == "a.b\\\\c\\\\'d"


def test_all_uses_custom_all_value_verbatim() -> None:
    v = _var("ns", "$__all", multi=True, include_all=True, is_all=True, all_value=".*", options=("a", "b"))
    assert interpolate('x{ns=~"$ns"}', v) == 'x{ns=~".*"}'


def test_all_without_all_value_joins_every_option() -> None:
    v = _var("ns", "$__all", multi=True, include_all=True, is_all=True, options=("a.1", "b"))
    assert interpolate('x{ns=~"$ns"}', v) == 'x{ns=~"(a\\\\.1|b)"}'


def test_regex_format() -> None:
    assert interpolate("${v:regex}", _var("v", "a.b")) == "a\\.b"
    assert interpolate("${v:regex}", _var("v", ("a", "b.c"), multi=True)) == "(a|b\\.c)"
    assert interpolate("${v:pipe}", _var("v", ("a", "b"), multi=True)) == "a|b"


def test_unknown_variables_and_backend_ones_stay() -> None:
    assert interpolate("rate(x[$__rate_interval]) $nope", {}) == "rate(x[$__rate_interval]) $nope"


def test_include_all_single_value_is_regex_escaped() -> None:
    # interpolateQueryExpr: multi OR includeAll -> prometheusSpecialRegexEscape, even for one value
    v = _var("ns", "kube.system", include_all=True, options=("kube.system", "b"))
    assert interpolate('x{ns=~"$ns"}', v) == 'x{ns=~"kube\\\\.system"}'


def test_every_regex_metacharacter_is_escaped_for_multi_values() -> None:
    # escaping.ts (classic): backslash -> 4 backslashes, then [$^*{}[]+?.()|] get two backslashes
    v = _var("v", ("a$^*{}[]+?.()|b", "c\\d"), multi=True)
    expected = "(a" + "".join("\\\\" + c for c in "$^*{}[]+?.()|") + "b|c\\\\\\\\d)"
    assert interpolate("$v", v) == expected


def test_bracket_syntax_takes_a_format_too() -> None:
    assert interpolate("[[v:regex]]", _var("v", ("a.b", "c"), multi=True)) == "(a\\.b|c)"
    assert interpolate("[[v]]", _var("v", ("a.b", "c"), multi=True)) == "(a\\\\.b|c)"


def test_all_with_explicit_regex_format_joins_options_without_all_value() -> None:
    v = _var("ns", "$__all", multi=True, include_all=True, is_all=True, options=("a.1", "b"))
    assert interpolate("${ns:regex}", v) == "(a\\.1|b)"
    v = _var("ns", "$__all", multi=True, include_all=True, is_all=True, all_value=".+", options=("a", "b"))
    assert interpolate("${ns:regex}", v) == ".+"


def test_range_builtins_in_frontend_scoped_vars() -> None:
    scoped = range_variables(6 * H)
    assert interpolate("x[$__range] $__range_s ${__range_ms}", {}, scoped) == "x[21600s] 21600 21600000"


# --- the small divergences of issue 16 --------------------------------------------------------


def test_backend_month_and_year_are_julian_averages() -> None:
    # gtime.ParseDuration: year = 365.25 days, month = year / 12 (not 30 and 365 days)
    assert parse_interval_ms("1y") == 31_557_600_000
    assert parse_interval_ms("1M") == 2_629_800_000
    assert parse_interval_ms("2w") == 2 * 604_800_000


@pytest.mark.parametrize("text", ["1d12h", "1w2d", "1M1d", "1y6M"])
def test_compound_durations_with_date_units_are_rejected_as_go_does(text: str) -> None:
    # d/w/M/y are read only alone (^(\d+)([dwMy])$); the rest goes to Go's time.ParseDuration,
    # which knows ns..h, so Grafana's backend fails such a query, and the replay says why.
    with pytest.raises(TemplateError, match=r"Go's time\.ParseDuration rejects a compound"):
        parse_interval_ms(text)


@pytest.mark.parametrize(("text", "ms"), [("1h30m", 5_400_000), ("1.5m", 90_000), ("2h45m30s", 9_930_000),
                                          ("0", 0), ("1500us", 2), ("<1m>", 60_000)])
def test_go_durations_are_accepted_as_go_does(text: str, ms: int) -> None:
    assert parse_interval_ms(text) == ms


def test_text_format_of_all_is_the_word_all() -> None:
    # formatRegistry "text": an All selection reads "All", also with a custom allValue
    for all_value in (None, ".*"):
        var = VariableValue("ns", "$__all", multi=True, include_all=True, is_all=True, all_value=all_value,
                            options=("a", "b"))
        assert interpolate("${ns:text}", {"ns": var}) == "All"
    several = VariableValue("ns", ("a", "b"), multi=True)
    assert interpolate("${ns:text}", {"ns": several}) == "a + b"
    assert interpolate("${ns:text}", {"ns": VariableValue("ns", "a")}) == "a"


def test_all_variable_without_options_is_an_empty_group() -> None:
    # an include-All variable whose query found nothing: Grafana joins no values, "()"
    var = VariableValue("pod", "$__all", multi=True, include_all=True, is_all=True, options=())
    assert interpolate('x{pod=~"$pod"}', {"pod": var}) == 'x{pod=~"()"}'
