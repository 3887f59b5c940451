"""Seeding a real MyTSDB: this seeder vs MyTSDB's own generator, each into a fresh server, one run.

Given ``--mytsdb-bin`` (MyTSDB's ``tsdb_server``), every trial starts a fresh server (empty data
directory), waits for ``/health`` and a TCP connect on the Flight port, runs one workload, measures
its wall clock (process start to exit), the server's CPU time during it and both peak memories,
then stops the server (SIGTERM, about 5 s). Workloads:

* ``seeder``: ``python -m seeder --preset P --flight grpc+tcp://...`` with the Flight sink's
  defaults (its closing line, which names what each sink received, is printed). After it, MyTSDB
  must return every metric of the manifest with the series count the manifest lists for Flight
  (the main slice), at the manifest's query time, job ``mytsdb_self_monitor`` excluded. MyTSDB
  caps each selector at 1000 series without saying so, so series are counted per selector
  ``metric{cluster="c"}`` and a selector that returns 1000 is split further by another label
  (namespace, then node/pod...) until every answer is below the cap.
* ``k8s-gen`` (with ``--k8s-gen-bin``): MyTSDB's ``k8s_data_generator --seed-20m`` (or
  ``--k8s-gen-args``) into its own fresh server.

The two alternate (A B, B A, ...) so that other load on a shared machine hits both alike; the last
lines are the medians of ``--repeat`` trials each and ``ratio <k8s-gen median / seeder median>``
(the speed-up; the target is >= 2). Note that the seeder's seed-20m (about 20.4M samples of 2,028
series with 10,080 samples each) and the generator's (20.16M samples of 10,000 series with 2,016
each) are not the same data; samples per second are printed for both.

MyTSDB binds 0.0.0.0 (HTTP, OTLP, Flight), so the server only ever runs in a private network
namespace: the benchmark re-executes itself under ``unshare -n`` (``unshare -rn`` when not root),
brings ``lo`` up, and refuses to start a server if any interface other than ``lo`` is visible.

Usage: python benchmarks/seed_mytsdb.py --mytsdb-bin /opt/mytsdb/bin/tsdb_server \\
           [--k8s-gen-bin /opt/mytsdb/bin/k8s_data_generator] [--preset seed-20m] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from seeder.manifest import SeedManifest
from seeder.spec import PRESETS

END_TIME = "2026-11-01T00:00:00Z"
NETNS_MARK = "SEED_MYTSDB_PRIVATE_NETNS"
HTTP_PORT, FLIGHT_PORT, OTLP_PORT = 9090, 8815, 4317
SELECTOR_CAP = 1000  # MyTSDB returns at most this many series per selector, silently
SELF_MONITOR = 'job!="mytsdb_self_monitor"'
#: labels a capped selector is split by, in order (only those the metric carries are used)
SPLIT_ORDER = ("cluster", "namespace", "node", "service", "pod", "container", "instance", "le", "mode",
               "cpu", "phase", "code", "method")


# ---------------------------------------------------------------- network namespace
def _interfaces() -> set[str]:
    """Network interfaces of this process' namespace (/proc/self/net/dev; /sys/class/net shows the
    namespace sysfs was mounted in, not ours)."""
    try:
        lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    except OSError:
        return {"?"}
    return {line.split(":", 1)[0].strip() for line in lines if ":" in line}


def ensure_private_netns(argv: list[str]) -> None:
    """Re-execute under ``unshare -n`` once; inside, bring lo up and refuse unless lo is all there is."""
    if os.environ.get(NETNS_MARK) != "1":
        unshare = shutil.which("unshare")
        if unshare is None:
            sys.exit("seed_mytsdb: refusing to start MyTSDB: `unshare` (util-linux) is missing, and the "
                     "server binds 0.0.0.0 so it must run in a private network namespace")
        flags = "-n" if os.geteuid() == 0 else "-rn"
        env = {**os.environ, NETNS_MARK: "1"}
        cmd = [unshare, flags, "--", sys.executable, os.path.abspath(__file__), *argv]
        os.execve(unshare, cmd, env)  # does not return
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    others = _interfaces() - {"lo"}
    if others:
        sys.exit(f"seed_mytsdb: refusing to start MyTSDB: network interfaces {sorted(others)} are visible "
                 "(not a private network namespace); run `python benchmarks/seed_mytsdb.py ...` "
                 "directly so that it re-executes itself under `unshare -n`")
    try:
        with socket.create_connection(("127.0.0.1", 9), timeout=0.5):
            pass
    except ConnectionRefusedError:
        pass  # lo is up
    except OSError as exc:
        sys.exit(f"seed_mytsdb: loopback is not usable in the private namespace ({exc}); "
                 "`ip link set lo up` failed")


# ---------------------------------------------------------------- one server
@dataclass
class Trial:
    workload: str
    wall: float = 0.0
    ok: bool = False
    samples: int = 0
    server_cpu: float = 0.0
    server_peak_mib: float = 0.0
    client_cpu: float = 0.0
    client_peak_mib: float = 0.0
    server_writes: str = ""
    detail: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = f"{self.samples / self.wall / 1e6:.2f}M samples/s" if self.wall and self.samples else "-"
        return (f"{self.workload:8} {'ok' if self.ok else 'FAILED':6} {self.wall:7.2f}s  "
                f"{self.samples:>10} samples ({rate}); server CPU {self.server_cpu:6.1f}s, "
                f"peak {self.server_peak_mib:5.0f} MiB; client CPU {self.client_cpu:5.1f}s, "
                f"peak {self.client_peak_mib:5.0f} MiB; {self.server_writes}")


class Server:
    """A fresh tsdb_server in its own data directory; ``stop()`` SIGTERMs it (about 5 s)."""

    def __init__(self, binary: str, workdir: Path, n: int) -> None:
        self.data = workdir / f"data-{n}"
        self.log = workdir / f"server-{n}.log"
        self.data.mkdir(parents=True)
        cmd = [binary, "--http-port", str(HTTP_PORT), "--arrow-port", str(FLIGHT_PORT),
               "--address", f"127.0.0.1:{OTLP_PORT}", "--data-dir", str(self.data), "--log-level", "warn"]
        self.cmd = shlex.join(cmd)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready(60.0)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"seed_mytsdb: {self.cmd} exited with {self.proc.returncode}; "
                                 f"log tail:\n{self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                body = urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/health", timeout=1).read()
                if json.loads(body).get("status") == "up":
                    with socket.create_connection(("127.0.0.1", FLIGHT_PORT), timeout=1):
                        return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"seed_mytsdb: {self.cmd}: not ready (health + Flight port) within {timeout:g}s")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data, ignore_errors=True)

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def write_summary(self) -> str:
        """MyTSDB's own write instrumentation (printed at shutdown): writes and mean time per write."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        w = re.search(r"Total Writes: (\d+)", text)
        a = re.search(r"Avg Time per Write: ([\d.]+) us", text)
        return f"server writes {w.group(1)} ({a.group(1)} us each)" if w and a else "server writes ?"


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None
          ) -> tuple[int, float, float, float, str]:
    """(exit code, wall s, CPU s and peak RSS MiB of the child, its output) of one workload process."""
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        # cwd: the log's directory, so that `python -m seeder` does not pick up ./seeder of the caller
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=log.parent)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, wall, cpu, usage.ru_maxrss / 1024, log.read_text(errors="replace")


