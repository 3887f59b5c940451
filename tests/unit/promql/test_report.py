"""The compliance report: summary line, JSON/Markdown grouped by dashboard and panel, PNG per
failing range case, and the plugin's final line + junit ids through pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.promql.compare import FAIL, PASS, UNSUPPORTED, Outcome
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
