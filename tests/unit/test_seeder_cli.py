"""CLI: exit codes (0 / 1 runtime / 2 usage), one-line errors, ready file, dry run, waits, lazy sinks."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seeder.cli import main
from seeder.contract_server import SCHEMA_ERROR, ContractFlightServer
from seeder.manifest import SeedManifest, compute_digest
from seeder.progress import Progress
from tests.unit.seeder_helpers import END, tiny

BASE = ["--preset", "tiny", "--end-time", END, "--quiet"]


@pytest.fixture
def server() -> Iterator[ContractFlightServer]:
    with ContractFlightServer() as s:
        yield s


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("k8s-seed: error: "), err
    return err


def test_success_writes_manifest_then_ready_file(server: ContractFlightServer, tmp_path: Path) -> None:
    man, ready = tmp_path / "m.json", tmp_path / "ready" / "seed_done"
    assert main([*BASE, "--flight", server.location, "--manifest", str(man), "--ready-file", str(ready)]) == 0
    m = SeedManifest.load(man)
    assert ready.read_text().strip() == m.digest == compute_digest(tiny())
    assert m.sinks == {"flight": server.location} and m.slices_by_sink == {"flight": ["main"]}
    assert server.rows == sum(v["slices"]["main"] for v in m.metrics.values()) * tiny().samples_per_series


@pytest.mark.parametrize(("args", "needle"), [
    (["--days", "-1"], "--days"), (["--scrape-interval", "0"], "--scrape-interval"),
    (["--regions", "x"], "--regions"), (["--metrics", "nope"], "--metrics"),
    (["--preset", "huge"], "--preset"), (["--end-time", "soon"], "--end-time"), (["--bogus"], "unrecognized"),
    (["--flight", "http://x:1"], "--flight"),
    (["--wait-for", "nohost"], "--wait-for"), ([], "no sink"), (["--otlp-hours", "99"], "--otlp-hours"),
    (["--target-samples", "5"], "--target-samples"), (["--wait-timeout", "0", "--null"], "--wait-timeout"),
])
def test_usage_errors_exit_2_with_one_line(args: list[str], needle: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ready = tmp_path / "seed_done"
    ready.write_text("stale")
    with pytest.raises(SystemExit) as code:
        raise SystemExit(main([*BASE, *args, "--ready-file", str(ready)]))
    assert code.value.code == 2
    assert needle in _one_line_error(capsys)
    assert not ready.exists()


def test_target_samples_accepts_suffixes_and_lands_within_5pct(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--target-samples", "2.5M", "--dry-run"]) == 0
    total = int(capsys.readouterr().out.split("total: ")[1].split(" samples")[0].split(", ")[1])
    assert abs(total - 2_500_000) <= 125_000


def test_unreachable_flight_exits_1_without_ready_file(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with ContractFlightServer() as s:
        dead = s.location
    ready = tmp_path / "seed_done"
    assert main([*BASE, "--flight", dead, "--connect-timeout", "0.3", "--ready-file", str(ready)]) == 1
    assert "unreachable" in _one_line_error(capsys) and not ready.exists()


@pytest.mark.parametrize(("kw", "needle"), [({"reject_all": SCHEMA_ERROR}, "rejected the data"),
                                            ({"fail_after_rows": 50_000}, "injected failure")])
def test_refusing_or_half_way_failing_server_exits_1_without_ready_file(
        kw: dict, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ready, man = tmp_path / "seed_done", tmp_path / "m.json"
    with ContractFlightServer(**kw) as s:
        code = main([*BASE, "--flight", s.location, "--null", "--ready-file", str(ready),
                     "--manifest", str(man)])
    assert code == 1 and needle in _one_line_error(capsys)
    assert not ready.exists() and not man.exists()


def test_dry_run_prints_the_plan_and_sends_nothing(server: ContractFlightServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    man = tmp_path / "m.json"
    assert main([*BASE, "--flight", server.location, "--dry-run", "--manifest", str(man)]) == 0
    out = capsys.readouterr().out
    assert "http_request_duration_seconds_bucket" in out and f"{tiny().samples_total()} samples" in out
    assert "est. bytes" in out and "nothing sent" in out
    assert server.rows == 0 and server.streams == 0
    assert SeedManifest.load(man).samples_total == tiny().samples_total()


def test_wait_for_times_out_naming_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        assert main([*BASE, "--null", "--wait-for", f"127.0.0.1:{port}", "--wait-timeout", "0.3"]) == 1
    err = _one_line_error(capsys)
    assert f"127.0.0.1:{port}" in err and "0.3s" in err


def test_wait_for_passes_once_the_port_listens(server: ContractFlightServer) -> None:
    port = server.location.rsplit(":", 1)[1]
    assert main([*BASE, "--flight", server.location, "--wait-for", f"127.0.0.1:{port}"]) == 0


def test_missing_optional_sink_modules_do_not_break_the_cli(monkeypatch: pytest.MonkeyPatch,
                                                            server: ContractFlightServer,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("openmetrics", "remote_write", "otlp"):
        monkeypatch.setitem(sys.modules, f"seeder.sinks.{name}", None)  # import now fails
    assert main([*BASE, "--flight", server.location]) == 0
    assert main([*BASE, "--otlp", "127.0.0.1:4317"]) == 1
    assert "sink otlp is unavailable" in _one_line_error(capsys)


def test_progress_lines_without_a_tty_carry_rate_and_eta() -> None:
    out = io.StringIO()
    p = Progress(1000, stream=out, every=0.0, tty=False)
    p.update(250)
    p.close("seed: done")
    first = out.getvalue().splitlines()[0]
    assert "seed: 250/1.00k samples (25%)" in first and "samples/s" in first and "ETA" in first


def test_module_entry_point_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "seeder", *BASE, "--dry-run"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("plan: preset tiny")
