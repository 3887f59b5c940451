"""The docker stack against a real Docker engine: waits, crash-fast, leftovers, keep, Ctrl-C.

Needs an engine (DOCKER_HOST; CI starts one with .ci/docker/start-engine.sh) and the local images
of .ci/docker/base-images.sh; skips with one line naming what is missing.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests
import yaml
from testcontainers.core.container import DockerContainer

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import PrerequisiteMissing, StackStartError, WaitAborted
from fixtures.common.wait import Wait
from fixtures.stacks import docker_support as ds
from fixtures.stacks.docker import (
    FLIGHT_PORT,
    HTTP_PORT,
    MYTSDB_ARGS,
    OTLP_PORT,
    DockerStack,
    mytsdb_wait,
)
from fixtures.stacks.image_user import image_user

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[3]
PINS = yaml.safe_load((ROOT / "manifests" / "versions.yaml").read_text())["images"]
PROM_IMAGE = PINS["prometheus"]
PYTHON_IMAGE = PINS["python-base"]


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        engine = ds.engine_client(timeout=10)
    except PrerequisiteMissing as missing:
        pytest.skip(str(missing))
    ds.configure_testcontainers()
    yield engine
    engine.close()


def need_image(client: docker.DockerClient, ref: str) -> None:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        pytest.skip(f"image {ref} not in the engine: build it with .ci/docker/base-images.sh")


def session_items(client: docker.DockerClient, session: str) -> list[str]:
    selector = {"label": f"{ds.LABEL_SESSION}={session}"}
    return ([c.name for c in client.containers.list(all=True, filters=selector)]
            + [v.name for v in client.volumes.list(filters=selector)])


@pytest.fixture
def session(client: docker.DockerClient) -> Iterator[str]:
    """A session id whose containers/volumes are removed after the test whatever happened."""
    sid = f"t{os.getpid()}{time.monotonic_ns() % 10**6}"
    yield sid
    ds.remove_session(client, sid)


def test_tcp_check_sees_through_the_userland_proxy(client: docker.DockerClient, session: str) -> None:
    need_image(client, PYTHON_IMAGE)
    box = client.containers.run(PYTHON_IMAGE, ["sleep", "120"], detach=True,
                                ports={"8815/tcp": ("127.0.0.1", None)},
                                labels=ds.labels(session, "probe", keep=False))
    port = int(client.api.port(box.id, 8815)[0]["HostPort"])
    reason = ds.tcp_check("127.0.0.1", port)()
    assert reason is not None and "closed at once" in reason, "a bare connect through the proxy is no proof"
    box.exec_run(["python", "-c", "import socket, time; s = socket.create_server(('0.0.0.0', 8815)); "
                  "time.sleep(120)"], detach=True)
    probe = ds.ContainerProbe(box, "listener on 8815", [ds.tcp_check("127.0.0.1", port)])
    Wait(probe).with_timeout(30).with_backoff(0.2, 1.0).with_progress(lambda line: None).until_ready()


def test_a_crashing_container_aborts_the_wait_with_its_log(client: docker.DockerClient, session: str) -> None:
    need_image(client, PROM_IMAGE)
    broken = DockerContainer(PROM_IMAGE, labels=ds.labels(session, "broken", keep=False))
    broken.with_command(["--no-such-flag"])
    broken.waiting_for(ds.ProbeWaitStrategy(
        "broken Prometheus /-/ready",
        lambda host, port_of: [ds.http_check(f"http://{host}:9090/-/ready")],
        progress=lambda line: None).with_startup_timeout(120))
    started = time.monotonic()
    with pytest.raises(WaitAborted) as err:
        broken.start()
    assert time.monotonic() - started < 60, "waited for the deadline instead of failing fast"
    assert "exit code" in str(err.value) and "no-such-flag" in str(err.value)


def test_sweep_removes_orphans_but_not_kept_or_live_sessions(client: docker.DockerClient,
                                                             session: str) -> None:
    need_image(client, PYTHON_IMAGE)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = ds.owner_id().rpartition(":")[0]
    orphan = {**ds.labels(session, "orphan", keep=False), ds.LABEL_OWNER: f"{host}:{dead.pid}"}
    kept = {**orphan, ds.LABEL_ROLE: "kept", ds.LABEL_KEEP: "true"}
    live = ds.labels(session, "live", keep=False)
    for role, labels in (("orphan", orphan), ("kept", kept), ("live", live)):
        client.containers.create(PYTHON_IMAGE, ["true"], name=f"harness-{session}-{role}", labels=labels)
        client.volumes.create(name=f"harness-{session}-{role}", labels=labels)
    removed = ds.sweep_leftovers(client)
    assert f"container harness-{session}-orphan" in removed and f"volume harness-{session}-orphan" in removed
    assert sorted(session_items(client, session)) == sorted(
        f"harness-{session}-{r}" for r in ("kept", "live", "kept", "live"))


def test_absent_image_is_a_one_line_prerequisite(client: docker.DockerClient) -> None:
    with pytest.raises(PrerequisiteMissing) as err:
        ds.ensure_image(client, "harness-test/absent:never", "reference Prometheus", "pass --reference-image")
    assert "harness-test/absent:never" in str(err.value) and "\n" not in str(err.value)


def stack_config(tmp_path: Path, *, keep: bool) -> HarnessConfig:
    return HarnessConfig(stack="docker", keep_cluster=keep, rootdir=ROOT, artifacts=tmp_path / "artifacts",
                         reference_image=PROM_IMAGE, target_image=PROM_IMAGE, seed_preset="tiny")


def test_kept_stack_survives_stop_and_says_how_to_reach_it(client: docker.DockerClient, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    need_image(client, PROM_IMAGE)
    stack = DockerStack(stack_config(tmp_path, keep=True))
    try:
        with stack as endpoints:
            metric = sorted(endpoints.manifest.metrics)[0]
            at = endpoints.manifest.query_time()
            counts = [requests.get(f"{url}/api/v1/query", timeout=10,
                                   params={"query": f"count({metric})", "time": at}).json()
                      for url in (endpoints.target_url, endpoints.reference_url)]
            assert counts[0] == counts[1] and counts[0]["data"]["result"], counts
        assert len(session_items(client, stack.session)) == 5  # reference, backfill, target + 2 volumes
        kept = stack.describe_kept()
        assert endpoints.target_url in kept and endpoints.reference_url in kept
        assert "--stack endpoints" in kept and (tmp_path / "artifacts/docker-stack/manifest.json").is_file()
        assert (tmp_path / "artifacts/docker-stack/reference.log").read_text().strip()
    finally:
        ds.remove_session(client, stack.session)


# A shell without job control starts background jobs with SIGINT ignored, and Python then installs
# no KeyboardInterrupt handler: the script asks for one, as a terminal's foreground job has.
CTRL_C_SCRIPT = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from pathlib import Path
    from fixtures.common.config import HarnessConfig
    from fixtures.stacks.docker import DockerStack
    stack = DockerStack(HarnessConfig(stack="docker", rootdir=Path(sys.argv[1]),
                                      artifacts=Path(sys.argv[2]), reference_image=sys.argv[3],
                                      target_image=sys.argv[3]))
    stack.start()
    print(stack.session, flush=True)
    time.sleep(300)
""")


