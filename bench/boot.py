"""`make bench`, part four: boot time, power-on to the desktop on the screen.

The qemu-x86_64 image (built by `make image`), preconfigured with a .vv file naming a
SeaBIOS QEMU on this machine, is booted under the image rig's QEMU settings (q35, OVMF,
virtio-vga, TCG, 1 GiB): the time from starting QEMU to the thin client's screen showing
exactly the server's. The reference is stock Debian 12 (mmdebstrap's "important" package
set, Debian's kernel, systemd-boot, the same partitioning) booted under the same settings
to its login prompt (agetty's banner on the serial console, which it prints with the one
on the screen). Reported as times and their ratio. TCG makes both slow; the ratio is the
result.
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
from tests.rig.image import IMAGE, board_vm, preconfigured_for, wait_for_server_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer

RUNS = 2
TIMEOUT = 600.0
STOCK_CMDLINE = "quiet console=tty1 console=ttyS0"
BANNER = "Debian GNU/Linux 12"  # agetty's /etc/issue, just before "login:"


def stock_debian(cache: Path) -> Path:
    """Stock Debian 12's disk image, built once into the cache (minutes)."""
    disk = cache / "stock-debian-12" / "disk.img"
    if disk.is_file():
        return disk
    disk.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=disk.parent) as scratch:
        work = Path(scratch)
        root, esp = work / "root", work / "esp"
        print("building stock Debian 12 (mmdebstrap, minutes; cached)", flush=True)
        subprocess.run(["mmdebstrap", "--mode=root", "--variant=important",
                        "--include=linux-image-amd64,systemd-boot-efi,systemd-sysv",
                        "--customize-hook=echo debian > \"$1/etc/hostname\"",
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
                        str(work / "root.img"), "2048M"], check=True)
        table = (f"label: gpt\nunit: sectors\n\nstart=2048, size={256 * 2048}, type={ESP}\n"
                 f"start={257 * 2048}, size={2048 * 2048}, type={ROOT['amd64']}, "
                 f'name="root"\n')
        assemble(work / "disk.img", 257 + 2048 + 1, table,
                 [(work / "esp.img", 1), (work / "root.img", 257)])
        (work / "disk.img").replace(disk)
    return disk


def stock_boot(disk: Path, scratch: Path) -> float:
    with QemuServer(board_vm("qemu-x86_64", disk, scratch), serial=True,
                    memory=1024) as vm:
        started = time.monotonic()
        assert vm.serial_path is not None
        with console.SerialConsole(vm.serial_path) as serial:
            serial.wait_for(BANNER, TIMEOUT)
        return time.monotonic() - started


def spicebox_boot(scratch: Path) -> float:
    with QemuServer(VGA_DEVICES["std"]) as server, \
            QemuServer(board_vm("qemu-x86_64", preconfigured_for(server, scratch), scratch),
                       serial=True, memory=1024, nic="user,model=virtio-net-pci") as vm:
        return wait_for_server_screen(vm, server, TIMEOUT, "the desktop")


def main() -> int:
    if not IMAGE.is_file():
        print("no image: run `make image BOARD=qemu-x86_64` first (make bench-boot does)")
        return 1
    cache = Path(os.environ.get("SPICEBOX_CACHE", Path.home() / ".cache/spicebox"))
    stock = stock_debian(cache)
    ours, theirs = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as scratch:
            ours.append(spicebox_boot(Path(scratch)))
        with tempfile.TemporaryDirectory() as scratch:
            theirs.append(stock_boot(stock, Path(scratch)))
    spicebox, debian = statistics.median(ours), statistics.median(theirs)
    print(f"boot, power-on to (TCG, q35, OVMF, median of {RUNS}):")
    print(f"  spicebox: the desktop on the screen      {spicebox:5.1f} s")
    print(f"  stock Debian 12: its login prompt         {debian:5.1f} s")
    print(f"  ratio, spicebox / stock Debian            {spicebox / debian:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
