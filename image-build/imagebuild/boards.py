"""Boards as data: ``board/<name>/board.toml`` says what differs between devices (the
architecture, the kernel and firmware packages, how it boots, its partition sizes); adding
a board is adding such a folder. Everything is checked here, once, with errors that name
the file and the key."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOARD_DIR = Path(__file__).resolve().parents[2] / "board"
ARCHES = ("amd64", "arm64")
BOOT_METHODS = ("uefi", "raspberrypi")
TABLES = ("gpt", "dos")
DISPLAY_BACKENDS = ("auto", "kmsdrm", "fbdev")


class BoardError(Exception):
    """A board that does not exist or whose data is wrong: the message says which."""


@dataclass(frozen=True)
class Partitions:
    table: str
    boot: int  # MiB
    root: int  # MiB, each of the two slots
    data: int  # MiB at build time; grown to the disk's end at first boot


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    arch: str
    packages: tuple[str, ...]
    boot_method: str
    cmdline: str
    boot_config: tuple[str, ...]  # config.txt lines (raspberrypi)
    device_trees: tuple[str, ...]  # globs in the kernel's /usr/lib/linux-image-* (raspberrypi)
    bios: bool  # also boots from a BIOS (syslinux), besides UEFI
    partitions: Partitions
    display_backend: str  # the image's display.backend default
    qemu: dict[str, Any]  # how the image rig boots it (QEMU boards only)
    unbuildable: str  # why its image cannot be built yet; empty when it can


def names(directory: Path = BOARD_DIR) -> list[str]:
    return sorted(p.parent.name for p in directory.glob("*/board.toml"))


def load(name: str, directory: Path = BOARD_DIR) -> Board:
    path = directory / name / "board.toml"
    if not path.is_file():
        raise BoardError(f"no board {name!r}: the boards are {', '.join(names(directory))} "
                         f"(each a folder of {directory})")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BoardError(f"{path}: not valid TOML: {exc}") from None
    read = _Reader(path, doc)
    boot, parts = read.table("boot"), read.table("partitions")
    board = Board(
        name=name,
        description=read.text(doc, "description"),
        arch=read.choice(doc, "arch", ARCHES),
        packages=read.texts(doc, "packages"),
        boot_method=read.choice(boot, "method", BOOT_METHODS, "boot."),
        cmdline=read.text(boot, "cmdline", "boot."),
        boot_config=read.texts(boot, "config", "boot.", required=False),
        device_trees=read.texts(boot, "device_trees", "boot.", required=False),
        bios=read.flag(boot, "bios", "boot."),
        partitions=Partitions(read.choice(parts, "table", TABLES, "partitions."),
                              *(read.mib(parts, key) for key in ("boot", "root", "data"))),
        display_backend=read.choice(doc.get("display", {"backend": "auto"}), "backend",
                                    DISPLAY_BACKENDS, "display."),
        qemu=dict(doc.get("qemu", {})),
        unbuildable=str(doc.get("unbuildable", "")),
    )
    if board.boot_method == "raspberrypi" and board.partitions.table != "dos":
        raise BoardError(f"{path}: partitions.table must be \"dos\": the Raspberry Pi "
                         f"firmware reads partition 1 of an MBR")
    if board.bios and (board.arch, board.boot_method, board.partitions.table) != (
            "amd64", "uefi", "gpt"):
        raise BoardError(f"{path}: boot.bios is for amd64 boards that boot by uefi from a "
                         f"gpt disk (syslinux shares their EFI system partition)")
    if board.boot_method == "raspberrypi" and not board.device_trees:
        raise BoardError(f"{path}: boot.device_trees must name the board's device trees "
                         f"(the Raspberry Pi firmware loads them from the slot's folder)")
    return board


class _Reader:
    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path, self.doc = path, doc

    def _fail(self, key: str, what: str) -> BoardError:
        return BoardError(f"{self.path}: {key} {what}")

    def table(self, key: str) -> dict[str, Any]:
        value = self.doc.get(key)
        if not isinstance(value, dict):
            raise self._fail(f"[{key}]", "is missing")
        return value

    def text(self, doc: dict[str, Any], key: str, where: str = "") -> str:
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(where + key, "must be text")
        return value

    def texts(self, doc: dict[str, Any], key: str, where: str = "",
              required: bool = True) -> tuple[str, ...]:
        value = doc.get(key, None if required else [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._fail(where + key, "must be a list of text")
        return tuple(value)

    def flag(self, doc: dict[str, Any], key: str, where: str = "") -> bool:
        value = doc.get(key, False)
        if not isinstance(value, bool):
            raise self._fail(where + key, "must be true or false")
        return value

    def choice(self, doc: dict[str, Any], key: str, choices: tuple[str, ...],
               where: str = "") -> str:
        value = doc.get(key)
        if value not in choices:
            raise self._fail(where + key, f"must be one of {', '.join(choices)}")
        return str(value)

    def mib(self, doc: dict[str, Any], key: str) -> int:
        value = doc.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 16 <= value <= 65536:
            raise self._fail(f"partitions.{key}", "must be a size in MiB (16 to 65536)")
        return value
