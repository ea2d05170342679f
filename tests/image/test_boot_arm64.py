"""`make test-image`, arm64: the qemu-arm64 image (built on this amd64 machine, its root
run through qemu-user-static) boots under QEMU's virt machine with UEFI (AAVMF): the
boot splash then setup when nothing is configured, and the server's screen when a .vv
file is on its boot partition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.rig.image import (
    ARM64_IMAGE,
    board_qemu,
    board_vm,
    home_screen,
    is_splash,
    preconfigured_for,
    wait_for_screen,
    wait_for_server_screen,
)
from tests.rig.qemu import VGA_DEVICES, QemuServer

BOARD = "qemu-arm64"
BOOT_TIMEOUT = 900.0  # arm64 emulated on x86-64 (TCG): several times slower than x86-64

pytestmark = [pytest.mark.skipif(not ARM64_IMAGE.is_file(), reason="run `make test-image`"),
              pytest.mark.timeout(2 * BOOT_TIMEOUT)]


def test_the_arm64_image_boots_into_setup(tmp_path: Path) -> None:
    splashes: list[np.ndarray] = []

    def look(shown: np.ndarray) -> None:
        if is_splash(shown):
            splashes.append(shown)
    with QemuServer(board_vm(BOARD, ARM64_IMAGE, tmp_path), binary=board_qemu(BOARD),
                    serial=True, memory=1024) as qemu:
        seconds = wait_for_screen(qemu, home_screen(tmp_path), BOOT_TIMEOUT, "setup", look)
    print(f"arm64: power-on to setup on the screen: {seconds:.0f} s (TCG)")
    assert splashes, "no boot splash before setup"


def test_the_arm64_image_connects_to_the_server_its_vv_file_names(tmp_path: Path) -> None:
    with QemuServer(VGA_DEVICES["std"]) as server, \
            QemuServer(board_vm(BOARD, preconfigured_for(server, tmp_path, ARM64_IMAGE),
                                tmp_path),
                       binary=board_qemu(BOARD), serial=True, memory=1024,
                       nic="user,model=virtio-net-pci") as client:
        seconds = wait_for_server_screen(client, server, BOOT_TIMEOUT, "the server's screen")
    print(f"arm64: power-on to the session's first frame: {seconds:.0f} s (TCG)")
