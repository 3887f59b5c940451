"""CLI: exit codes (0 / 1 runtime / 2 usage), one-line errors, ready file, dry run, waits, lazy sinks."""

from __future__ import annotations

import contextlib
import http.server
import importlib.metadata
import io
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seeder.cli import main
from seeder.contract_server import SCHEMA_ERROR, ContractFlightServer
from seeder.errors import SeederError
from seeder.manifest import SeedManifest, compute_digest
from seeder.progress import Progress
from tests.unit.support.seeder import END, tiny

BASE = ["--preset", "tiny", "--end-time", END, "--quiet"]


@pytest.fixture
def server() -> Iterator[ContractFlightServer]:
    with ContractFlightServer() as s:
        yield s


@contextlib.contextmanager
def answering_http(status: int, body: bytes, content_type: str) -> Iterator[str]:
    """A loopback HTTP server answering every POST with this status and body (a wrong endpoint)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/api/v1/write"
    finally:
        srv.shutdown()
        srv.server_close()


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (not gRPC, not HTTP)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)  # the kernel completes handshakes from the backlog; nobody ever answers
        yield s.getsockname()[1]


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
    man, ready = tmp_path / "m.json", tmp_path / "seed_done"
    ready.write_text("stale")
    assert main([*BASE, "--flight", server.location, "--dry-run", "--manifest", str(man),
                 "--ready-file", str(ready)]) == 0
    assert not ready.exists(), "a dry run seeds nothing, so nothing may look ready"
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


# ---- review pass: odd inputs, wrong peers, signals ------------------------------------------------

@pytest.mark.parametrize(("args", "needle"), [
    (["--metrics", ",", "--null"], "--metrics"), (["--metrics=", "--null"], "--metrics"),
    (["--target-samples", "inf", "--null"], "--target-samples"),
    (["--target-samples", "1e400", "--null"], "--target-samples"),
    (["--wait-timeout", "nan", "--null"], "--wait-timeout"),
    (["--wait-timeout", "-1", "--null"], "--wait-timeout"),
    (["--connect-timeout", "-1", "--null"], "--connect-timeout"),
    (["--connect-timeout", "inf", "--null"], "--connect-timeout"),
    (["--end-time", "1000", "--null"], "before 1970"), (["--end-time", "-5", "--null"], "--end-time"),
    (["--flight-streams", "100000", "--null"], "--flight-streams"),
    (["--flight-streams", "0", "--null"], "--flight-streams"),
    (["--otlp-hours", "0", "--otlp", "127.0.0.1:4317"], "--otlp"),
    (["--remote-write", "http://"], "--remote-write"),
    (["--remote-write", "http://h:99999/w"], "--remote-write"),
    (["--remote-write", "ftp://h/w"], "--remote-write"),
    (["--openmetrics-split", "--dry-run"], "--openmetrics-split"),
    (["--regions", "16", "--zones-per-region", "6", "--clusters-per-zone", "16", "--namespaces", "200",
      "--dry-run"], "pods"),
    (["--flight", "grpc+tcp://127.0.0.1"], "--flight"), (["--flight", "grpc+tls://127.0.0.1:1"], "--flight"),
    (["--wait-for", "127.0.0.1:0", "--null"], "--wait-for"),
    (["--nodes-per-cluster", "-3", "--null"], "--nodes"),
    (["--days", "0", "--null"], "--days"), (["--days", "inf", "--null"], "--days"),
])
def test_odd_inputs_are_usage_errors(args: list[str], needle: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    ready = tmp_path / "seed_done"
    ready.write_text("stale")
    assert main([*BASE, *args, "--ready-file", str(ready)]) == 2
    assert needle in _one_line_error(capsys) and not ready.exists()


@pytest.mark.parametrize("form", [["--ready", "{}"], ["--ready-f={}"], ["--ready-file={}"]])
def test_a_stale_ready_file_goes_even_when_named_by_an_abbreviation(
        form: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ready = tmp_path / "seed_done"
    ready.write_text("stale")
    assert main([*BASE, "--days", "-1", *(f.format(ready) for f in form)]) == 2
    assert not ready.exists() and "--days" in _one_line_error(capsys)


def test_a_remote_write_url_answering_200_with_html_is_a_failure(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ready, man = tmp_path / "seed_done", tmp_path / "m.json"
    with answering_http(200, b"<html><body>Sign in</body></html>", "text/html") as url:
        assert main([*BASE, "--remote-write", url, "--ready-file", str(ready), "--manifest", str(man)]) == 1
    err = _one_line_error(capsys)
    assert "text/html" in err and "wrong URL" in err
    assert not ready.exists() and not man.exists()


def test_a_plain_tcp_listener_is_no_flight_or_otlp_server(capsys: pytest.CaptureFixture[str]) -> None:
    with silent_listener() as port:
        t0 = time.monotonic()
        assert main([*BASE, "--flight", f"grpc+tcp://127.0.0.1:{port}", "--connect-timeout", "0.5"]) == 1
        assert "unreachable within 0.5s" in _one_line_error(capsys)
        assert time.monotonic() - t0 < 5, "the connect timeout must bound the wait"
        from seeder.sinks.otlp import OtlpSink

        with pytest.raises(SeederError, match="cannot connect"):
            OtlpSink(f"127.0.0.1:{port}", timeout=0.5).open()


def test_manifest_that_cannot_be_written_fails_the_run_and_removes_finished_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seeder.manifest import SeedManifest as Manifest
    from seeder.run import run
    from seeder.sinks.openmetrics import OpenMetricsSink

    def disk_full(self: Manifest, path: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Manifest, "save", disk_full)
    om, ready = tmp_path / "all.om", tmp_path / "seed_done"
    with pytest.raises(SeederError, match=r"writing the manifest .* failed: No space left on device"):
        run(tiny(), [OpenMetricsSink(om, slices=("otlp",))], manifest_path=tmp_path / "m.json",
            ready_file=ready, progress=False)
    assert not om.exists() and not ready.exists()


class _HeldServer(ContractFlightServer):
    """Takes the first batch, then holds every stream until released: the seeder is mid-seed."""

    def __init__(self) -> None:
        super().__init__(mode="null")
        self.started = threading.Event()
        self.release = threading.Event()

    def do_put(self, context, descriptor, reader, writer):  # type: ignore[no-untyped-def]
        self.started.set()
        self.release.wait(30)
        super().do_put(context, descriptor, reader, writer)


@pytest.mark.parametrize(("sig", "word"), [(signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted")])
def test_a_signal_mid_seed_exits_1_and_leaves_nothing_that_looks_done(sig: int, word: str,
                                                                      tmp_path: Path) -> None:
    ready, man, om = tmp_path / "seed_done", tmp_path / "m.json", tmp_path / "om"
    with _HeldServer() as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seeder", *BASE, "--flight", server.location, "--openmetrics", str(om),
             "--openmetrics-split", "--ready-file", str(ready), "--manifest", str(man)],
            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
        try:
            assert server.started.wait(30), "the seeder never opened a Flight stream"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            server.release.set()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1, err
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    assert err.strip().splitlines() == [f"k8s-seed: error: {word} ({name}); the seeding is incomplete"]
    assert not ready.exists() and not man.exists() and list(om.iterdir()) == []


def _default_sigint() -> None:
    """A child started from a non-interactive shell may inherit an ignored SIGINT; restore Ctrl-C."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def test_console_script_is_declared_and_runs() -> None:
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert eps.get("k8s-seed") == "seeder.cli:main"
    script = Path(sys.executable).parent / "k8s-seed"
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable} (pip install -e .)")
    done = subprocess.run([str(script), *BASE, "--dry-run"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout.startswith("plan: preset tiny"), done.stderr


def test_progress_is_a_bar_on_a_tty_and_lines_otherwise() -> None:
    from seeder.run import run
    from seeder.sinks.null import NullSink

    bar, plain = io.StringIO(), io.StringIO()
    run(tiny(), [NullSink()], stream=bar, tty=True)
    run(tiny(), [NullSink()], stream=plain, tty=False)
    total = f"{tiny().samples_total() / 1e3:.0f}k"
    assert "\r" in bar.getvalue() and "100%" in bar.getvalue() and total in bar.getvalue()
    assert "\r" not in plain.getvalue() and plain.getvalue().startswith("seed: done ")


@pytest.mark.parametrize("where", ["ready", "manifest", "openmetrics"])
def test_unwritable_outputs_fail_before_anything_is_sent(where: str, server: ContractFlightServer,
                                                         tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    (tmp_path / "adir").mkdir()
    args = {"ready": ["--ready-file", str(afile / "seed_done")],
            "manifest": ["--manifest", str(afile / "m.json")],
            "openmetrics": ["--openmetrics", str(tmp_path / "adir")]}[where]
    assert main([*BASE, "--flight", server.location, *args]) == 1
    err = _one_line_error(capsys)
    assert str(afile) in err or "is a directory" in err
    assert server.rows == 0, "the failure must come before the seeding, not after it"


def test_a_stop_signal_whose_exception_a_library_swallowed_still_stops_the_run(tmp_path: Path) -> None:
    from seeder import interrupt
    from seeder.run import run
    from seeder.sinks.null import NullSink

    restore = interrupt.install()
    try:
        # what pyarrow does to an exception raised during a lazy import inside a compute call
        with contextlib.suppress(BaseException):
            signal.raise_signal(signal.SIGTERM)
        ready = tmp_path / "seed_done"
        with pytest.raises(interrupt.Interrupted, match="SIGTERM"):
            run(tiny(), [NullSink()], ready_file=ready, progress=False)
        assert not ready.exists()
    finally:
        restore()
    run(tiny(), [NullSink(slices=("otlp",))], progress=False)  # restored: later runs are unaffected