# ---------------------------------------------------------------- verification
def _query(expr: str, at: float) -> list[dict]:
    data = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/api/v1/query", data=data, timeout=120) as r:
        body = json.loads(r.read())
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error') or body}")
    return body["data"]["result"]


def count_series(metric: str, labels: list[str], values: dict[str, list[str]], at: float,
                 matchers: tuple[str, ...] = ()) -> tuple[int, int]:
    """(series MyTSDB returns for the metric, queries used); selectors at the cap are split further."""
    expr = f"{metric}{{{', '.join((SELF_MONITOR, *matchers))}}}"
    result = _query(expr, at)
    if len(result) < SELECTOR_CAP:
        return len({json.dumps(r["metric"], sort_keys=True) for r in result}), 1
    used = {m.split("=", 1)[0] for m in matchers}
    split = next((d for d in SPLIT_ORDER if d in labels and d not in used and values.get(d)), None)
    if split is None:
        raise RuntimeError(f"{expr}: {len(result)} series (at MyTSDB's cap) and no label left to split by")
    total, queries = 0, 1
    for v in values[split]:
        n, q = count_series(metric, labels, values, at, (*matchers, f'{split}="{v}"'))
        total, queries = total + n, queries + q
    return total, queries


def verify(manifest: SeedManifest) -> list[str]:
    """Problems (empty: every metric with the manifest's Flight series count at its query time)."""
    at = manifest.query_time()
    problems, got_total, queries = [], 0, 0
    want_total = sum(info["slices"].get("main", 0) for info in manifest.metrics.values())
    for metric, info in manifest.metrics.items():
        want = info["slices"].get("main", 0)
        try:
            got, q = count_series(metric, info["labels"], manifest.label_values, at)
        except (OSError, RuntimeError, ValueError) as exc:
            problems.append(f"{metric}: query failed: {exc}")
            continue
        got_total, queries = got_total + got, queries + q
        if got != want:
            problems.append(f"{metric}: MyTSDB returns {got} series at {at:.0f}, the manifest lists {want}")
    summary = (f"verify: {len(manifest.metrics)} metrics, {got_total}/{want_total} series at t={at:.0f} "
               f"({queries} selectors, each < {SELECTOR_CAP} series; job mytsdb_self_monitor excluded)")
    return [summary, *problems]


