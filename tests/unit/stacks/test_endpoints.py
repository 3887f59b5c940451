"""The endpoints stack wraps given URLs and a manifest; missing options skip with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import StackStartError
from fixtures.stacks.endpoints import EndpointsStack
from fixtures.stacks.seeding import base_seed_args, openmetrics_files
from seeder.manifest import SeedManifest


def test_endpoints_stack_reads_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    SeedManifest(spec={}, seed=7, start_ms=0, end_ms=3_600_000, interval_ms=30_000,
                 otlp={"cluster": "otlp-0"}, sinks={"otlp": "127.0.0.1:4317"}).save(path)
    cfg = HarnessConfig(target_url="http://127.0.0.1:1", reference_url="http://127.0.0.1:2",
                        seed_manifest=path)
    with EndpointsStack(cfg) as endpoints:
        assert (endpoints.target_url, endpoints.reference_url) == ("http://127.0.0.1:1", "http://127.0.0.1:2")
        assert endpoints.manifest.seed == 7 and endpoints.target_has_otlp


def test_endpoints_stack_names_what_is_missing() -> None:
    with pytest.raises(StackStartError, match="needs --reference-url, --seed-manifest"):
        EndpointsStack(HarnessConfig(target_url="http://127.0.0.1:1")).start()


def test_local_seeding_uses_a_fixed_end_time() -> None:
    args = base_seed_args(HarnessConfig())
    assert args == ["--preset", "tiny", "--seed", "42", "--end-time", "2026-11-01T00:00:00Z"]
    assert base_seed_args(HarnessConfig(seed_preset="small", seed_end_time="1700000000"), seed=3)[1::2] == \
        ["small", "3", "1700000000"]


def test_openmetrics_files_accepts_file_or_directory(tmp_path: Path) -> None:
    (tmp_path / "om").mkdir()
    for name in ("window-2.om", "window-1.om"):
        (tmp_path / "om" / name).write_text("# EOF\n")
    assert [p.name for p in openmetrics_files(tmp_path / "om")] == ["window-1.om", "window-2.om"]
    assert openmetrics_files(tmp_path / "om" / "window-1.om") == [tmp_path / "om" / "window-1.om"]