def test_ctrl_c_removes_the_containers(client: docker.DockerClient, tmp_path: Path) -> None:
    need_image(client, PROM_IMAGE)
    env = dict(os.environ)
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(ROOT), str(tmp_path), PROM_IMAGE],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        session = proc.stdout.readline().strip()  # blocks until the stack is up
        assert session, f"the stack did not start (exit {proc.poll()}): {stderr.read_text()[-2000:]}"
        assert session_items(client, session), "no labelled containers while running"
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)  # logs are written first; a loaded 2-core machine needs time
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 120 s after Ctrl-C; its stderr: {stderr.read_text()[-2000:]}")
        assert session_items(client, session) == [], stderr.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()


DOUBLE_FILES = ("tests/__init__.py", "tests/unit/support/otlp_receiver.py", "tests/unit/support/sinks.py",
                "tests/unit/support/tsdb_server.py", "standin")


def build_mytsdb_double(client: docker.DockerClient, base: str) -> str:
    """An image running tests/unit/support/tsdb_server.py on the seeder image's dependencies."""
    # Flight 2 s after /health, like MyTSDB's start order: a stack waiting for /health alone fails.
    dockerfile = (f"FROM {base}\nCOPY tests /double/tests\nCOPY standin /double/standin\n"
                  "ENV PYTHONPATH=/double "
                  "FAKE_TSDB_BIND=0.0.0.0 FAKE_TSDB_FLIGHT_DELAY=2\n"
                  'ENTRYPOINT ["python", "-m", "tests.unit.support.tsdb_server"]\n')
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
        for rel in DOUBLE_FILES:
            tar.add(str(ROOT / rel), arcname=rel)
    buf.seek(0)
    tag = "harness-test/mytsdb-double:dev"
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, network_mode="none")
    return tag


@pytest.fixture(scope="module")
def mytsdb_double(client: docker.DockerClient) -> str:
    need_image(client, PINS["seeder"])
    return build_mytsdb_double(client, PINS["seeder"])


