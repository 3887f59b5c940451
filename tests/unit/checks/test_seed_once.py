"""seed-once.sh (ConfigMap mytsdb/seed-once) run for real: one seed per pod, never a second one.

The script is taken from the manifest itself, so what is tested is what the pod runs. The
``ready`` emptyDir is a temp dir; a "container restart" is running the script again on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.checks.manifests import find, load_manifests

SH = shutil.which("sh")
pytestmark = pytest.mark.skipif(SH is None, reason="no /bin/sh on PATH")
END_TIME = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cm = find(load_manifests(), "ConfigMap", "seed-once", "mytsdb")
    assert cm is not None, "ConfigMap mytsdb/seed-once is missing"
    path = tmp_path_factory.mktemp("seed-once") / "seed-once.sh"
    path.write_text(cm.obj["data"]["seed-once.sh"])
    return path


def fake_seeder(ready: Path, *, rc: int = 0, write_done: bool = True, sleep_s: float = 0.0) -> list[str]:
    """A stand-in seed command: counts its runs, optionally writes seed_done, exits with ``rc``."""
    code = (
        f"import pathlib, time; d = pathlib.Path({str(ready)!r}); "
        f"open(d / 'runs.txt', 'a').write('run\\n'); time.sleep({sleep_s}); "
        + ("(d / 'seed_done').touch(); " if write_done else "")
        + f"raise SystemExit({rc})"
    )
    return [sys.executable, "-c", code]


def start(script: Path, ready: Path, cmd: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = ready.parent / f"log-{time.monotonic_ns()}.txt"
    env = {**os.environ, "SEED_READY_DIR": str(ready), "POD_NAME": "mytsdb-abc", "POD_NAMESPACE": "mytsdb"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([SH, str(script), *cmd], stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, log


def run(script: Path, ready: Path, cmd: list[str], timeout: float = 20) -> tuple[int, str]:
    """Run the script to its exit; one that is still running at ``timeout`` is idling (it seeded)."""
    proc, log = start(script, ready, cmd)
    try:
        return proc.wait(timeout=timeout), log.read_text()
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"seed-once.sh still running after {timeout}s (it seeded and idles): {log.read_text()}")


def wait_for_text(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll the script's log until ``text`` shows up (or the process ends, or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"seed-once.sh exited {proc.returncode} before printing {text!r}: {log.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"seed-once.sh did not print {text!r} within {timeout}s: {log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


def runs(ready: Path) -> int:
    path = ready / "runs.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def ready(tmp_path: Path) -> Path:
    path = tmp_path / "ready"
    path.mkdir()
    return path


def test_successful_seed_idles_and_a_restart_does_not_seed_again(script: Path, ready: Path) -> None:
    proc, log = start(script, ready, fake_seeder(ready))
    wait_for_text(log, "seed complete; idling", proc)
    assert stop(proc) == 0, "an idle sidecar must exit 0 on SIGTERM"
    assert (ready / "seed_started").exists() and not (ready / "seed_failed").exists()

    proc, log = start(script, ready, fake_seeder(ready))  # container restart after success
    wait_for_text(log, "already completed; idling", proc)
    assert stop(proc) == 0
    assert runs(ready) == 1, "a restarted sidecar seeded again after a good seed"


def test_failed_seed_is_recorded_and_never_retried(script: Path, ready: Path) -> None:
    rc, out = run(script, ready, fake_seeder(ready, rc=1, write_done=False))
    assert rc != 0
    assert "exited with status 1" in (ready / "seed_failed").read_text()
    assert "will not seed again" in out

    rc, out = run(script, ready, fake_seeder(ready))  # the kubelet restarts the container
    assert rc != 0
    assert runs(ready) == 1, "a restarted sidecar seeded a second time into the same store"
    assert "refusing to seed twice" in out and "kubectl -n mytsdb delete pod mytsdb-abc" in out
    assert not (ready / "seed_done").exists()


def test_interrupted_seed_is_detected_on_restart(script: Path, ready: Path) -> None:
    (ready / "seed_started").write_text("2026-11-01T00:00:00Z\n")  # killed (OOM, SIGKILL) mid-seed
    rc, out = run(script, ready, fake_seeder(ready))
    assert rc != 0 and runs(ready) == 0
    assert "interrupted" in (ready / "seed_failed").read_text()
    assert "refusing to seed twice" in out


def test_exit_zero_without_ready_file_is_a_failure(script: Path, ready: Path) -> None:
    rc, _ = run(script, ready, fake_seeder(ready, rc=0, write_done=False))
    assert rc != 0
    assert "without writing" in (ready / "seed_failed").read_text()


def test_sigterm_mid_seed_stops_the_seeder_and_blocks_a_reseed(script: Path, ready: Path) -> None:
    proc, _log = start(script, ready, fake_seeder(ready, sleep_s=30))
    deadline = time.monotonic() + 30
    while runs(ready) == 0 and time.monotonic() < deadline:  # the seeder has started
        time.sleep(0.05)
    assert runs(ready) == 1, "the stand-in seeder never started"
    assert stop(proc) != 0
    assert (ready / "seed_failed").exists() and not (ready / "seed_done").exists()
    rc, _ = run(script, ready, fake_seeder(ready))
    assert rc != 0 and runs(ready) == 1


def test_real_seeder_success_and_failure(script: Path, ready: Path, tmp_path: Path) -> None:
    """The real CLI: a null-sink tiny seed succeeds; a Flight sink nobody listens on fails."""
    seeder = [
        sys.executable,
        "-m",
        "seeder",
        "--preset",
        "tiny",
        "--end-time",
        END_TIME,
        "--quiet",
        "--manifest",
        str(ready / "seed-manifest.json"),
        "--ready-file",
        str(ready / "seed_done"),
    ]
    proc, log = start(script, ready, [*seeder, "--null"])
    wait_for_text(log, "seed complete; idling", proc, timeout=120)
    stop(proc)
    assert (ready / "seed-manifest.json").exists()

    other = tmp_path / "other-ready"
    other.mkdir()
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    failing = [a.replace(str(ready), str(other)) for a in seeder]
    rc, out = run(
        script,
        other,
        [*failing, "--flight", f"grpc+tcp://127.0.0.1:{port}", "--connect-timeout", "2"],
        timeout=120,
    )
    assert rc != 0, out
    assert "exited with status 1" in (other / "seed_failed").read_text()
    assert not (other / "seed_done").exists()
