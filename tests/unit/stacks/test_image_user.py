"""Which uid:gid owns a container's tmpfs: the image's USER as Docker resolves it (no engine needed)."""

from __future__ import annotations

import io
import tarfile
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest

from fixtures.common.errors import StackStartError
from fixtures.stacks.image_user import image_user, tmpfs_options

PASSWD = "root:x:0:0:root:/root:/bin/sh\nmytsdb:x:65532:65533::/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nmytsdb:x:65533:\ndata:x:4000:\n"


class FakeClient:
    """The two docker-py calls image_user makes: the image config, and files of a created container."""

    def __init__(self, user: str, files: dict[str, str]) -> None:
        self.user, self.files, self.created = user, files, 0
        self.images = SimpleNamespace(get=lambda ref: SimpleNamespace(attrs={"Config": {"User": self.user}}))
        self.containers = SimpleNamespace(create=self.create)

    def create(self, ref: str, **_: Any) -> Any:
        self.created += 1

        def get_archive(path: str) -> tuple[list[bytes], dict[str, Any]]:
            if path not in self.files:
                raise docker.errors.NotFound(path)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                data = self.files[path].encode()
                info = tarfile.TarInfo(path.rsplit("/", 1)[1])
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            return [buf.getvalue()], {}

        return SimpleNamespace(get_archive=get_archive, remove=lambda force: None)


@pytest.mark.parametrize(("user", "expected"), [
    ("", (0, 0)), ("65532:65532", (65532, 65532)), ("mytsdb", (65532, 65533)), ("65532", (65532, 65533)),
    ("mytsdb:data", (65532, 4000)), ("4242", (4242, 0)),
])
def test_user_resolves_as_docker_does(user: str, expected: tuple[int, int]) -> None:
    client = FakeClient(user, {"/etc/passwd": PASSWD, "/etc/group": GROUP})
    assert image_user(client, "img") == expected  # type: ignore[arg-type]
    if user in ("", "65532:65532"):
        assert client.created == 0, "a numeric uid:gid needs no look into the image"


@pytest.mark.parametrize(("user", "files", "what"), [
    ("nobody-here", {"/etc/passwd": PASSWD}, "user 'nobody-here'"),
    ("mytsdb", {}, "user 'mytsdb'"),
    ("mytsdb:nogroup", {"/etc/passwd": PASSWD, "/etc/group": GROUP}, "group 'nogroup'"),
])
def test_an_undefined_name_is_a_clear_error(user: str, files: dict[str, str], what: str) -> None:
    with pytest.raises(StackStartError, match=f"image img runs as {what}.*numeric USER"):
        image_user(FakeClient(user, files), "img")  # type: ignore[arg-type]


def test_tmpfs_options_name_the_owner() -> None:
    assert tmpfs_options(65532, 65533) == "uid=65532,gid=65533"
