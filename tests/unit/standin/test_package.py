"""The stand-in's pieces without processes: flags, run packing, the one-double rule, import rule."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from standin.errors import FlagError
from standin.flags import Flags, parse_flags
from standin.forward import runs_to_batches
from standin.otlp import le_text

PACKAGE = Path(__file__).parents[3] / "standin"


def test_flags_are_mytsdbs_with_its_defaults() -> None:
    assert parse_flags([]) == Flags(9090, 8815, "0.0.0.0:4317", "/tmp/tsdb", "info")
    flags = parse_flags(["--data-dir", "/data", "--address", "127.0.0.1:1", "--arrow-port", "0"])
    assert (flags.data_dir, flags.address, flags.arrow_port) == ("/data", "127.0.0.1:1", 0)
    assert flags.by_flag()["--http-port"] == 9090
    for argv, needle in ((["-h"], "unknown flag '-h'"), (["--data-dir"], "needs a value"),
                         (["--arrow-port", "x"], "bad value 'x' for --arrow-port"),
                         (["--address", ":4317"], "HOST:PORT")):
        with pytest.raises(FlagError, match=needle):
            parse_flags(argv)


def test_runs_become_one_batch_per_metric_with_nulls_for_absent_labels() -> None:
    ts = np.array([1000, 2000], np.int64)
    runs = [("a", (("pod", "p"),), ts, np.array([1.0, 2.0])),
            ("b", (("x", ""),), ts[:1], np.array([3.0])),  # an empty value is no label (Prometheus)
            ("a", (("le", "+Inf"), ("pod", "q")), ts, np.array([4.0, 5.0])),
            ("c", (), ts[:0], np.array([]))]  # nothing visible: nothing sent
    batches = runs_to_batches(runs)
    assert [(b.metric, b.series) for b in batches] == [("a", 2), ("b", 1)]
    assert batches[0].batch.to_pydict() == {"timestamp": [1000, 2000, 1000, 2000],
                                            "value": [1.0, 2.0, 4.0, 5.0],
                                            "le": [None, None, "+Inf", "+Inf"], "pod": ["p", "p", "q", "q"]}
    assert batches[1].batch.schema.names == ["timestamp", "value"]


def test_le_is_written_as_the_seeder_writes_it() -> None:
    assert [le_text(b) for b in (0.005, 1.0, float("inf"))] == ["0.005", "1.0", "+Inf"]


def test_there_is_one_otlp_contract_and_one_mytsdb_double() -> None:
    from standin import otlp
    from tests.unit.support import otlp_receiver, tsdb_server

    assert otlp_receiver.contract_violation is otlp.contract_violation
    assert "standin.server" in {n.module for n in ast.walk(ast.parse(Path(tsdb_server.__file__).read_text()))
                                if isinstance(n, ast.ImportFrom)}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_standin_imports_only_seeder_and_third_party(path: Path) -> None:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    assert not found & {"fixtures", "tests"}, f"{path.name} imports {sorted(found & {'fixtures', 'tests'})}"
