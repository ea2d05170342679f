"""`make test-image`: the qemu-x86_64 image (built by `make image`) boots under QEMU with
UEFI firmware: into setup when nothing is configured, into the session when a .vv file is
on its boot partition; its root stays read-only; an update in the other slot boots, or
falls back when it does not; and the same from a BIOS (SeaBIOS and syslinux)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from evdev import ecodes as e

from spicebox.codecs.pixels import to_rgb
from spicebox.system import slotconfig, slots
from spicebox.ui.pages.home import HomePage
from tests.guests import console
from tests.rig.image import (
    IMAGE,
    PARTITIONS,
    board_vm,
    copy_of_image,
    esp,
    home_screen,
    install_update,
    is_splash,
    loader_entries,
    power_off,
    preconfigured_for,
    read_partition,
    wait_for_screen,
    wait_for_server_screen,
)
from tests.rig.qemu import AUDIO_DEVICES, VGA_DEVICES, QemuServer
from tests.rig.ui import UiDriver

BOOT_TIMEOUT = 300.0  # TCG, no KVM: about a minute and a half here

pytestmark = [pytest.mark.skipif(not IMAGE.is_file(),
                                 reason="run `make test-image` (it builds the image first)"),
              pytest.mark.timeout(4 * BOOT_TIMEOUT)]  # the fallback boots four times


def thin_client(tmp_path: Path, disk: Path = IMAGE, snapshot: bool = True,
                bios: bool = False) -> list[str]:
    return board_vm("qemu-x86_64", disk, tmp_path, snapshot, bios)


def test_first_boot_shows_setup_and_takes_keys_from_the_keyboard(tmp_path: Path) -> None:
    """Unconfigured, the kiosk shows setup; keys typed on the VM's keyboard (its kernel's
    evdev device, read by the client) work it."""
    ui = UiDriver(tmp_path / "config", kiosk=True)

    def page(width: int, height: int) -> np.ndarray:
        ui.app.resize(width, height)
        return to_rgb(ui.render())
    ui.open(HomePage(ui.app))
    splashes: list[np.ndarray] = []

    def look(shown: np.ndarray) -> None:
        if is_splash(shown):
            splashes.append(shown)
    with QemuServer(thin_client(tmp_path), serial=True, memory=1024) as qemu:
        seconds = wait_for_screen(qemu, page, BOOT_TIMEOUT, "setup", look)
        print(f"power-on to setup on the screen: {seconds:.0f} s (TCG), the boot splash "
              f"on {len(splashes)} of the screens before")
        assert splashes, "no boot splash before setup"
        assert qemu.qmp is not None
        for down in (True, False):  # Enter, on "Connection profiles" (it has the focus)
            qemu.qmp.execute("input-send-event", events=[
                {"type": "key", "data": {"down": down, "key": {"type": "qcode",
                                                               "data": "ret"}}}])
        ui.key(e.KEY_ENTER)
        assert ui.page.title == "Connection profiles"
        wait_for_screen(qemu, page, 30, "the profiles page")


def test_a_vv_file_on_the_boot_partition_connects_the_kiosk(tmp_path: Path) -> None:
    """The box boots, stores the .vv file, and shows the server's screen (a SeaBIOS QEMU
    on this machine)."""
    with QemuServer(VGA_DEVICES["std"]) as server, \
            QemuServer(thin_client(tmp_path, preconfigured_for(server, tmp_path)),
                       serial=True, memory=1024, nic="user,model=virtio-net-pci") as client:
        seconds = wait_for_server_screen(client, server, BOOT_TIMEOUT, "the server's screen")
        print(f"power-on to the session's first frame: {seconds:.0f} s")


def test_pulling_the_network_and_restoring_it_reconnects(tmp_path: Path) -> None:
    """The cable pulled for 30 s while the desktop changes, then plugged back: the kiosk
    notices the dead link (TCP keepalive), and when the network is back (rtnetlink) it
    reconnects at once instead of at the end of its backoff."""
    guest = console.build(console.default_cache_dir())
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args(), serial=True) as server, \
            QemuServer(thin_client(tmp_path, preconfigured_for(server, tmp_path)),
                       serial=True, memory=1024,
                       nic="user,model=virtio-net-pci,id=net0") as client:
        assert server.serial_path is not None and client.qmp is not None
        with console.SerialConsole(server.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            wait_for_server_screen(client, server, BOOT_TIMEOUT, "the desktop")
            client.qmp.execute("set_link", name="net0", up=False)
            serial.send("show 1")
            serial.wait_for(console.SHOWN, 60)
            time.sleep(30)
            client.qmp.execute("set_link", name="net0", up=True)
            seconds = wait_for_server_screen(client, server, 120, "the desktop again")
    print(f"network restored to the desktop on the screen: {seconds:.1f} s (TCG)")


def test_the_desktops_sound_plays_on_the_boxs_sound_card(tmp_path: Path) -> None:
    """The console guest's tone, through the kiosk (ALSA's default device, as shipped), out
    of the box's own Intel HDA card, whose sound QEMU keeps in a WAV file."""
    guest = console.build(console.default_cache_dir())
    played = tmp_path / "box.wav"
    card = ["-audiodev", f"wav,id=box,path={played}", "-device", "ich9-intel-hda",
            "-device", "hda-output,audiodev=box"]
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args() + AUDIO_DEVICES,
                    serial=True) as server, \
            QemuServer(thin_client(tmp_path, preconfigured_for(server, tmp_path)) + card,
                       serial=True, memory=1024, nic="user,model=virtio-net-pci") as client:
        assert server.serial_path is not None
        with console.SerialConsole(server.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            wait_for_server_screen(client, server, BOOT_TIMEOUT, "the desktop")
            serial.send("play")
            serial.wait_for(f"{console.AUDIO} played", 60)
            time.sleep(2)  # the box's buffers drain
    print(f"the box played {the_tone_in(played)}")


def the_tone_in(played: Path) -> str:
    """Checks that a WAV file QEMU wrote (it writes the header when it quits) holds more
    than a second of the console guest's tone; says how much, how loud, and its longest
    gap. Gaps are reported, not judged: under TCG the box's CPU is emulated."""
    with wave.open(str(played)) as box:
        rate = box.getframerate()
        left = np.frombuffer(box.readframes(box.getnframes()), "<i2")[::box.getnchannels()]
    loud = np.flatnonzero(np.abs(left) > 500)
    assert len(loud) > rate, "less than a second of sound came out of the box"
    sound = left[loud[0]:loud[-1] + 1].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(sound * np.hanning(len(sound))))
    dominant = np.fft.rfftfreq(len(sound), 1 / rate)[spectrum.argmax()]
    assert abs(dominant - console.TONE_HZ) < 5, f"the box played {dominant:.0f} Hz"
    gap_ms = (np.diff(loud).max() - 1) * 1000 / rate
    return (f"{len(sound) / rate:.2f} s of the tone, peak {np.abs(sound).max():.0f}, "
            f"longest gap {gap_ms:.1f} ms")


