"""Build decisions: skip when the tag exists, surface failures with the command and log tail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fixtures.common.commands import Runner
from fixtures.common.config import DEFAULT_MYTSDB_DOCKERFILE, HarnessConfig
from fixtures.common.errors import PrerequisiteMissing
from fixtures.stacks.images import (
    LOG_TAIL_LINES,
    ImageBuilder,
    ImageBuildError,
    ImageSpec,
    docker_engine_missing,
    image_ref,
    mytsdb_image_source,
)
from tests.unit.support.cluster import FakeRunner


@pytest.fixture
def image(tmp_path: Path) -> ImageSpec:
    ctx = tmp_path / "ctx"  # build logs go to tmp_path/logs, outside the context
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    (ctx / "a.txt").write_text("a\n")
    return ImageSpec("mytsdb-harness/seeder", ctx, ctx / "Dockerfile", (("V", "1"),))


def test_existing_tag_skips_the_build(image: ImageSpec, tmp_path: Path) -> None:
    ref = image_ref(image)
    runner = FakeRunner({("docker", "image", "inspect"): (0, "sha256:abc\n")})
    outcome = ImageBuilder(runner, log_dir=tmp_path / "logs").ensure(image)
    assert (outcome.ref, outcome.built) == (ref, False)
    assert runner.called("docker", "build") == []


def test_missing_tag_builds_with_the_content_tag(image: ImageSpec, tmp_path: Path) -> None:
    ref = image_ref(image)
    runner = FakeRunner({("docker", "image", "inspect"): (1, ""),
                         ("docker", "build"): (0, "Successfully built\n")})
    lines: list[str] = []
    outcome = ImageBuilder(runner, log_dir=tmp_path / "logs", progress=lines.append).ensure(image)
    assert outcome.built and outcome.ref == ref
    assert lines == [f"building {ref} (log: {outcome.log})"]
    [build] = runner.called("docker", "build")
    assert build == ("docker", "build", "-t", ref, "-f", str(image.dockerfile), "--build-arg", "V=1",
                     str(image.context))
    assert outcome.log is not None and outcome.log.read_text() == "Successfully built\n"


def test_failed_build_names_command_log_and_tail(image: ImageSpec, tmp_path: Path) -> None:
    log = [f"step {i}" for i in range(100)] + ["error: __m512d and __m512 mixed"]
    runner = FakeRunner({("docker", "image", "inspect"): (1, ""), ("docker", "build"): (1, "\n".join(log))})
    with pytest.raises(ImageBuildError) as err:
        ImageBuilder(runner, log_dir=tmp_path / "logs").ensure(image)
    text = str(err.value)
    assert f"docker build -t {image_ref(image)} -f {image.dockerfile}" in text
    assert "error: __m512d and __m512 mixed" in text
    assert f"step {100 - LOG_TAIL_LINES + 1}" in text and "step 5\n" not in text
    assert str(tmp_path / "logs") in text


def test_prebuilt_image_is_pulled_only_when_absent(tmp_path: Path) -> None:
    present = FakeRunner({("docker", "image", "inspect"): (0, "sha256:1\n")})
    ImageBuilder(present, log_dir=tmp_path).ensure_present("ghcr.io/me/mytsdb:v1")
    assert present.called("docker", "pull") == []
    absent = FakeRunner({("docker", "image", "inspect"): (1, ""), ("docker", "pull"): (0, "")})
    ImageBuilder(absent, log_dir=tmp_path).ensure_present("ghcr.io/me/mytsdb:v1")
    assert absent.called("docker", "pull") == [("docker", "pull", "ghcr.io/me/mytsdb:v1")]


def config(**kw: object) -> HarnessConfig:
    return dataclasses.replace(HarnessConfig(), **kw)  # type: ignore[arg-type]


def test_mytsdb_source_decisions(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing, match=r"--mytsdb-src PATH .* or --mytsdb-image REF"):
        mytsdb_image_source(config())
    with pytest.raises(PrerequisiteMissing, match="--mytsdb-dockerfile"):
        mytsdb_image_source(config(mytsdb_src=tmp_path))
    default = tmp_path / DEFAULT_MYTSDB_DOCKERFILE
    default.parent.mkdir(parents=True)
    default.write_text("FROM scratch\n")
    built = mytsdb_image_source(config(mytsdb_src=tmp_path))
    assert isinstance(built, ImageSpec) and built.dockerfile == default and built.context == tmp_path
    (tmp_path / "alt.Dockerfile").write_text("FROM scratch\n")
    alt = mytsdb_image_source(config(mytsdb_src=tmp_path, mytsdb_dockerfile="alt.Dockerfile"))
    assert isinstance(alt, ImageSpec) and alt.dockerfile == tmp_path / "alt.Dockerfile"
    assert mytsdb_image_source(config(mytsdb_src=tmp_path, mytsdb_image="me/mytsdb:1")) == "me/mytsdb:1"


def test_docker_engine_messages() -> None:
    assert docker_engine_missing(FakeRunner({("docker", "version"): (0, "28.2.2\n")})) is None
    no_client = docker_engine_missing(FakeRunner({}))
    assert no_client is not None and "not on PATH" in no_client
    refused = "Cannot connect to the Docker daemon"
    no_engine = docker_engine_missing(FakeRunner({("docker", "version"): (1, refused)}))
    assert no_engine is not None and refused in no_engine and "DOCKER_HOST" in no_engine


def test_runner_reports_exit_codes_timeouts_and_missing_tools(tmp_path: Path) -> None:
    runner = Runner()
    ok = runner.run(["sh", "-c", "echo one; echo two >&2"], timeout=10)
    assert ok.ok and ok.tail(1) == "two" and ok.command_line == "sh -c 'echo one; echo two >&2'"
    assert runner.run(["sh", "-c", "exit 3"], timeout=10).returncode == 3
    assert runner.run(["/nonexistent/docker"], timeout=10).returncode == 127
    slow = runner.run(["sh", "-c", "echo started; exec sleep 5"], timeout=0.5, log_file=tmp_path / "l.log")
    assert slow.returncode == 124 and "started" in slow.stdout


def test_pull_says_what_it_pulls_and_reports_failure_without_raising(tmp_path: Path) -> None:
    runner = FakeRunner({("docker", "pull"): (1, "dial tcp: lookup registry-1.docker.io: no such host")})
    lines: list[str] = []
    result = ImageBuilder(runner, log_dir=tmp_path, progress=lines.append).pull("grafana/grafana:11.6.0")
    assert not result.ok and "no such host" in result.tail(1)
    assert runner.calls == [("docker", "pull", "grafana/grafana:11.6.0")]
    assert lines == ["pulling grafana/grafana:11.6.0 into the local Docker engine"]


def test_build_network_is_passed_only_when_given(image: ImageSpec, tmp_path: Path) -> None:
    ref = image_ref(image)
    default = ImageBuilder(FakeRunner({}), log_dir=tmp_path).build_command(image, ref)
    host = ImageBuilder(FakeRunner({}), log_dir=tmp_path, network="host").build_command(image, ref)
    assert "--network" not in default
    assert host[host.index("--network") + 1] == "host" and host[-1] == str(image.context)
