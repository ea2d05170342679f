"""The root filesystem as a listing, for checking that a build is reproducible: the same
inputs (this tree, SOURCE_DATE_EPOCH and the mirror's package versions, which the
manifest records) give the same listing, so the same digest."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from spicebox.system.update import sha256_of


def clamp_mtimes(root: Path, epoch: int) -> None:
    """Files made during the build (by maintainer scripts, pip, the initramfs) carry the
    build's time: they get ``epoch`` instead; the packages' own, older times stay."""
    for path in _walk(root):
        info = path.lstat()
        if info.st_mtime > epoch:
            os.utime(path, (epoch, epoch), follow_symlinks=False)


def listing(root: Path) -> Iterator[str]:
    """One line per file: its type and mode, owner, time, and content (a digest, a link's
    target, a device's numbers), sorted by path."""
    for path in _walk(root):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            content = sha256_of(path)
        elif stat.S_ISLNK(info.st_mode):
            content = "-> " + os.readlink(path)
        elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            content = f"{os.major(info.st_rdev)},{os.minor(info.st_rdev)}"
        else:
            content = "-"
        yield (f"{info.st_mode:o} {info.st_uid}:{info.st_gid} {int(info.st_mtime)} "
               f"{content} /{path.relative_to(root)}")


def _walk(directory: Path) -> Iterator[Path]:
    """``directory`` and everything under it, in order, links not followed."""
    yield directory
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        else:
            yield Path(entry.path)