# ---------------------------------------------------------------- workloads
def run_seeder(a: argparse.Namespace, server: Server, workdir: Path, n: int, name: str = "seeder",
               pythonpath: str | None = None) -> Trial:
    manifest_path = workdir / f"manifest-{n}.json"
    cmd = [sys.executable, "-m", "seeder", "--preset", a.preset, "--end-time", a.end_time,
           "--flight", f"grpc+tcp://127.0.0.1:{FLIGHT_PORT}", "--manifest", str(manifest_path)]
    if a.streams:
        cmd += ["--flight-streams", str(a.streams)]
    t = Trial(name)
    cpu0 = server.cpu_seconds()
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
    rc, t.wall, t.client_cpu, t.client_peak_mib, out = timed(cmd, workdir / f"{name}-{n}.log", env)
    t.server_cpu = server.cpu_seconds() - cpu0
    t.server_peak_mib = server.peak_mib()
    closing = [line for line in out.splitlines() if line.startswith("seed: done")]
    t.detail += closing or [f"exit {rc}: {out.strip().splitlines()[-1] if out.strip() else ''}"]
    if rc == 0:
        m = SeedManifest.load(manifest_path)
        t.samples = sum(info["slices"].get("main", 0) for info in m.metrics.values()) * \
            m.seed_spec().samples_per_series
        if a.verify:
            result = verify(m)
            t.detail += result
            t.ok = len(result) == 1
        else:
            t.ok = True
    return t


