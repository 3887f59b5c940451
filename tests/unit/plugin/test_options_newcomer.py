"""What a newcomer sees on bad input: one line naming the option (or what is missing), through pytest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.options import env_bool, positive_seconds
from fixtures.plugin import CLUSTER_DEFAULTS, LOCAL_DEFAULTS, ran_on_line
from fixtures.stacks import seeding
from fixtures.stacks.base import Endpoints
from fixtures.stacks.prometheus_proc import PrometheusProcess
from seeder.manifest import build_manifest
from seeder.spec import build_spec

pytest_plugins = ["pytester"]

CONFTEST = 'pytest_plugins = ["fixtures.plugin"]\n'
STACK_TEST = """
def test_needs_the_stack(stack_endpoints):
    assert stack_endpoints.target_url
"""
BASE_ARGS = ("-p", "no:pytest-kind-ng", "-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-rs")
ENV_VARS = ("HARNESS_STACK", "HARNESS_KEEP_CLUSTER", "HARNESS_SEED", "HARNESS_TARGET_URL",
            "HARNESS_REFERENCE_URL", "HARNESS_SEED_MANIFEST", "HARNESS_READY_TIMEOUT", "MYTSDB_SRC",
            "MYTSDB_IMAGE", "HARNESS_PROMETHEUS_BIN", "HARNESS_PROMTOOL_BIN", "HARNESS_SEED_PRESET",
            "HARNESS_SEED_END_TIME")
END_TIME_FORM = "expected Unix seconds or RFC3339 with a time zone like 2026-11-01T00:00:00Z"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_stack=STACK_TEST)
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return pytester


def error_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.errlines if line.startswith("ERROR:")]


@pytest.mark.parametrize(("flag", "value", "accepted"), [
    ("--target-url", "ftp://x", "expected an http(s) URL like http://127.0.0.1:9090"),
    ("--seed", "-1", "expected a whole number >= 0"),
    ("--ready-timeout", "0", "expected a finite number of seconds > 0"),
    ("--ready-timeout", "inf", "expected a finite number of seconds > 0"),
    ("--mytsdb-src", "/nonexistent", "expected an existing directory"),
    ("--kubeconfig", "/nonexistent", "expected an existing file"),
    ("--seed-manifest", "/nonexistent", "expected an existing file"),
    ("--hypothesis-examples", "0", "expected a whole number >= 1"),
    ("--dashboards", "/nonexistent", "expected an existing file or directory"),
    ("--seed-end-time", "yesterday", END_TIME_FORM),
    ("--seed-end-time", "2026-11-01T00:00:00", END_TIME_FORM),
])
def test_a_bad_value_is_one_usage_error_line_naming_the_option(
        project: pytest.Pytester, flag: str, value: str, accepted: str) -> None:
    result = project.runpytest(*BASE_ARGS, flag, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error_lines(result) == [f"ERROR: {flag}: {accepted}, got {value!r}"]


def test_an_unknown_stack_lists_the_accepted_ones(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--stack", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --stack: invalid choice: 'nope' (choose from 'auto', 'kind',*"])


@pytest.mark.parametrize(("given", "missing"), [
    ((), "--target-url, --reference-url, --seed-manifest"),
    (("--target-url", "http://127.0.0.1:1"), "--reference-url, --seed-manifest"),
])
def test_stack_endpoints_without_its_urls_is_a_usage_error_not_an_all_skip(
        project: pytest.Pytester, given: tuple[str, ...], missing: str) -> None:
    result = project.runpytest(*BASE_ARGS, "--stack", "endpoints", *given)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    [line] = error_lines(result)
    assert line.startswith(f"ERROR: --stack endpoints needs {missing} (")


def test_stack_endpoints_from_the_environment_is_checked_too(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_STACK", "endpoints")
    result = project.runpytest(*BASE_ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--stack endpoints needs --target-url" in error_lines(result)[0]


def test_bad_environment_values_warn_in_one_line_each_and_are_ignored(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_cfg="""
def test_cfg(harness_config):
    assert (harness_config.stack, harness_config.keep_cluster, harness_config.seed) == ("auto", False, 42)
