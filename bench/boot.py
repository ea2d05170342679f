"""`make bench`, part four: boot time, power-on to the desktop on the screen.

The qemu-x86_64 image (built by `make image`), preconfigured with a .vv file naming a
SeaBIOS QEMU on this machine, is booted under the image rig's QEMU settings (q35, OVMF,
virtio-vga, TCG, 1 GiB): the time from starting QEMU to the thin client's screen showing
exactly the server's, at its first boot (which also stores the .vv file, grows the data
partition and makes the device key) and at the next one, the everyday case. The reference
is stock Debian 12 (mmdebstrap's "important" package set with recommends, Debian's
kernel, systemd-boot, a GPT disk) booted under the same settings, twice, to its login
prompt (agetty's banner on the serial console, printed with the one on the screen).
Reported as times and their ratio. TCG makes both slow; the ratio is the result.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imagebuild.build import assemble, fat_image
from imagebuild.plan import ESP, ROOT

from tests.guests import console
from tests.rig.image import IMAGE, board_vm, power_off, preconfigured_for, wait_for_server_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer

RUNS = 2
TIMEOUT = 600.0
STOCK_CMDLINE = "quiet console=tty1 console=ttyS0"
BANNER = "Debian GNU/Linux 12"  # agetty's /etc/issue, just before "login:"


def stock_debian(cache: Path, name: str = "stock-debian-12-r1",
                 include: tuple[str, ...] = (), hooks: tuple[str, ...] = ()) -> Path:
    """Stock Debian 12's disk image, built once into the cache (minutes), with
    ``include`` and mmdebstrap's customize ``hooks`` for a variant (a new ``name`` for
    each: the name is the cache key)."""
    disk = cache / name / "disk.img"  # (r1: with recommends)
    if disk.is_file():
        return disk
    disk.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=disk.parent) as scratch:
        work = Path(scratch)
        root, esp = work / "root", work / "esp"
        print("building stock Debian 12 (mmdebstrap, minutes; cached)", flush=True)
        # With recommends, as Debian's installer installs (dbus, and with it logind, which
        # powers the machine off on its button).
        subprocess.run(["mmdebstrap", "--mode=root", "--variant=important",
                        '--aptopt=APT::Install-Recommends "true"',
                        "--include=" + ",".join(("linux-image-amd64", "systemd-boot-efi",
                                                 "systemd-sysv", *include)),
                        "--customize-hook=echo debian > \"$1/etc/hostname\"",
                        *(f"--customize-hook={hook}" for hook in hooks),
                        "bookworm", str(root)], check=True, capture_output=True)
        (esp / "EFI/BOOT").mkdir(parents=True)
        (esp / "loader/entries").mkdir(parents=True)
        shutil.copy(root / "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
                    esp / "EFI/BOOT/BOOTX64.EFI")
        shutil.copy(sorted((root / "boot").glob("vmlinuz-*"))[-1], esp / "linux")
        shutil.copy(sorted((root / "boot").glob("initrd.img-*"))[-1], esp / "initrd")
        (esp / "loader/loader.conf").write_text("timeout 0\n")
        (esp / "loader/entries/debian.conf").write_text(
            f"title Debian 12\nlinux /linux\ninitrd /initrd\n"
            f"options root=PARTLABEL=root rw {STOCK_CMDLINE}\n")
        fat_image(esp, work / "esp.img", 256, "BOOT")
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", "-d", str(root),
                        str(work / "root.img"), "2048M"], check=True, capture_output=True)
        table = (f"label: gpt\nunit: sectors\n\nstart=2048, size={256 * 2048}, type={ESP}\n"
                 f"start={257 * 2048}, size={2048 * 2048}, type={ROOT['amd64']}, "
                 f'name="root"\n')
        assemble(work / "disk.img", 257 + 2048 + 1, table,
                 [(work / "esp.img", 1), (work / "root.img", 257)])
        (work / "disk.img").replace(disk)
    return disk


def stock_boots(template: Path, scratch: Path) -> tuple[float, float]:
    disk = scratch / "stock.img"
    subprocess.run(["cp", "--sparse=always", str(template), str(disk)], check=True)
    times = []
    for _ in range(2):
        with QemuServer(board_vm("qemu-x86_64", disk, scratch, snapshot=False),
                        serial=True, memory=1024) as vm:
            started = time.monotonic()
            assert vm.serial_path is not None
            with console.SerialConsole(vm.serial_path) as serial:
                serial.wait_for(BANNER, TIMEOUT)
            times.append(time.monotonic() - started)
            power_off(vm)
    return times[0], times[1]


def spicebox_boots(scratch: Path) -> tuple[float, float]:
    times = []
    with QemuServer(VGA_DEVICES["std"]) as server:
        disk = preconfigured_for(server, scratch)
        for _ in range(2):
            with QemuServer(board_vm("qemu-x86_64", disk, scratch, snapshot=False),
                            serial=True, memory=1024, nic="user,model=virtio-net-pci") as vm:
                times.append(wait_for_server_screen(vm, server, TIMEOUT, "the desktop"))
                power_off(vm)
    return times[0], times[1]


def main() -> int:
    if not IMAGE.is_file():
        print("no image: run `make image BOARD=qemu-x86_64` first (make bench-boot does)")
        return 1
    cache = Path(os.environ.get("SPICEBOX_CACHE", Path.home() / ".cache/spicebox"))
    stock = stock_debian(cache)
    ours, theirs = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as scratch:
            ours.append(spicebox_boots(Path(scratch)))
        with tempfile.TemporaryDirectory() as scratch:
            theirs.append(stock_boots(stock, Path(scratch)))
    print(f"boot, power-on to (TCG, q35, OVMF, median of {RUNS}):  first boot  next boots")
    for name, boots in (("spicebox: the desktop on the screen", ours),
                        ("stock Debian 12: its login prompt", theirs)):
        first, later = (statistics.median(b[i] for b in boots) for i in (0, 1))
        print(f"  {name:38} {first:8.1f} s  {later:8.1f} s")
    ratios = [statistics.median(o[i] for o in ours) / statistics.median(t[i] for t in theirs)
              for i in (0, 1)]
    print(f"  {'ratio, spicebox / stock Debian':38} {ratios[0]:8.2f}x  {ratios[1]:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