def run_k8s_gen(a: argparse.Namespace, server: Server, workdir: Path, n: int) -> Trial:
    cmd = [a.k8s_gen_bin, *shlex.split(a.k8s_gen_args), "--host", "127.0.0.1", "--port", str(FLIGHT_PORT)]
    t = Trial("k8s-gen")
    cpu0 = server.cpu_seconds()
    rc, t.wall, t.client_cpu, t.client_peak_mib, out = timed(cmd, workdir / f"k8s-gen-{n}.log")
    t.server_cpu = server.cpu_seconds() - cpu0
    t.server_peak_mib = server.peak_mib()
    m = re.search(r"Total Samples: (\d+)", out)
    t.samples = int(m.group(1)) if m else 0
    t.ok = rc == 0 and t.samples > 0
    t.detail.append(f"{shlex.join(cmd)}: exit {rc}")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--mytsdb-bin", required=True, help="MyTSDB's tsdb_server binary")
    ap.add_argument("--k8s-gen-bin", help="MyTSDB's k8s_data_generator: also time it, alternating")
    ap.add_argument("--k8s-gen-args", default="--seed-20m", help="its size flags (default --seed-20m)")
    ap.add_argument("--preset", default="seed-20m", choices=PRESETS, help="seeder preset (default seed-20m)")
    ap.add_argument("--end-time", default=END_TIME, help=f"seeder window end (default {END_TIME})")
    ap.add_argument("--streams", type=int, default=0, help="--flight-streams (default: the sink's default)")
    ap.add_argument("--repeat", type=int, default=3, help="trials per workload (default 3; medians)")
    ap.add_argument("--baseline-seeder", metavar="DIR",
                    help="also time the seeder package found in DIR (e.g. `git archive HEAD seeder | "
                         "tar -x -C DIR`), as workload 'baseline', alternating with the others")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the series-count check after each seeding")
    ap.add_argument("--workdir", help="keep the server logs and manifests here (default: a temp dir, "
                    "removed)")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error("--repeat must be >= 1")
    for binary in (a.mytsdb_bin, a.k8s_gen_bin):
        if binary and not os.access(binary, os.X_OK):
            ap.error(f"{binary} is not an executable file")
    ensure_private_netns(sys.argv[1:])

    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="seed-mytsdb-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workloads = [("seeder", run_seeder)]
    if a.baseline_seeder:
        base = str(Path(a.baseline_seeder).resolve())
        if not (Path(base) / "seeder" / "__main__.py").is_file():
            ap.error(f"--baseline-seeder {base}: no seeder package there")
        workloads.append(("baseline", lambda a_, s_, w_, n_: run_seeder(a_, s_, w_, n_, "baseline", base)))
    if a.k8s_gen_bin:
        workloads.append(("k8s-gen", run_k8s_gen))
    results: dict[str, list[Trial]] = {name: [] for name, _ in workloads}
    gen = f"; generator {a.k8s_gen_bin} {a.k8s_gen_args}" if a.k8s_gen_bin else ""
    print(f"seed_mytsdb: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; server {a.mytsdb_bin}; "
          f"seeder preset {a.preset}{gen}", flush=True)
    n = 0
    try:
        for i in range(a.repeat):
            for name, fn in workloads[i % len(workloads):] + workloads[:i % len(workloads)]:
                n += 1
                server = Server(a.mytsdb_bin, workdir, n)
                try:
                    trial = fn(a, server, workdir, n)
                finally:
                    server.stop()
                trial.server_writes = server.write_summary()
                results[name].append(trial)
                print(f"[{i + 1}/{a.repeat}] {trial.line()}  load {os.getloadavg()[0]:.1f}", flush=True)
                for d in trial.detail:
                    print(f"    {d}", flush=True)
    finally:
        if not a.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    med = {name: statistics.median(t.wall for t in ts) for name, ts in results.items()}
    for name, ts in results.items():
        print(f"{name}: median {med[name]:.2f}s of {[round(t.wall, 2) for t in ts]}; "
              f"{sum(t.ok for t in ts)}/{len(ts)} ok; client peak "
              f"{max(t.client_peak_mib for t in ts):.0f} MiB; server CPU median "
              f"{statistics.median(t.server_cpu for t in ts):.1f}s")
    failed = any(not t.ok for ts in results.values() for t in ts)
    for other in ("baseline", "k8s-gen"):  # k8s-gen last: the last line is its ratio
        if other in med:
            pairs = [o.wall / s.wall for s, o in zip(results["seeder"], results[other], strict=True)]
            print(f"ratio {med[other] / med['seeder']:.2f} ({other} median / seeder median; per trial "
                  f"{[round(p, 2) for p in pairs]})" + ("; target >= 2" if other == "k8s-gen" else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
