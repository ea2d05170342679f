"""`make test-image`: the qemu-x86_64 image (built by `make image`) boots under QEMU with
UEFI firmware, and on first boot, with nothing configured, the kiosk shows setup."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from imagebuild.boards import load

from spicebox.codecs.pixels import to_rgb
from spicebox.ui.pages.home import HomePage
from tests.rig.qemu import QemuServer
from tests.rig.ui import UiDriver

IMAGE = Path(__file__).parents[2] / "out" / "qemu-x86_64" / "disk.img"
BOOT_TIMEOUT = 300.0  # TCG, no KVM: about a minute and a half here
POINTER = 32  # the fbdev presenter draws its arrow in the top-left corner

pytestmark = pytest.mark.skipif(not IMAGE.is_file(),
                                reason="run `make test-image` (it builds the image first)")


def test_first_boot_shows_setup_on_the_screen(tmp_path: Path) -> None:
    board = load("qemu-x86_64")
    firmware = Path(board.qemu["firmware"])
    variables = tmp_path / "vars.fd"
    shutil.copy(firmware.with_name(firmware.name.replace("CODE", "VARS")), variables)
    args = [*board.qemu["args"],
            "-drive", f"if=pflash,format=raw,readonly=on,file={firmware}",
            "-drive", f"if=pflash,format=raw,file={variables}",
            "-drive", f"file={IMAGE},if=virtio,format=raw,snapshot=on"]
    with QemuServer(args, serial=True, memory=1024) as qemu:
        started = time.monotonic()
        while True:
            shown = qemu.screendump().copy()
            height, width, _ = shown.shape
            ui = UiDriver(tmp_path / "config", (width, height), kiosk=True)
            ui.open(HomePage(ui.app))
            expected = to_rgb(ui.render())
            for image in (shown, expected):
                image[:POINTER, :POINTER] = 0
            if np.array_equal(shown, expected):
                break
            assert time.monotonic() - started < BOOT_TIMEOUT, \
                "the kiosk never showed setup: see the serial console"
            time.sleep(2)
        print(f"power-on to setup on the screen: {time.monotonic() - started:.0f} s (TCG)")
