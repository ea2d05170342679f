"""The Raspberry Pi image without a Raspberry Pi (QEMU 7.2 has no Pi 4): what the Pi
firmware does at every power-on, done here from the card's own files, then QEMU's virt
machine runs what it chose.

The firmware reads config.txt on the boot partition, finds the slot in ``os_prefix``, and
starts that folder's kernel and initramfs with its cmdline.txt. Here the same files are
read with mtools and handed to QEMU (``-kernel``, ``-initrd``, ``-append``), with
``-no-reboot``: a restart ends QEMU, and the next power-on reads config.txt again, as the
firmware would. What this does not show is the firmware itself: its own reading of
config.txt (``[all]``, ``os_prefix``, ``upstream_kernel``) and the device trees, which only
a Pi can.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from imagebuild.boards import load
from imagebuild.plan import Partition, plan

from spicebox.system import slotconfig

from .image import install_into

OUT = Path(__file__).parents[2] / "out" / "rpi4"
IMAGE = OUT / "disk.img"  # made by `make image BOARD=rpi4`
PARTITIONS: dict[str, Partition] = {part.label: part for part in plan(load("rpi4")).partitions}
# The virt machine, as the qemu-arm64 board's; its UART is ttyAMA0, not the Pi's ttyS1.
QEMU = "qemu-system-aarch64"
MACHINE = ["-machine", "virt", "-cpu", "cortex-a72", "-device", "virtio-gpu-pci"]


def boot_partition(disk: Path) -> str:
    """mtools' name for the card's boot partition."""
    return f"{disk}@@{PARTITIONS['boot'].start_mib}M"


def read_boot_file(disk: Path, name: str) -> str:
    return subprocess.run(["mtype", "-i", boot_partition(disk), f"::{name}"],
                          capture_output=True, text=True, check=True).stdout


def config(disk: Path) -> slotconfig.Naming:
    return slotconfig.parse(slotconfig.PI, read_boot_file(disk, slotconfig.PI.config))


def power_on(disk: Path, scratch: Path, serial_log: Path) -> list[str]:
    """QEMU's arguments for the slot the card's config.txt names, as the firmware
    would start it (the disk is written to)."""
    slot = config(disk).slot
    assert slot is not None, "config.txt names no slot"
    scratch.mkdir(parents=True, exist_ok=True)
    for name in ("linux", "initrd"):
        subprocess.run(["mcopy", "-o", "-i", boot_partition(disk), f"::{slot}/{name}",
                        str(scratch / name)], check=True)
    cmdline = read_boot_file(disk, f"{slot}/{slotconfig.PI.slot_file}").strip()
    return [*MACHINE, "-no-reboot", "-kernel", str(scratch / "linux"),
            "-initrd", str(scratch / "initrd"), "-append", f"{cmdline} console=ttyAMA0",
            "-serial", f"file:{serial_log}",
            "-drive", f"file={disk},if=virtio,format=raw"]


def install_update(disk: Path, tmp_path: Path, out: Path = OUT) -> str:
    """What `spicebox update install OUT/update.tar` does on a Pi running slot A, done to
    its card's image (see image.install_into)."""
    return install_into(disk, tmp_path, out, boot=boot_partition(disk), loader="config.txt",
                        cmdline=read_boot_file(disk, "a/cmdline.txt"),
                        root_b=PARTITIONS["root-b"], uefi=False)