""")
    monkeypatch.setenv("HARNESS_STACK", "nope")
    monkeypatch.setenv("HARNESS_KEEP_CLUSTER", "maybe")
    monkeypatch.setenv("HARNESS_SEED", "-3")
    result = project.runpytest(*BASE_ARGS, "-q", "test_cfg.py")
    result.assert_outcomes(passed=1)
    warned = [line for line in result.errlines if line.startswith("harness: warning:")]
    assert warned == [
        "harness: warning: ignoring HARNESS_STACK='nope': expected one of auto, kind, existing, local, "
        "endpoints, docker",
        "harness: warning: ignoring HARNESS_KEEP_CLUSTER='maybe': expected one of 1/true/yes/on or "
        "0/false/no/off, got 'maybe'",
        "harness: warning: ignoring HARNESS_SEED='-3': expected a whole number >= 0, got '-3'",
    ]


def test_env_bool_and_seconds_parsers() -> None:
    values = ("1", "TRUE", " yes ", "on", "0", "false", "No", "off")
    assert [env_bool(v) for v in values] == [True] * 4 + [False] * 4
    with pytest.raises(ValueError, match="expected one of"):
        env_bool("maybe")
    assert positive_seconds("2.5") == 2.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        with pytest.raises(pytest.UsageError, match="finite number of seconds"):
            positive_seconds(bad)


@pytest.mark.parametrize("flag", ["--prometheus-bin", "--promtool-bin"])
def test_local_stack_with_a_missing_prometheus_binary_skips_naming_the_option(
        project: pytest.Pytester, flag: str) -> None:
    result = project.runpytest(*BASE_ARGS, "--stack", "local", flag, "/nonexistent/bin")
    result.assert_outcomes(skipped=1)
    [line] = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert f"stack local: {flag} /nonexistent/bin: not an executable file" in line


def test_docker_stack_without_an_engine_skips_in_one_line(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project.path}/no-engine.sock")
    result = project.runpytest(*BASE_ARGS, "--stack", "docker", "--mytsdb-image", "mytsdb:dev")
    result.assert_outcomes(skipped=1)
    [line] = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert "stack docker: docker: no Docker engine answers at unix://" in line and "DOCKER_HOST" in line


def test_report_header_names_what_reproduces_the_run(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--collect-only", "--stack", "docker", "--seed", "7",
                               "--seed-preset", "small", "--seed-end-time", "2026-10-01T00:00:00Z",
                               "--mytsdb-image", "mytsdb:dev", "--reference-image", "prom/prometheus:v2.42.0")
    result.stdout.fnmatch_lines([
        "harness: stack=docker seed=7 preset=small end-time=2026-10-01T00:00:00Z cluster-name=mytsdb-harness",
        "harness: mytsdb-image=mytsdb:dev mytsdb-src=- mytsdb-bin=- target-image=- "
        "reference-image=prom/prometheus:v2.42.0 *",
    ])


def test_report_header_defaults_are_the_stacks_defaults(project: pytest.Pytester) -> None:
    from fixtures.stacks.kube_deploy import CLUSTER_DEFAULT_PRESET

    local = f"{seeding.DEFAULT_LOCAL_PRESET}, end {seeding.DEFAULT_FIXED_END_TIME} on local/docker"
    assert local == LOCAL_DEFAULTS
    assert CLUSTER_DEFAULTS.startswith(f"{CLUSTER_DEFAULT_PRESET}, ")
    result = project.runpytest(*BASE_ARGS, "--collect-only")
    result.stdout.fnmatch_lines([f"harness: stack=auto * preset=(default) end-time=(default) "
                                 f"[[]defaults: {LOCAL_DEFAULTS}; {CLUSTER_DEFAULTS}] *"])


def test_ran_on_line_gives_the_options_that_seed_the_same_data() -> None:
    spec = build_spec("tiny", end_time="2026-11-01T00:00:00Z", seed=5)
    manifest = build_manifest(spec, digest="sha256:" + "ab" * 32)
    endpoints = Endpoints(stack="local", target_url="http://t", reference_url="http://r", manifest=manifest,
                          target_kind="prometheus")
    assert ran_on_line(endpoints) == (
        "harness: ran on stack local (target prometheus): --seed-preset tiny --seed 5 "
        "--seed-end-time 2026-11-01T00:00:00Z (digest sha256:abababababab)")


def test_pytest_help_shows_placeholders_and_env_names(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:pytest-kind-ng", "-p", "fixtures.plugin", "--help")
    result.stdout.fnmatch_lines(["MyTSDB integration harness:", "*--mytsdb-src=PATH*", "*--target-url=URL*",
                                 "*--ready-timeout=S*"])
    assert "HARNESS_READY_TIMEOUT" in result.stdout.str()


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus not on PATH (Debian package prometheus)")
def test_remote_write_into_a_prometheus_without_out_of_order_window_says_what_to_set(tmp_path: Path) -> None:
    """The README's remote-write example against a stock Prometheus: the error names the missing setting."""
    with PrometheusProcess(remote_write_receiver=True) as prom:
        done = subprocess.run([sys.executable, "-m", "seeder", "--preset", "tiny", "--end-time",
                               "2026-11-01T00:00:00Z", "--remote-write", prom.remote_write_url, "--quiet"],
                              capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "HTTP 400: out of bounds" in line and "storage.tsdb.out_of_order_time_window" in line
