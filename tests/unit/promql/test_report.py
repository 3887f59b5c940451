"""The compliance report: summary line, JSON/Markdown grouped by dashboard and panel, PNG per
failing range case, and the plugin's final line + junit ids through pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.promql.compare import FAIL, PASS, UNSUPPORTED, Outcome
from fixtures.promql.reduce import Repro
from fixtures.promql.replay import CaseResult
from fixtures.promql.report import ComplianceReport


def result(case_id: str, status: str, mode: str = "range", outcome: Outcome | None = None) -> CaseResult:
    dash, panel, _, source = case_id.split("/")
    return CaseResult(case_id=case_id, dashboard=dash, panel=panel, ref_id="A", mode=mode, source=source,
                      status=status, diff="" if status == PASS else "x differs", expr="sum(x)",
                      template="sum(x)",
                      curl_target="curl t", curl_reference="curl r", outcome=outcome)


def test_summary_and_files(tmp_path: Path) -> None:
    report = ComplianceReport()
    bad = Outcome(FAIL, "x differs", series='x{pod="a"}', target_points=[(0, 1), (60, 3)],
                  reference_points=[(0, 1), (60, 2)])
    report.add(result("d/CPU/range/arrow", FAIL, outcome=bad))
    report.add(result("d/CPU/instant/arrow", PASS, mode="instant"))
    report.add(result("d/Mem/instant/arrow", UNSUPPORTED, mode="instant"))
    assert report.summary_line() == "promql compliance: 1/3 passed (1 failed, 1 unsupported)"
    report.write(tmp_path)
    doc = json.loads((tmp_path / "promql.json").read_text())
    assert doc["counts"] == {"pass": 1, "fail": 1, "unsupported": 1}
    failing = next(c for c in doc["cases"] if c["status"] == FAIL)
    assert failing["case_id"] == "d/CPU/range/arrow" and (tmp_path / failing["plot"]).stat().st_size > 1000
    md = (tmp_path / "promql.md").read_text()
    assert md.index("## d") < md.index("### CPU") < md.index("### Mem")
    assert f"]({failing['plot']})" in md and "curl t" in md


def test_result_json_roundtrip_keeps_plot_points() -> None:
    bad = Outcome(FAIL, "d", series="x", target_points=[(0.0, 1.0)], reference_points=[(0.0, 2.0)],
                  target_series=1, reference_series=1)
    back = CaseResult.from_json(result("d/CPU/range/arrow", FAIL, outcome=bad).to_json(points=True))
    assert back.outcome is not None and back.outcome.reference_points == [(0.0, 2.0)]
    assert back.case_id == "d/CPU/range/arrow" and back.status == FAIL


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_plugin_prints_final_line_and_keeps_ids_in_junit(pytester: pytest.Pytester,
                                                        workers: list[str]) -> None:
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin", "fixtures.promql_plugin"]')
    pytester.makepyfile(test_cases='''
import pytest
from fixtures.promql.replay import CaseResult

@pytest.mark.parametrize("case_id", ["dash/CPU by pod/range/arrow", "dash/Mem/instant/arrow"])
def test_case(case_id, promql_report):
    status = "pass" if "CPU" in case_id else "fail"
    promql_report.add(CaseResult(case_id=case_id, dashboard="dash", panel=case_id.split("/")[1], ref_id="A",
                                 mode=case_id.split("/")[2], source="arrow", status=status, diff="d"))
    assert status == "pass"
''')
    junit = pytester.path / "junit.xml"
    res = pytester.runpytest("-p", "no:pytest-kind-ng", *workers, f"--junitxml={junit}",
                             f"--report-dir={pytester.path / 'rep'}")
    res.assert_outcomes(passed=1, failed=1)
    line = "promql compliance: 1/2 passed (1 failed, 0 unsupported)"
    assert any(out.startswith(line) for out in res.outlines)
    assert 'name="test_case[dash/CPU by pod/range/arrow]"' in junit.read_text()
    md = (pytester.path / "rep" / "promql.md").read_text()
    assert "dash/Mem/instant/arrow: fail" in md


def test_skipped_cases_stay_in_their_panel_and_are_not_counted(tmp_path: Path) -> None:
    report = ComplianceReport()
    report.add(result("d/CPU/range/arrow", PASS))
    report.skip("d/CPU/range/otlp", "the target holds no OTLP-ingested data")
    report.skip("generated query 3", "both empty")
    assert report.summary_line() == "promql compliance: 1/1 passed (0 failed, 0 unsupported)"
    md = report.markdown()
    cpu = md[md.index("### CPU"):]
    assert "| range | otlp | skipped | the target holds no OTLP-ingested data |" in cpu
    assert md.index("## Skipped") < md.index("- generated query 3: both empty")
    report.write(tmp_path)
    doc = json.loads((tmp_path / "promql.json").read_text())
    assert doc["total"] == 1
    assert {s["case_id"] for s in doc["skipped"]} == {"d/CPU/range/otlp", "generated query 3"}


def _repro(expr: str, mode: str = "range") -> Repro:


    bad = Outcome(FAIL, "d", series='x{pod="a"}', target_points=[(0, 1), (60, 3)],
                  reference_points=[(0, 1), (60, 2)])
    return Repro(expr, mode, "wrong values", "x differs", f"curl t {expr}", f"curl r {expr}",
                 f"sum({expr})", mode, steps=["unwrap sum"], queries=4, outcome=bad)


def test_findings_open_the_report_with_query_curl_cases_and_plot(tmp_path: Path) -> None:
    report = ComplianceReport()
    for case_id in ("d/CPU/range/arrow", "d/Mem/range/arrow"):
        r = result(case_id, FAIL)
        r.repro = _repro("rate(x_total[1m])")
        report.add(r)
    report.add_generated("generated/1/instant", _repro("g", "instant"))
    report.add(result("d/Disk/range/arrow", FAIL))  # no repro (e.g. transport error)
    report.metric_kinds = {"x_total": "counter", "g": "gauge"}
    report.write(tmp_path)
    md = (tmp_path / "promql.md").read_text()
    assert md.splitlines()[2] == "**2 distinct findings (explaining 3 failures)**"
    assert md.index("## Findings") < md.index("## d")
    assert "minimal:   rate(x_total[1m])" in md and "curl t rate(x_total[1m])" in md
    assert "`d/CPU/range/arrow`, `d/Mem/range/arrow`" in md and "### Not reduced" in md
    doc = json.loads((tmp_path / "promql.json").read_text())
    f1, f2 = doc["findings"]
    assert (f1["id"], f1["count"], f1["cases"]) == ("F1", 2, ["d/CPU/range/arrow", "d/Mem/range/arrow"])
    assert f1["shape"] == "range rate|irate|increase(<counter>[<d>]) [wrong values]"
    assert (tmp_path / f1["plot"]).stat().st_size > 1000 and f"]({f1['plot']})" in md
    assert (f2["query"], f2["mode"], f2["plot"]) == ("g", "instant", None)
    assert f2["cases"] == ["generated/1/instant"]
    assert doc["findings_summary"].startswith("2 distinct findings")


def test_no_failures_say_zero_findings_cleanly(tmp_path: Path) -> None:
    report = ComplianceReport()
    report.add(result("d/CPU/range/arrow", PASS))
    report.write(tmp_path)
    doc = json.loads((tmp_path / "promql.json").read_text())
    clean = "0 distinct findings: every case matched the reference"
    assert doc["findings"] == [] and doc["findings_summary"] == clean
    md = (tmp_path / "promql.md").read_text()
    assert "## Findings" not in md and "0 distinct findings: every case matched the reference" in md


def test_target_down_is_one_line_and_failed_fast_cases_are_not_findings(tmp_path: Path) -> None:
    report = ComplianceReport()
    why = "target died mid-suite: tsdb_server (pid 7) killed by signal SIGKILL; last log lines: a | b"
    report.fail_fast("d/CPU/range/arrow", why, result("d/CPU/range/arrow", FAIL))
    report.fail_fast("d/Mem/range/arrow", "another reason is ignored", result("d/Mem/range/arrow", FAIL))
    assert report.down_line() == f"{why}; 2 remaining test(s) failed fast"
    assert report.findings() == [] and report.unreduced() == []
    report.write(tmp_path)
    assert f"**{report.down_line()}**" in (tmp_path / "promql.md").read_text()
    assert json.loads((tmp_path / "promql.json").read_text())["failed_fast"] == ["d/CPU/range/arrow",
                                                                               "d/Mem/range/arrow"]


def test_the_query_the_target_died_on_is_a_finding_with_its_curl(tmp_path: Path) -> None:
    report = ComplianceReport()
    killer = result("d/Clock/range/arrow", FAIL)
    killer.transport_error, killer.expr, killer.curl_target = True, "minute(x)", "curl -s t -d q"
    report.add(killer)
    why = "target died mid-suite: http://t does not answer (ConnectionError)"
    report.target_died(killer.case_id, why)
    report.target_died("d/Later/range/arrow", "a later reason is ignored")
    report.fail_fast("d/Later/range/arrow", why, result("d/Later/range/arrow", FAIL))
    [finding] = report.findings()
    assert (finding.repro.kind, finding.repro.expr, finding.cases) == (
        "target stopped answering", "minute(x)", ["d/Clock/range/arrow"])
    assert finding.repro.curl_target == killer.curl_target and why in finding.repro.diff
    assert report.unreduced() == []
    report.write(tmp_path)
    assert json.loads((tmp_path / "promql.json").read_text())["died_during"] == killer.case_id


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_plugin_prints_findings_and_puts_them_in_junit(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin", "fixtures.promql_plugin"]')
    pytester.makepyfile(test_cases='''
import pytest
from fixtures.promql.compare import Outcome
from fixtures.promql.reduce import Repro
from fixtures.promql.replay import CaseResult

@pytest.mark.parametrize("case_id", ["dash/CPU/range/arrow", "dash/Mem/instant/arrow"])
def test_case(case_id, promql_report):
    r = CaseResult(case_id=case_id, dashboard="dash", panel=case_id.split("/")[1], ref_id="A",
                   mode=case_id.split("/")[2], source="arrow", status="fail", diff="d")
    r.repro = Repro("rate(x[1m])", "range", "wrong values", "d", "curl t", "curl r", "sum(rate(x[5m]))",
                    "range", outcome=Outcome("fail", "d", "x", [(0.0, 1.0)], [(0.0, 2.0)]))
    promql_report.add(r)
    assert False
''')
    junit = pytester.path / "junit.xml"
    res = pytester.runpytest("-p", "no:pytest-kind-ng", *workers, f"--junitxml={junit}",
                             f"--report-dir={pytester.path / 'rep'}")
    res.assert_outcomes(failed=2)
    assert "promql findings: 1 distinct finding (explaining 2 failures)" in res.outlines
    assert "  F1: wrong values (range), 2 case(s): rate(x[1m])" in res.outlines
    xml = junit.read_text()
    assert 'name="promql_findings" value="1 distinct finding (explaining 2 failures)"' in xml
    assert 'name="promql_finding_F1" value="F1: wrong values (range), 2 case(s): rate(x[1m])"' in xml


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_variable_findings_reach_the_summary_and_the_report(pytester: pytest.Pytester,
                                                            workers: list[str]) -> None:
    pytester.makeconftest('pytest_plugins = ["fixtures.plugin", "fixtures.promql_plugin"]')
    pytester.makepyfile(test_cases='''
import pytest
from fixtures.promql.grafana_mode import VariableFetch
from fixtures.promql.replay import CaseResult

@pytest.mark.parametrize("var", ["cluster", "pod"])
def test_var(var, promql_report):
    fetch = VariableFetch("dash", var, "label_values(up, %s)" % var, "label_values(up, %s)" % var, var, "up",
                          0, 604800, reference_values=["a", "b"], curl_reference="curl r")
    if var == "cluster":
        fetch.target_values = ["a", "b"]
    else:
        fetch.target_error = "HTTP 200 execution: time range exceeds 24 hours"
    promql_report.add_variable(fetch)
    promql_report.add(CaseResult(case_id="dash/P/range/grafana", dashboard="dash", panel="P", ref_id="A",
                                 mode="range", source="grafana", status="pass", replay="grafana"))
''')
    res = pytester.runpytest("-p", "no:pytest-kind-ng", *workers, f"--report-dir={pytester.path / 'rep'}")
    res.assert_outcomes(passed=2)
    line = "promql variable findings: 1/2 variables offered the reference's options (1 finding)"
    assert line in res.outlines
    assert any(line.startswith("  dash/$pod: the target failed: HTTP 200 execution") for line in res.outlines)
    md = (pytester.path / "rep" / "promql.md").read_text()
    assert "## Variable options (grafana mode)" in md and "### dash/$pod: the target failed" in md
    assert "| range | grafana | pass |" in md
    doc = json.loads((pytester.path / "rep" / "promql.json").read_text())
    assert [(v["variable"], v["ok"]) for v in sorted(doc["variables"], key=lambda v: v["variable"])] == [
        ("cluster", True), ("pod", False)]