def boot_and_power_off(tmp_path: Path, disk: Path, timeout: float = BOOT_TIMEOUT,
                       bios: bool = False) -> float:
    """Boots ``disk`` (written to) until setup is on the screen, then powers it off the
    way its button does (ACPI: systemd shuts down cleanly); returns the seconds to
    setup."""
    with QemuServer(thin_client(tmp_path, disk, snapshot=False, bios=bios), serial=True,
                    memory=1024) as qemu:
        seconds = wait_for_screen(qemu, home_screen(tmp_path), timeout, "setup")
        time.sleep(10)  # systemd-bless-boot or spicebox-boot-keep, after the kiosk's screen
        power_off(qemu)
    return seconds


def test_first_boot_keeps_the_root_read_only_and_grows_the_data_partition(
        tmp_path: Path) -> None:
    """Written to a larger disk (as to any SD card), the first boot grows the data
    partition and its file system to the end, and makes the device's identity key there;
    what the system writes (its machine id) is on the data partition too, and the root
    file system is left exactly as built."""
    disk = copy_of_image(tmp_path, grow_mib=1024)
    root_before = hashlib.sha256(read_partition(
        disk, PARTITIONS["root-a"], tmp_path / "root.img").read_bytes()).hexdigest()
    boot_and_power_off(tmp_path, disk)
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

    def debugfs(request: str) -> str:
        return subprocess.run(["debugfs", "-R", request, str(part)], capture_output=True,
                              text=True, check=False).stdout
    assert "Mode:  0600" in debugfs("stat /var.upper/lib/spicebox/identity.key")
    assert len(debugfs("cat /etc.upper/machine-id").strip()) == 32
    root_after = hashlib.sha256(read_partition(
        disk, PARTITIONS["root-a"], tmp_path / "root.img").read_bytes()).hexdigest()
    assert root_after == root_before


