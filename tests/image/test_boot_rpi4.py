"""`make test-image`, Raspberry Pi 4: the rpi4 image, its slots chosen from its own
config.txt the way the Pi firmware chooses them (tests/rig/pi.py), run by QEMU's virt
machine: setup on the screen and the data partition grown to the card's end; an update
in slot B tried once and kept when it comes up; a slot B whose root does not mount, or
whose kiosk never starts, given up after that one try, back to slot A."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from spicebox.system.slotconfig import Naming
from tests.rig.image import (
    copy_of_image,
    home_screen,
    power_off,
    read_partition,
    wait_for_screen,
)
from tests.rig.pi import IMAGE, PARTITIONS, QEMU, config, install_update, power_on
from tests.rig.qemu import QemuServer

BOOT_TIMEOUT = 900.0  # arm64 emulated on x86-64 (TCG)
KEEP_TIMEOUT = 300.0  # the boot check, then `spicebox update keep` (Python, emulated)

pytestmark = [pytest.mark.skipif(not IMAGE.is_file(), reason="run `make test-image`"),
              pytest.mark.timeout(3 * BOOT_TIMEOUT)]
# SDL's KMS driver draws nothing under QEMU's virtio-gpu (board/qemu-x86_64/board.toml):
# the framebuffer presenter shows the same picture, set the way an administrator would.
FBDEV = "[display]\nbackend = \"fbdev\"\n"


def card(tmp_path: Path, grow_mib: int = 0) -> Path:
    """A copy of the image, as written to a card, with the display set for QEMU."""
    disk = copy_of_image(tmp_path, grow_mib, IMAGE)
    settings = tmp_path / "spicebox.toml"
    settings.write_text(FBDEV)
    subprocess.run(["mcopy", "-i", f"{disk}@@{PARTITIONS['boot'].start_mib}M",
                    str(settings), "::spicebox.toml"], check=True)
    return disk


def boot_until_setup(tmp_path: Path, disk: Path, name: str,
                     until: Naming | None = None) -> float:
    """One power-on: the slot config.txt names boots until setup is on the screen (and
    config.txt reads ``until``: a slot on trial is kept a little after the kiosk is up),
    and is switched off by its button."""
    serial = tmp_path / f"serial-{name}.log"
    try:
        with QemuServer(power_on(disk, tmp_path / name, serial), binary=QEMU,
                        memory=1024) as qemu:
            seconds = wait_for_screen(qemu, home_screen(tmp_path), BOOT_TIMEOUT, "setup")
            started = time.monotonic()
            while until is not None and config(disk) != until:
                assert time.monotonic() - started < KEEP_TIMEOUT, f"{config(disk)}"
                time.sleep(5)
            power_off(qemu)
    except BaseException:
        print(serial.read_text(errors="replace")[-6000:] if serial.exists() else "no serial")
        raise
    return seconds


def restarts_by_itself(tmp_path: Path, disk: Path, name: str) -> None:
    """One power-on that ends in a restart (-no-reboot: QEMU exits)."""
    serial = tmp_path / f"serial-{name}.log"
    with QemuServer(power_on(disk, tmp_path / name, serial), binary=QEMU,
                    memory=1024) as qemu:
        assert qemu.process is not None
        qemu.process.wait(BOOT_TIMEOUT)
    print(serial.read_text(errors="replace")[-3000:])


def test_the_pi_image_boots_into_setup_and_fills_its_card(tmp_path: Path) -> None:
    disk = card(tmp_path, grow_mib=512)
    seconds = boot_until_setup(tmp_path, disk, "first")
    print(f"rpi4 (QEMU virt): power-on to setup on the screen: {seconds:.0f} s (TCG)")
    table = json.loads(subprocess.run(["sfdisk", "-J", str(disk)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]
    data = table["partitions"][3]
    assert data["start"] + data["size"] >= disk.stat().st_size // 512 - 2048
    assert config(disk) == Naming("a", None, None)


def test_an_update_is_tried_once_and_kept_when_it_comes_up(tmp_path: Path) -> None:
    disk = card(tmp_path)
    assert install_update(disk, tmp_path) == "config.txt"
    assert config(disk) == Naming("b", "b", None)
    boot_until_setup(tmp_path, disk, "b", until=Naming("b", None, None))


def test_a_slot_whose_root_does_not_mount_is_given_up_after_one_try(tmp_path: Path) -> None:
    disk = card(tmp_path)
    install_update(disk, tmp_path)
    with disk.open("r+b") as f:  # slot B's ext4 superblock, gone
        f.seek(PARTITIONS["root-b"].start_mib * 1024 * 1024)
        f.write(bytes(64 * 1024))
    restarts_by_itself(tmp_path, disk, "b")  # its initramfs named A again, then panicked
    assert config(disk) == Naming("a", None, "b")
    boot_until_setup(tmp_path, disk, "a")
    assert config(disk) == Naming("a", None, "b")  # A does not keep what failed


def test_a_slot_whose_kiosk_never_comes_up_is_given_up_after_one_try(tmp_path: Path) -> None:
    """A userland failure: slot B boots, but its client is gone, so the boot check gives
    up after two minutes and restarts the box, which comes back on slot A."""
    disk = card(tmp_path)
    install_update(disk, tmp_path)
    slot_b = read_partition(disk, PARTITIONS["root-b"], tmp_path / "root-b.img")
    subprocess.run(["debugfs", "-w", "-R", "rm /opt/spicebox/bin/spicebox", str(slot_b)],
                   capture_output=True, check=True)
    subprocess.run(["dd", f"if={slot_b}", f"of={disk}", "bs=1M", "conv=notrunc,sparse",
                    f"seek={PARTITIONS['root-b'].start_mib}", "status=none"], check=True)
    restarts_by_itself(tmp_path, disk, "b")
    assert config(disk) == Naming("a", None, "b")
    boot_until_setup(tmp_path, disk, "a")
