"""Content tags: a hash of exactly what Docker would send, so reruns skip builds and loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixtures.stacks.images import (
    ImageSpec,
    content_tag,
    context_files,
    image_ref,
    is_ignored,
    parse_dockerignore,
)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.cc").write_text("int main() { return 0; }\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.o").write_text("object\n")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM scratch\nCOPY src /src\n")
    (tmp_path / ".dockerignore").write_text("# build trees are not context\nbuild\n*.log\n")
    return tmp_path


def spec(ctx: Path, **kw: object) -> ImageSpec:
    return ImageSpec("mytsdb-harness/mytsdb", ctx, ctx / "docker" / "Dockerfile", **kw)  # type: ignore[arg-type]


def test_tag_is_stable_hex_and_never_latest(context: Path) -> None:
    tag = content_tag(spec(context))
    assert re.fullmatch(r"h-[0-9a-f]{16}", tag)
    assert content_tag(spec(context)) == tag
    assert image_ref(spec(context)) == f"mytsdb-harness/mytsdb:{tag}"
    assert not image_ref(spec(context)).endswith(":latest")


@pytest.mark.parametrize("change", ["source", "dockerfile", "new_file", "exec_bit", "build_arg"])
def test_tag_changes_with_every_build_input(context: Path, change: str) -> None:
    before = content_tag(spec(context))
    extra: dict[str, object] = {}
    if change == "source":
        (context / "src" / "main.cc").write_text("int main() { return 1; }\n")
    elif change == "dockerfile":
        (context / "docker" / "Dockerfile").write_text("FROM scratch\nCOPY src /srv\n")
    elif change == "new_file":
        (context / "src" / "util.h").write_text("#pragma once\n")
    elif change == "exec_bit":
        (context / "src" / "main.cc").chmod(0o755)
    else:
        extra["build_args"] = (("BUILD_TYPE", "Release"),)
    assert content_tag(spec(context, **extra)) != before


def test_ignored_and_vcs_files_do_not_change_the_tag(context: Path) -> None:
    before = content_tag(spec(context))
    (context / "build" / "out.o").write_text("rebuilt object\n")
    (context / "make.log").write_text("noise\n")
    (context / ".git").mkdir()
    (context / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert content_tag(spec(context)) == before
    assert "build/out.o" not in context_files(context)
    assert ".git/HEAD" not in context_files(context)


def test_negation_reincludes_inside_an_excluded_tree(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "keep.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "drop.py").write_text("y = 2\n")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "keep.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "big.bin").write_bytes(b"\0" * 10)
    (tmp_path / ".dockerignore").write_text("*\n!pkg/sub/\n**/__pycache__\n")
    assert context_files(tmp_path) == ["pkg/sub/keep.py"]


@pytest.mark.parametrize(("path", "ignored"), [
    ("seeder/cli.py", False), ("seeder/__pycache__/cli.pyc", True), ("README.md", True),
    ("manifests/sample-app/sample_app.py", False), ("manifests/sample-app/Dockerfile", True),
])
def test_the_repos_own_dockerignore_rules(path: str, ignored: bool) -> None:
    rules = parse_dockerignore((Path(__file__).parents[3] / ".dockerignore").read_text())
    assert is_ignored(path, rules) is ignored
