"""The image rig: a board's disk image booted the way `make test-image` boots it (the
board's QEMU machine, UEFI firmware with a fresh copy of its variables, the disk on
virtio), changed beforehand the way an administrator does from a PC, and its screen
compared with a server's."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from imagebuild.boards import load
from imagebuild.plan import Partition, plan

from spicebox.codecs.pixels import to_rgb
from spicebox.system.update import Device, install
from spicebox.ui.pages.home import HomePage
from spicebox.ui.paint import BACKGROUND

from .qemu import QemuServer
from .ui import UiDriver

OUT = Path(__file__).parents[2] / "out" / "qemu-x86_64"
IMAGE = OUT / "disk.img"  # made by `make image BOARD=qemu-x86_64`
ARM64_IMAGE = OUT.with_name("qemu-arm64") / "disk.img"
# (The same for both QEMU boards.)
PARTITIONS = {part.label: part for part in plan(load("qemu-x86_64")).partitions}
POINTER = 32  # the fbdev presenter draws its arrow in the top-left corner


def board_qemu(board: str) -> str:
    """The QEMU system emulator ``board`` runs under."""
    return str(load(board).qemu["binary"])


def board_vm(board: str, disk: Path, scratch: Path, snapshot: bool = True,
             bios: bool = False) -> list[str]:
    """QEMU's arguments for ``board`` booting ``disk`` (not written with ``snapshot``):
    with its UEFI firmware, or with ``bios`` QEMU's own BIOS (SeaBIOS)."""
    qemu = load(board).qemu
    firmware = Path(qemu["firmware"])
    variables = scratch / "vars.fd"
    shutil.copy(firmware.with_name(firmware.name.replace("CODE", "VARS")), variables)
    uefi = ["-drive", f"if=pflash,format=raw,readonly=on,file={firmware}",
            "-drive", f"if=pflash,format=raw,file={variables}"]
    return [*qemu["args"], *([] if bios else uefi),
            "-drive", f"file={disk},if=virtio,format=raw{',snapshot=on' if snapshot else ''}"]


def power_off(vm: QemuServer, timeout: float = 120.0) -> None:
    """The power button (ACPI): systemd shuts down cleanly, and QEMU exits. Pressed again
    every 10 s: a press before the system listens for it (early in a boot) is lost."""
    assert vm.qmp is not None and vm.process is not None
    deadline = time.monotonic() + timeout
    while True:
        vm.qmp.execute("system_powerdown")
        try:
            vm.process.wait(min(10.0, max(0.0, deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise


def copy_of_image(tmp_path: Path, grow_mib: int = 0, image: Path = IMAGE) -> Path:
    disk = tmp_path / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(image), str(disk)], check=True)
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


def preconfigured_for(server: QemuServer, tmp_path: Path, image: Path = IMAGE) -> Path:
    """A copy of the image with spicebox.vv on its FAT partition, the way an administrator
    does it from any PC, naming ``server`` as the thin client's own QEMU network reaches
    this machine: 10.0.2.2."""
    disk = copy_of_image(tmp_path, image=image)
    vv = tmp_path / "spicebox.vv"
    vv.write_text(f"[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport={server.port}\n"
                  f"title=Lab desktop\n")
    subprocess.run(["mcopy", "-i", esp(disk), str(vv), "::spicebox.vv"], check=True)
    return disk


def wait_for_screen(qemu: QemuServer, expected: Callable[[int, int], np.ndarray],
                    timeout: float, what: str,
                    seen: Callable[[np.ndarray], None] | None = None) -> float:
    """Seconds until the VM's screen shows ``expected(width, height)`` (the pointer's
    corner aside); ``seen`` is shown every screen before."""
    started = time.monotonic()
    while True:
        shown = qemu.screendump().copy()
        if seen is not None:
            seen(shown)
        height, width, _ = shown.shape
        wanted = expected(width, height)
        for image in (shown, wanted):
            image[:POINTER, :POINTER] = 0
        if np.array_equal(shown, wanted):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"the screen never showed {what}"
        time.sleep(1)


def home_screen(tmp_path: Path) -> Callable[[int, int], np.ndarray]:
    ui = UiDriver(tmp_path / "config", kiosk=True)
    ui.open(HomePage(ui.app))

    def home(width: int, height: int) -> np.ndarray:
        ui.app.resize(width, height)
        return to_rgb(ui.render())
    return home


def is_splash(shown: np.ndarray) -> bool:
    """The boot splash: the setup UI's background (where setup has its header, at the
    top) with the light text of the name across the middle."""
    height = shown.shape[0]
    middle = shown[height * 11 // 24:height * 13 // 24]
    return bool((shown[:height // 4] == BACKGROUND).all()
                and ((middle > 200).all(axis=2)).sum() > 100)


def read_partition(disk: Path, part: Partition, out: Path) -> Path:
    subprocess.run(["dd", f"if={disk}", f"of={out}", "bs=1M", f"skip={part.start_mib}",
                    f"count={part.size_mib}", "status=none", "conv=sparse"], check=True)
    return out


def loader_entries(disk: Path) -> list[str]:
    listed = subprocess.run(["mdir", "-b", "-i", esp(disk), "::/loader/entries"],
                            capture_output=True, text=True, check=True).stdout
    return sorted(Path(line).name for line in listed.split())


def install_update(disk: Path, tmp_path: Path, out: Path = OUT, bios: bool = False) -> str:
    """What `spicebox update install OUT/update.tar` does on a box running slot A (started
    by UEFI, or by a BIOS), done to its disk image (see install_into)."""
    return install_into(disk, tmp_path, out, boot=esp(disk),
                        loader="syslinux.cfg" if bios else "loader",
                        cmdline="root=PARTLABEL=root-a ro\n", root_b=PARTITIONS["root-b"],
                        uefi=not bios)


def install_into(disk: Path, tmp_path: Path, out: Path, *, boot: str, loader: str,
                 cmdline: str, root_b: Partition, uefi: bool) -> str:
    """What `spicebox update install OUT/update.tar` does on a box running slot A (its
    kernel's ``cmdline``; started by UEFI or not), done to its disk image: the real code,
    on the boot partition's (``boot``, mtools' name for it) ``loader`` files copied out
    and back, and slot B's partition as a file placed with dd. Returns the file that
    makes slot B boot."""
    files = tmp_path / "boot"
    files.mkdir()
    subprocess.run(["mcopy", "-s", "-i", boot, f"::/{loader}", str(files)], check=True)
    (tmp_path / "cmdline").write_text(cmdline)
    manifest = json.loads((out / "manifest.json").read_text())
    (tmp_path / "release.json").write_text(json.dumps(
        {key: manifest[key] for key in ("board", "version", "build")}))
    device = Device(boot=files, cmdline=tmp_path / "cmdline", disks=tmp_path / "dev",
                    release=tmp_path / "release.json",
                    efi=tmp_path if uefi else tmp_path / "no-efi")  # there: UEFI started it
    slot_b = device.slot_device("b")
    slot_b.parent.mkdir(parents=True)
    with slot_b.open("wb") as f:
        f.truncate(root_b.size_mib * 1024 * 1024)
    with (out / "update.tar").open("rb") as bundle:
        entry = install(bundle, device).entry
    subprocess.run(["mcopy", "-s", "-o", "-i", boot, str(files / "b"), str(files / loader),
                    "::/"], check=True)
    subprocess.run(["dd", f"if={slot_b}", f"of={disk}", "bs=1M", f"seek={root_b.start_mib}",
                    "conv=notrunc,sparse", "status=none"], check=True)
    return entry