def test_mytsdb_wait_covers_flight_not_just_health(client: docker.DockerClient, mytsdb_double: str,
                                                   session: str) -> None:
    target = DockerContainer(mytsdb_double, labels=ds.labels(session, "mytsdb", keep=False))
    for port in (HTTP_PORT, FLIGHT_PORT, OTLP_PORT):
        target.ports[f"{port}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
    target.with_command(MYTSDB_ARGS).with_tmpfs_mount("/data").waiting_for(mytsdb_wait(60))
    target.start()
    flight = int(target.get_exposed_port(FLIGHT_PORT))
    assert ds.tcp_check("127.0.0.1", flight)() is None, "ready was declared before Flight listened"


def test_mytsdb_target_is_awaited_then_seeded_over_flight_and_otlp(client: docker.DockerClient,
                                                                   mytsdb_double: str,
                                                                   tmp_path: Path) -> None:
    need_image(client, PROM_IMAGE)
    double = mytsdb_double
    config = HarnessConfig(stack="docker", rootdir=ROOT, artifacts=tmp_path / "artifacts",
                           reference_image=PROM_IMAGE, mytsdb_image=double, seed_preset="tiny")
    stack = DockerStack(config)
    with stack as endpoints:
        assert endpoints.target_kind == "mytsdb" and endpoints.target_has_otlp
        assert endpoints.flight_location and endpoints.flight_location.startswith("grpc+tcp://127.0.0.1:")
        stats = requests.get(f"{endpoints.target_url}/fake/stats", timeout=10).json()
        manifest = endpoints.manifest
        assert manifest.otlp is not None
        assert stats["flight_violations"] == []
        assert stats["flight_rows"] == manifest.samples_total - manifest.otlp["samples"]
        assert stats["otlp_requests"] > 0 and stats["otlp_requests"] == stats["otlp_calls"]
        assert stats["started_fresh"] and stats["data_dir_files"] == ["fake-was-here"], stats
    assert session_items(client, stack.session) == []
    log = (tmp_path / "artifacts/docker-stack/mytsdb.log").read_text()
    assert "fake tsdb_server: Flight 8815" in log


def test_backfill_fails_loudly_on_a_bad_file_and_loads_good_ones(client: docker.DockerClient,
                                                                tmp_path: Path) -> None:
    need_image(client, PROM_IMAGE)
    good = tmp_path / "0-good.om"
    good.write_text("# TYPE demo_total counter\ndemo_total{pod=\"p\"} 1 1761900000\n"
                    "demo_total{pod=\"p\"} 2 1761900060\n# EOF\n")
    bad = tmp_path / "1-bad.om"
    bad.write_text("demo_total{pod=\"p\" 1 1761900000\n")  # unterminated label set
    stack = DockerStack(stack_config(tmp_path, keep=False))
    stack.client = client
    try:
        with pytest.raises(StackStartError) as err:
            stack._start_prometheus("reference", PROM_IMAGE, files=[good, bad])
        assert "exited" in str(err.value) and "1-bad.om" in str(err.value)
        url = stack._start_prometheus("target", PROM_IMAGE, files=[good])
        got = requests.get(f"{url}/api/v1/query", params={"query": "demo_total", "time": 1761900060},
                           timeout=10).json()["data"]["result"]
        assert [r["value"][1] for r in got] == ["2"]
    finally:
        ds.remove_session(client, stack.session)


def test_xdist_owner_hands_the_stack_to_the_controller(client: docker.DockerClient, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    need_image(client, PROM_IMAGE)
    owner = DockerStack(stack_config(tmp_path, keep=False))
    try:
        endpoints = owner.endpoints = owner.start()
        state = owner.export_state()
        owner.detach()  # a worker's end: must not remove what other workers still query
        owner.stop()
        assert len(session_items(client, owner.session)) == 5
        controller = DockerStack(stack_config(tmp_path, keep=False))
        controller.restore_state(state, endpoints)
        controller.stop()
        assert session_items(client, owner.session) == []
        assert (tmp_path / "artifacts/docker-stack/target.log").is_file()
    finally:
        ds.remove_session(client, owner.session)


def nonroot_variant(client: docker.DockerClient, base: str, user_line: str, tag: str) -> str:
    """``base`` as a MyTSDB image should look: /data owned by its non-root user, mode 0770."""
    dockerfile = (f"FROM {base}\nUSER root\n{user_line}\n"
                  "RUN mkdir -p /data && chown 65532:65532 /data && chmod 0770 /data\nUSER {user}\n")
    user = "mytsdb" if "useradd" in user_line else "65532:65532"
    body = dockerfile.replace("{user}", user).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, network_mode="none")
    return tag


NAMED_USER = "RUN groupadd --gid 65532 mytsdb && useradd --uid 65532 --gid 65532 --no-create-home mytsdb"


@pytest.mark.parametrize("user_line", ["RUN true", NAMED_USER], ids=["numeric-user", "named-user"])
def test_a_non_root_mytsdb_image_can_write_its_tmpfs_data(client: docker.DockerClient, mytsdb_double: str,
                                                          tmp_path: Path, user_line: str) -> None:
    """Regression: /data was a root-owned tmpfs, so MyTSDB as 65532 died at `cannot create /data/wal`."""
    image = nonroot_variant(client, mytsdb_double, user_line, f"harness-test/mytsdb-nonroot:{len(user_line)}")
    assert image_user(client, image) == (65532, 65532)
    stack = DockerStack(HarnessConfig(stack="docker", rootdir=ROOT, artifacts=tmp_path / "artifacts",
                                      reference_image=PROM_IMAGE, mytsdb_image=image, seed_preset="tiny"))
    stack.client = client
    try:
        url, _, _ = stack._start_mytsdb(image)
        stats = requests.get(f"{url}/fake/stats", timeout=10).json()
        assert stats["started_fresh"] and stats["data_dir_files"] == ["fake-was-here"], stats
    finally:
        ds.remove_session(client, stack.session)
