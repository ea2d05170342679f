"""`make test-image`: the build is reproducible. The qemu-x86_64 image built again from
this tree, with the same SOURCE_DATE_EPOCH and the mirror in the same state, has the same
root filesystem, file by file (out/BOARD/rootfs.list: type, mode, owner, time, content),
and the same kernel and initramfs. (Not the same ext4 image, byte for byte: mke2fs -d
copies each file's ctime, the time it was made, which nothing can set.)"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig.image import IMAGE, OUT

pytestmark = [pytest.mark.skipif(not IMAGE.is_file(), reason="run `make test-image`"),
              pytest.mark.timeout(1800)]


def test_building_again_gives_the_same_image(tmp_path: Path) -> None:
    first = json.loads((OUT / "manifest.json").read_text())
    again = tmp_path / "again"
    subprocess.run([sys.executable, "-m", "imagebuild", "build", "qemu-x86_64", "--out",
                    str(again)], check=True, capture_output=True,
                   env={**os.environ, "SOURCE_DATE_EPOCH": str(first["build"]),
                        "PYTHONPATH": str(Path(__file__).parents[2] / "image-build")})
    second = json.loads((again / "manifest.json").read_text())
    if second["packages"] != first["packages"]:
        pytest.skip("the Debian mirror changed between the two builds: not the same inputs")
    changed = difflib.unified_diff((OUT / "rootfs.list").read_text().splitlines(),
                                   (again / "rootfs.list").read_text().splitlines(),
                                   "first build", "second build", lineterm="", n=0)
    assert second["root_tree"] == first["root_tree"], "\n".join(list(changed)[:40])
    for name in ("linux", "initrd"):
        assert second["files"][name] == first["files"][name], name