def test_an_update_boots_from_the_other_slot_and_is_kept(tmp_path: Path) -> None:
    """The update bundle `make image` makes, installed into slot B: the box boots it,
    and once the kiosk's screen is up systemd-bless-boot keeps it (its entry loses its
    tries counter; had slot A booted instead, slot B's would still read +3)."""
    disk = copy_of_image(tmp_path)
    assert install_update(disk, tmp_path) == "spicebox-b+3.conf"
    assert loader_entries(disk) == ["spicebox-a.conf", "spicebox-b+3.conf"]
    boot_and_power_off(tmp_path, disk)
    assert loader_entries(disk) == ["spicebox-a.conf", "spicebox-b.conf"]


def test_a_slot_that_does_not_boot_falls_back_to_the_other(tmp_path: Path) -> None:
    """An update whose root cannot be mounted: each try restarts the box (panic=10), and
    after the third systemd-boot goes back to slot A, which comes up as before."""
    disk = copy_of_image(tmp_path)
    install_update(disk, tmp_path)
    with disk.open("r+b") as f:  # slot B's ext4 superblock, gone
        f.seek(PARTITIONS["root-b"].start_mib * 1024 * 1024)
        f.write(bytes(64 * 1024))
    boot_and_power_off(tmp_path, disk, timeout=3 * BOOT_TIMEOUT)
    assert loader_entries(disk) == ["spicebox-a.conf", f"spicebox-b+0-{slots.TRIES}.conf"]


def syslinux_naming(disk: Path) -> slotconfig.Naming:
    text = subprocess.run(["mtype", "-i", esp(disk), "::/syslinux.cfg"], capture_output=True,
                          text=True, check=True).stdout
    return slotconfig.parse(slotconfig.SYSLINUX, text)


def test_from_a_bios_it_boots_and_an_update_is_tried_once_and_kept(tmp_path: Path) -> None:
    """QEMU's own BIOS (SeaBIOS) instead of UEFI: syslinux boots slot A into setup; an
    update names slot B, which boots and is kept once the kiosk is up."""
    disk = copy_of_image(tmp_path)
    seconds = boot_and_power_off(tmp_path, disk, bios=True)
    print(f"BIOS: power-on to setup on the screen: {seconds:.0f} s (TCG)")
    assert install_update(disk, tmp_path, bios=True) == "syslinux.cfg"
    assert loader_entries(disk) == ["spicebox-a.conf"]  # UEFI's are left as they were
    assert syslinux_naming(disk) == slotconfig.Naming("b", "b", None)
    boot_and_power_off(tmp_path, disk, bios=True)
    assert syslinux_naming(disk) == slotconfig.Naming("b", None, None)


def test_from_a_bios_a_slot_that_does_not_boot_is_given_up_after_one_try(
        tmp_path: Path) -> None:
    """Slot B's root cannot be mounted: its initramfs has named slot A again before it
    tried, the kernel restarts (panic=10), and syslinux boots slot A into setup."""
    disk = copy_of_image(tmp_path)
    install_update(disk, tmp_path, bios=True)
    with disk.open("r+b") as f:  # slot B's ext4 superblock, gone
        f.seek(PARTITIONS["root-b"].start_mib * 1024 * 1024)
        f.write(bytes(64 * 1024))
    boot_and_power_off(tmp_path, disk, timeout=2 * BOOT_TIMEOUT, bios=True)
    assert syslinux_naming(disk) == slotconfig.Naming("a", None, "b")
