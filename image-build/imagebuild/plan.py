"""What an image of a board is made of, decided before anything is built: the packages
and the partitions. Pure, so every board's plan is checked in the default test suite
(the build itself, minutes of mmdebstrap, runs in ``make image``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .boards import Board

SUITE = "bookworm"
# Microcode and Wi-Fi firmware are in non-free-firmware (since Debian 12, part of the
# official images too).
COMPONENTS = ("main", "non-free-firmware")
# Every image: the init system and the services the client talks to over D-Bus, and the
# libraries the Python client loads at run time (SDL's KMS driver opens DRM, GBM and EGL;
# the LZ4 and Opus decoders and the keyboard layouts are ctypes bindings; pyalsaaudio
# loads libasound, pyusb libusb, and alsa-utils keeps the mixer's levels across boots);
# e2fsck for the data partition (in the initramfs), zstd for updates (spicebox update
# install), plymouth for the boot splash (its initramfs hook needs fontconfig's
# configuration for a graphical theme); python-evdev has no wheels, Debian's is used;
# openssh-server for administrators, off unless provisioning turns it on.
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "udev", "dbus", "polkitd", "network-manager",
    "systemd-timesyncd", "kmod", "ca-certificates", "python3", "python3-venv",
    "python3-evdev", "e2fsprogs", "zstd", "plymouth", "fontconfig",
    "libdrm2", "libgbm1", "libegl1", "libgles2", "libegl-mesa0", "libgl1-mesa-dri",
    "liblz4-1", "libxkbcommon0", "xkb-data", "libasound2", "alsa-utils", "libopus0",
    "libturbojpeg0", "libusb-1.0-0",
    "fonts-dejavu-core",
    "openssh-server",
)
# GPT partition types (the Discoverable Partitions Specification's, so systemd finds the
# root by itself) and their MBR equivalents.
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ROOT = {"amd64": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
        "arm64": "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"}
LINUX_DATA = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
DOS_FAT32_LBA, DOS_LINUX = "c", "83"
# Every board's kernel command line ends with these: the boot splash on the display (and
# not given up for the serial console), no blinking cursor before it.
FIRMWARE_CMDLINE = "splash plymouth.ignore-serial-consoles vt.global_cursor_default=0"
ALIGN_MIB = 1  # where the first partition starts, and what every size is a multiple of
# An MBR's partitions are named by the disk's identifier: root=PARTUUID=<id>-02. It is the
# board's, not the build's, so that the root of a later build finds the boot partition of
# a card written with an earlier one.
MBR_PACKAGES = ("fdisk",)  # sfdisk: the data partition grows at first boot (grow-data)


@dataclass(frozen=True)
class Partition:
    label: str       # the GPT partition name and the filesystem label
    type: str        # GPT type GUID, or MBR type byte (hex)
    filesystem: str  # vfat or ext4
    start_mib: int
    size_mib: int

    @property
    def end_mib(self) -> int:
        return self.start_mib + self.size_mib


@dataclass(frozen=True)
class Plan:
    board: Board
    packages: tuple[str, ...]
    partitions: tuple[Partition, ...]

    @property
    def cmdline(self) -> str:
        """The kernel's arguments after the slot's own (root=, ro)."""
        return f"{self.board.cmdline} {FIRMWARE_CMDLINE}"

    @property
    def mbr(self) -> bool:
        return self.board.partitions.table == "dos"

    @property
    def disk_id(self) -> str:
        """The MBR's disk identifier (8 hex digits), the same for every build of a board."""
        return hashlib.sha256(f"spicebox:{self.board.name}".encode()).hexdigest()[:8]

    def source(self, label: str) -> str:
        """How the system names a partition (fstab, ``root=``): by its GPT name, or on an
        MBR by the disk's identifier and its number."""
        if not self.mbr:
            return f"PARTLABEL={label}"
        number = [part.label for part in self.partitions].index(label) + 1
        return f"PARTUUID={self.disk_id}-{number:02d}"

    @property
    def disk_mib(self) -> int:
        # The GPT keeps a backup of itself in the disk's last 33 sectors: one MiB spare.
        return self.partitions[-1].end_mib + ALIGN_MIB

    def sfdisk_script(self) -> str:
        """The partition table, for ``sfdisk`` on the image file (no loop device)."""
        lines = [f"label: {self.board.partitions.table}", "unit: sectors",
                 *([f"label-id: 0x{self.disk_id}"] if self.mbr else []), ""]
        for part in self.partitions:
            entry = (f"start={part.start_mib * 2048}, size={part.size_mib * 2048}, "
                     f"type={part.type}")
            if self.board.partitions.table == "gpt":
                entry += f', name="{part.label}"'
            if self.board.bios and part.label == "boot":
                entry += ', attrs="LegacyBIOSBootable"'  # where syslinux's MBR code looks
            lines.append(entry)
        return "\n".join(lines) + "\n"


def plan(board: Board) -> Plan:
    packages = tuple(dict.fromkeys((*BASE_PACKAGES, *board.packages, *(
        MBR_PACKAGES if board.partitions.table == "dos" else ()))))
    return Plan(board, packages, _partitions(board))


def _partitions(board: Board) -> tuple[Partition, ...]:
    sizes = board.partitions
    gpt = sizes.table == "gpt"
    boot_type = ESP if gpt else DOS_FAT32_LBA
    root_type = ROOT[board.arch] if gpt else DOS_LINUX
    data_type = LINUX_DATA if gpt else DOS_LINUX
    layout = (("boot", boot_type, "vfat", sizes.boot), ("root-a", root_type, "ext4", sizes.root),
              ("root-b", root_type, "ext4", sizes.root), ("data", data_type, "ext4", sizes.data))
    found, start = [], ALIGN_MIB
    for label, kind, filesystem, size in layout:
        found.append(Partition(label, kind, filesystem, start, size))
        start += size
    return tuple(found)
