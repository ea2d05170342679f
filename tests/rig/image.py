"""The image rig: a board's disk image booted the way `make test-image` boots it (the
board's QEMU machine, UEFI firmware with a fresh copy of its variables, the disk on
virtio), changed beforehand the way an administrator does from a PC, and its screen
compared with a server's."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from imagebuild.boards import load
from imagebuild.plan import plan

from .qemu import QemuServer

OUT = Path(__file__).parents[2] / "out" / "qemu-x86_64"
IMAGE = OUT / "disk.img"  # made by `make image BOARD=qemu-x86_64`
PARTITIONS = {part.label: part for part in plan(load("qemu-x86_64")).partitions}


def board_vm(board: str, disk: Path, scratch: Path, snapshot: bool = True) -> list[str]:
    """QEMU's arguments for ``board`` booting ``disk`` (not written with ``snapshot``)."""
    qemu = load(board).qemu
    firmware = Path(qemu["firmware"])
    variables = scratch / "vars.fd"
    shutil.copy(firmware.with_name(firmware.name.replace("CODE", "VARS")), variables)
    return [*qemu["args"],
            "-drive", f"if=pflash,format=raw,readonly=on,file={firmware}",
            "-drive", f"if=pflash,format=raw,file={variables}",
            "-drive", f"file={disk},if=virtio,format=raw{',snapshot=on' if snapshot else ''}"]


def copy_of_image(tmp_path: Path, grow_mib: int = 0) -> Path:
    disk = tmp_path / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(IMAGE), str(disk)], check=True)
    if grow_mib:
        with disk.open("r+b") as f:
            f.truncate(disk.stat().st_size + grow_mib * 1024 * 1024)
    return disk


def esp(disk: Path) -> str:
    """mtools' name for the disk's EFI system partition."""
    return f"{disk}@@{PARTITIONS['boot'].start_mib}M"


def wait_for_server_screen(client: QemuServer, server: QemuServer, timeout: float,
                           what: str) -> float:
    """Seconds until the thin client's screen shows exactly the server's screen."""
    started = time.monotonic()
    while True:
        expected = server.screendump()
        height, width, _ = expected.shape
        shown = client.screendump()[:height, :width]
        if shown.shape == expected.shape:  # (firmware and boot screens are smaller)
            differing = np.argwhere((shown != expected).any(axis=2))
            # SeaBIOS's text cursor blinks: its cell may differ, nothing else.
            if len(differing) == 0 or np.ptp(differing, axis=0).max() < 16:
                return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"the kiosk never showed {what}"
        time.sleep(0.5)


def preconfigured_for(server: QemuServer, tmp_path: Path) -> Path:
    """A copy of the image with spicebox.vv on its FAT partition, the way an administrator
    does it from any PC, naming ``server`` as the thin client's own QEMU network reaches
    this machine: 10.0.2.2."""
    disk = copy_of_image(tmp_path)
    vv = tmp_path / "spicebox.vv"
    vv.write_text(f"[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport={server.port}\n"
                  f"title=Lab desktop\n")
    subprocess.run(["mcopy", "-i", esp(disk), str(vv), "::spicebox.vv"], check=True)
    return disk
