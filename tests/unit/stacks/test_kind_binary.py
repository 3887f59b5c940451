"""pytest-kind's KindCluster as we drive it, against a recording stand-in for the ``kind`` binary.

The stand-in logs its argv and, like kind, writes a kubeconfig on ``create cluster`` (pytest-kind
reads it with pykube right after). So the exact commands pytest-kind-ng runs for us (create with
our config file and node image, load, delete) are checked against its installed source.
"""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import PrerequisiteMissing, StackStartError
from fixtures.stacks.kind import KindStack
from fixtures.stacks.kind_support import HarnessKindCluster
from tests.unit.support.cluster import FakeRunner

ROOT = Path(__file__).resolve().parents[3]
FAKE_KIND = """#!/bin/sh
echo "$*" >> "{log}"
case "$1 $2" in
  "get clusters") cat "{state}" 2>/dev/null; exit 0 ;;
  "create cluster")
    for arg in "$@"; do case "$arg" in --name=*) echo "${{arg#--name=}}" >> "{state}" ;;
      --kubeconfig=*) kc="${{arg#--kubeconfig=}}" ;; esac; done
    cat > "$kc" <<EOF
apiVersion: v1
kind: Config
clusters: [{{name: kind-c1, cluster: {{server: "https://127.0.0.1:6443"}}}}]
users: [{{name: kind-c1, user: {{token: x}}}}]
contexts: [{{name: kind-c1, context: {{cluster: kind-c1, user: kind-c1}}}}]
current-context: kind-c1
EOF
    exit 0 ;;
  "load docker-image") exit {load_rc} ;;
esac
exit 0
"""


def fake_kind(tmp_path: Path, load_rc: int = 0) -> tuple[Path, Path]:
    kind, log = tmp_path / "bin" / "kind", tmp_path / "kind.log"
    kind.parent.mkdir(exist_ok=True)
    kind.write_text(FAKE_KIND.format(log=log, state=tmp_path / "clusters", load_rc=load_rc))
    kind.chmod(kind.stat().st_mode | stat.S_IXUSR)
    return kind, log


def test_create_load_delete_run_the_commands_we_expect(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # pytest-kind makes .pytest-kind/<name> in the working directory
    kind, log = fake_kind(tmp_path)
    kubeconfig = tmp_path / "kc" / "kubeconfig"
    kubeconfig.parent.mkdir()
    config_file = ROOT / "manifests" / "kind" / "cluster.yaml"
    cluster = HarnessKindCluster("c1", kubeconfig=kubeconfig, image="kindest/node:v1.33.1", kind_path=kind,
                                 kubectl_path=tmp_path / "bin" / "kubectl")
    cluster.create(config_file=config_file)
    cluster.load_docker_image("mytsdb-harness/seeder:h-0123456789abcdef")
    cluster.delete()
    assert log.read_text().splitlines() == [
        "get clusters",
        f"create cluster --name=c1 --kubeconfig={kubeconfig} --image=kindest/node:v1.33.1 "
        f"--config {config_file}",
        "load docker-image --name c1 mytsdb-harness/seeder:h-0123456789abcdef",
        f"delete cluster --name=c1 --kubeconfig={kubeconfig}"]
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"


def test_missing_tools_and_mytsdb_are_named_together_before_any_kind_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    stack = KindStack(HarnessConfig(rootdir=ROOT, artifacts=tmp_path / "a"), FakeRunner())
    with pytest.raises(PrerequisiteMissing) as err:
        stack.start()
    text = str(err.value)
    assert "kind" in text and "kubectl" in text and "docker" in text and "--mytsdb-src" in text
    assert "\n" not in text and stack.cluster is None


def test_a_failed_kind_load_falls_back_to_a_single_platform_archive(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    kind, _log = fake_kind(tmp_path, load_rc=1)
    runner = FakeRunner({
        (str(kind), "get", "nodes"): (0, "c1-control-plane\n"),
        ("docker", "image", "inspect"): (1, ""),
        ("docker", "version"): (0, "linux/amd64\n"),
        ("docker", "image", "save"): (0, ""),
        (str(kind), "load", "image-archive"): (0, "")})
    cfg = dataclasses.replace(HarnessConfig(rootdir=ROOT, artifacts=tmp_path / "a"), cluster_name="c1")
    stack = KindStack(cfg, runner)
    stack.kind = str(kind)
    stack.cluster = HarnessKindCluster("c1", kubeconfig=tmp_path / "kc", kind_path=kind,
                                       kubectl_path=kind)
    stack.load_images(["mytsdb-harness/mytsdb:h-0123456789abcdef"])
    archive = str(tmp_path / "a" / "kind-load" / "mytsdb-harness_mytsdb_h-0123456789abcdef.tar")
    assert runner.called("docker", "image", "save") == [
        ("docker", "image", "save", "--platform", "linux/amd64", "-o", archive,
         "mytsdb-harness/mytsdb:h-0123456789abcdef")]
    assert runner.called(str(kind), "load", "image-archive") == [
        (str(kind), "load", "image-archive", archive, "--name", "c1")]
    runner.script[(str(kind), "load", "image-archive")] = (1, "ERROR: failed to load image")
    with pytest.raises(StackStartError, match=r"kind load failed: .*docker-image.*fallback.*image-archive"):
        stack.load_images(["mytsdb-harness/mytsdb:h-0123456789abcdef"])


def test_kind_create_failure_is_a_one_line_stack_error_and_marks_the_cluster_ours(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("fixtures.stacks.kind.busy_host_ports", lambda _mapped: [])
    kind = tmp_path / "kind"
    kind.write_text("#!/bin/sh\n[ \"$1\" = get ] && exit 0\necho boom >&2\nexit 1\n")
    kind.chmod(0o755)
    cfg = dataclasses.replace(HarnessConfig(rootdir=ROOT, artifacts=tmp_path / "a"), cluster_name="c1")
    stack = KindStack(cfg, FakeRunner({(str(kind), "get", "clusters"): (0, "other\n")}))
    stack.kind, stack.kubectl = str(kind), str(kind)
    stack.kubeconfig = tmp_path / "kc" / "kubeconfig"  # not under the repo's .pytest-kind
    with pytest.raises(StackStartError) as err:
        stack.bring_up_cluster()
    assert str(err.value).startswith("kind could not create cluster c1: ") and "exited 1" in str(err.value)
    assert stack.created, "a half-created cluster must be deleted at stop()"


@pytest.mark.parametrize(("created", "keep", "deleted"),
                         [(True, False, 1), (False, False, 0), (True, True, 0)])
def test_a_failed_wait_leaves_a_bring_up_bundle_whether_or_not_the_cluster_goes(
        tmp_path: Path, created: bool, keep: bool, deleted: int) -> None:
    cfg = dataclasses.replace(HarnessConfig(rootdir=ROOT, artifacts=tmp_path / "a"), cluster_name="c1",
                              keep_cluster=keep)
    stack = KindStack(cfg, FakeRunner({("kind", "export", "logs"): (0, "")}))
    stack.kind, stack.created, stack.deploying = "kind", created, True
    bundles: list[Path] = []
    deletes: list[str] = []
    stack.collect_diagnostics = bundles.append  # type: ignore[method-assign]
    stack.cluster = type("C", (), {"delete": lambda self: deletes.append("x")})()  # type: ignore[assignment]
    stack.stop()
    stack.stop()
    assert bundles == [tmp_path / "a" / "bring-up"] and len(deletes) == deleted
