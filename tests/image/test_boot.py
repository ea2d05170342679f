"""`make test-image`: the qemu-x86_64 image (built by `make image`) boots under QEMU with
UEFI firmware, and on first boot, with nothing configured, the kiosk shows setup."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from evdev import ecodes as e
from imagebuild.boards import load
from imagebuild.plan import plan

from spicebox.codecs.pixels import to_rgb
from spicebox.ui.pages.home import HomePage
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.ui import UiDriver

IMAGE = Path(__file__).parents[2] / "out" / "qemu-x86_64" / "disk.img"
BOOT_TIMEOUT = 300.0  # TCG, no KVM: about a minute and a half here
POINTER = 32  # the fbdev presenter draws its arrow in the top-left corner

pytestmark = pytest.mark.skipif(not IMAGE.is_file(),
                                reason="run `make test-image` (it builds the image first)")


def thin_client(tmp_path: Path, disk: Path = IMAGE) -> list[str]:
    """QEMU's arguments for the qemu-x86_64 board booting ``disk`` (never written)."""
    board = load("qemu-x86_64")
    firmware = Path(board.qemu["firmware"])
    variables = tmp_path / "vars.fd"
    shutil.copy(firmware.with_name(firmware.name.replace("CODE", "VARS")), variables)
    return [*board.qemu["args"],
            "-drive", f"if=pflash,format=raw,readonly=on,file={firmware}",
            "-drive", f"if=pflash,format=raw,file={variables}",
            "-drive", f"file={disk},if=virtio,format=raw,snapshot=on"]


def wait_for_screen(qemu: QemuServer, expected: Callable[[int, int], np.ndarray],
                    timeout: float, what: str) -> float:
    """Seconds until the VM's screen shows ``expected(width, height)`` (the pointer's
    corner aside)."""
    started = time.monotonic()
    while True:
        shown = qemu.screendump().copy()
        height, width, _ = shown.shape
        wanted = expected(width, height)
        for image in (shown, wanted):
            image[:POINTER, :POINTER] = 0
        if np.array_equal(shown, wanted):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"the screen never showed {what}"
        time.sleep(1)


def test_first_boot_shows_setup_and_takes_keys_from_the_keyboard(tmp_path: Path) -> None:
    """Unconfigured, the kiosk shows setup; keys typed on the VM's keyboard (its kernel's
    evdev device, read by the client) work it."""
    ui = UiDriver(tmp_path / "config", kiosk=True)

    def page(width: int, height: int) -> np.ndarray:
        ui.app.resize(width, height)
        return to_rgb(ui.render())
    ui.open(HomePage(ui.app))
    with QemuServer(thin_client(tmp_path), serial=True, memory=1024) as qemu:
        seconds = wait_for_screen(qemu, page, BOOT_TIMEOUT, "setup")
        print(f"power-on to setup on the screen: {seconds:.0f} s (TCG)")
        assert qemu.qmp is not None
        for down in (True, False):  # Enter, on "Connection profiles" (it has the focus)
            qemu.qmp.execute("input-send-event", events=[
                {"type": "key", "data": {"down": down, "key": {"type": "qcode",
                                                               "data": "ret"}}}])
        ui.key(e.KEY_ENTER)
        assert ui.page.title == "Connection profiles"
        wait_for_screen(qemu, page, 30, "the profiles page")


def test_a_vv_file_on_the_boot_partition_connects_the_kiosk(tmp_path: Path) -> None:
    """Preconfigured the way an administrator does it from any PC: spicebox.vv on the
    FAT partition. The box boots, stores it, and shows the server's screen (a SeaBIOS
    QEMU on this machine, which the thin client reaches on its own network as 10.0.2.2)."""
    disk = tmp_path / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(IMAGE), str(disk)], check=True)
    with QemuServer(VGA_DEVICES["std"]) as server:
        vv = tmp_path / "spicebox.vv"
        vv.write_text(f"[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport={server.port}\n"
                      f"title=Lab desktop\n")
        esp = f"{disk}@@{plan(load('qemu-x86_64')).partitions[0].start_mib}M"
        subprocess.run(["mcopy", "-i", esp, str(vv), "::spicebox.vv"], check=True)
        with QemuServer(thin_client(tmp_path, disk), serial=True, memory=1024,
                        nic="user,model=virtio-net-pci") as client:
            started = time.monotonic()
            while True:
                expected = server.screendump()
                height, width, _ = expected.shape
                shown = client.screendump()[:height, :width]
                if shown.shape == expected.shape:  # (firmware and boot screens are smaller)
                    differing = np.argwhere((shown != expected).any(axis=2))
                    # SeaBIOS's text cursor blinks: its cell may differ, nothing else.
                    if len(differing) == 0 or np.ptp(differing, axis=0).max() < 16:
                        break
                assert time.monotonic() - started < BOOT_TIMEOUT, \
                    "the kiosk never showed the server's screen"
                time.sleep(2)
            print(f"power-on to the session's first frame: {time.monotonic() - started:.0f} s")


def test_first_boot_grows_the_data_partition_and_makes_the_device_key(
        tmp_path: Path) -> None:
    """Written to a larger disk (as to any SD card), the first boot grows the data
    partition and its file system to the end, and makes the device's identity key."""
    disk = tmp_path / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(IMAGE), str(disk)], check=True)
    with disk.open("r+b") as f:
        f.truncate(disk.stat().st_size + 1024 * 1024 * 1024)
    ui = UiDriver(tmp_path / "config", kiosk=True)
    ui.open(HomePage(ui.app))

    def home(width: int, height: int) -> np.ndarray:
        ui.app.resize(width, height)
        return to_rgb(ui.render())
    args = [a.replace(",snapshot=on", "") for a in thin_client(tmp_path, disk)]
    with QemuServer(args, serial=True, memory=1024) as qemu:
        wait_for_screen(qemu, home, BOOT_TIMEOUT, "setup")
        assert qemu.qmp is not None
        qemu.qmp.execute("system_powerdown")  # ACPI: systemd shuts down cleanly
        assert qemu.process is not None
        qemu.process.wait(120)
    table = json.loads(subprocess.run(["sfdisk", "-J", str(disk)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]
    data = next(p for p in table["partitions"] if p.get("name") == "data")
    sectors = disk.stat().st_size // 512
    assert data["start"] + data["size"] >= sectors - 2048 - 34  # to the end (GPT backup)
    part = tmp_path / "data.img"
    subprocess.run(["dd", f"if={disk}", f"of={part}", "bs=512", f"skip={data['start']}",
                    f"count={data['size']}", "status=none"], check=True)
    info = subprocess.run(["dumpe2fs", "-h", str(part)], capture_output=True, text=True,
                          check=True).stdout
    blocks = int(next(line.split()[-1] for line in info.splitlines()
                      if line.startswith("Block count:")))
    block_size = int(next(line.split()[-1] for line in info.splitlines()
                          if line.startswith("Block size:")))
    assert blocks * block_size > 1000 * 1024 * 1024  # the file system grew with it
    key = subprocess.run(["debugfs", "-R", "stat /identity.key", str(part)],
                         capture_output=True, text=True, check=False).stdout
    assert "Mode:  0600" in key, key
