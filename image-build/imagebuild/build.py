"""``make image BOARD=...``: the board's plan made into a disk image.

1. Python wheels for the target: the client built here, its dependencies downloaded as
   binary wheels for the target's platform (python-evdev, which has none, is Debian's).
2. The root filesystem: ``mmdebstrap`` (Debian 12, the plan's packages, no recommends,
   no documentation), then the client in a virtualenv at /opt/spicebox, then the
   firmware's files (``firmware/rootfs``) and ``firmware/setup-rootfs.sh`` run inside it.
3. The partitions as files, with no loop mounts: the boot partition with ``mkfs.vfat``
   and mtools (slot A's kernel and initrd in ``a/``, and either systemd-boot and slot A's
   loader entry, with syslinux beside it for a BIOS, or the Raspberry Pi firmware, its
   config.txt and slot A's device trees and cmdline.txt), slot A's root with
   ``mkfs.ext4 -d``, the data partition empty, slot B blank until the first update; then
   ``sfdisk`` writes the table into the disk image and ``dd`` places each partition (and
   syslinux's MBR code, for a BIOS).
4. ``out/<board>/``: ``disk.img`` (sparse), ``disk.img.zst``, ``update.tar`` (the same
   firmware as an update bundle, see spicebox.system.update), ``SHA256SUMS`` and
   ``manifest.json`` (board, version, every package and its version, the bundle's files).

The version is the client's and the build time, ``SOURCE_DATE_EPOCH`` (by default the
last commit's time), which also dates every file the build makes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from spicebox import __version__
from spicebox.system import slotconfig, slots
from spicebox.system.update import RELEASE, ROOT_IMAGE, ROOT_MEMBER, describe, write_bundle
from spicebox.ui.splash import save_theme

from .boards import Board
from .plan import COMPONENTS, SUITE, Plan
from .tree import clamp_mtimes, listing

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
# What the root needs beyond the plan to be built: an initramfs generator for the kernel.
BUILD_PACKAGES = ("initramfs-tools",)
# The client's dependencies as binary wheels for the target. python-evdev ships none: the
# virtualenv sees Debian's python3-evdev (plan.BASE_PACKAGES) instead.
WHEELS = ("numpy", "lz4", "cryptography", "pygame-ce", "dbus-fast", "tomli-w", "pyusb",
          "uvloop",
          # pyalsaaudio's build backend (pip builds it in an isolated environment)
          "setuptools", "wheel")
# pyalsaaudio ships no wheels either, and Debian 12's (0.8) cannot record on its Python:
# it is compiled in the root, with these, which are removed again afterwards.
SOURCE_ONLY = ("pyalsaaudio",)
COMPILE_PACKAGES = ("gcc", "libc6-dev", "libasound2-dev", "python3-dev")
PLATFORMS = {arch: ("manylinux2014_" + machine, "manylinux_2_17_" + machine,
                    "manylinux_2_28_" + machine)
             for arch, machine in (("amd64", "x86_64"), ("arm64", "aarch64"))}
# systemd-boot's EFI program, and the name the firmware looks for on a removable disk.
EFI_LOADERS = {"amd64": ("systemd-bootx64.efi", "BOOTX64.EFI"),
               "arm64": ("systemd-bootaa64.efi", "BOOTAA64.EFI")}
# Running a foreign architecture's programs in the root (maintainer scripts, the
# virtualenv): QEMU's user-mode emulator through binfmt_misc.
BINFMT = Path("/proc/sys/fs/binfmt_misc")
EMULATORS = {"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}
DPKG_FILTERS = ("path-exclude=/usr/share/doc/*", "path-exclude=/usr/share/man/*",
                "path-exclude=/usr/share/info/*", "path-exclude=/usr/share/locale/*")
TOOLS = {"mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs", "mkfs.vfat": "dosfstools",
         "mcopy": "mtools", "sfdisk": "fdisk", "zstd": "zstd", "syslinux": "syslinux"}
# BIOS boot: the MBR's code that starts the GPT partition marked LegacyBIOSBootable, whose
# boot sector `syslinux --install` writes (with mtools, no mount).
GPT_MBR = Path("/usr/lib/syslinux/mbr/gptmbr.bin")
MBR_CODE = 440  # the MBR's bytes before the disk signature and the partition table


class BuildError(Exception):
    """The image cannot be built here: the message says what to install or change."""


def check_tools() -> None:
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items()
               if shutil.which(tool) is None]
    if not GPT_MBR.exists():  # a Recommends of syslinux only
        missing.append(f"{GPT_MBR} (syslinux-common)")
    if missing:
        raise BuildError(f"missing: {', '.join(missing)}: run `tools/setup.sh --image` "
                         f"(make image does)")


def build(plan: Plan, out: Path) -> Path:
    board = plan.board
    if board.arch not in PLATFORMS:
        raise BuildError(f"{board.name}: building {board.arch} images is not done yet "
                         f"(the plan is: `imagebuild plan {board.name}`)")
    if board.unbuildable:
        raise BuildError(f"{board.name} cannot be built yet: {board.unbuildable}")
    check_tools()
    _can_run(board.arch)
    epoch = source_date_epoch()
    release = {"board": board.name, "version": firmware_version(epoch), "build": epoch}
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imagebuild-", dir=out) as scratch:
        work = Path(scratch)
        wheels = _wheels(board, work / "wheels")
        root = work / "root"
        _root_filesystem(plan, wheels, root, release, epoch)
        clamp_mtimes(root, epoch)
        tree = "\n".join(listing(root)) + "\n"
        (out / "rootfs.list").write_text(tree)
        disk, boot_files, root_image = _disk(plan, root, work, release, epoch)
        manifest = {**release, **_contents(plan, root), "cmdline": plan.cmdline,
                    "root_tree": hashlib.sha256(tree.encode()).hexdigest(),
                    "boot": list(boot_files),
                    "files": {name: describe(path) for name, path in
                              (*boot_files.items(), (ROOT_IMAGE, root_image))}}
        _run(["zstd", "-q", "-T0", "-9", "--long", str(root_image), "-o",
              str(work / ROOT_MEMBER)], "compressing the root image")
        with (out / "update.tar").open("wb") as bundle:
            write_bundle(bundle, manifest, {**boot_files, ROOT_MEMBER: work / ROOT_MEMBER},
                         epoch)
        final = out / "disk.img"
        disk.replace(final)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _run(["zstd", "-q", "-f", "-T0", "-3", str(final)], "compressing the image")
    sums = [f"{describe(out / name)['sha256']}  {name}" for name in
            ("disk.img", "disk.img.zst", "update.tar")]
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    log.info("built %s (%s %s)", final, board.name, release["version"])
    return final


def _can_run(arch: str) -> None:
    """Makes sure programs for ``arch`` run here: natively, or through binfmt_misc and
    qemu-user-static (mounted and registered here if the machine has not)."""
    native = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                            text=True, check=True).stdout.strip()
    if arch == native:
        return
    emulator = EMULATORS[arch]
    registration = Path("/usr/lib/binfmt.d") / f"{emulator}.conf"
    if not registration.is_file():
        raise BuildError(f"building {arch} here needs qemu-user-static: run "
                         f"`tools/setup.sh --image` (make image does)")
    if not (BINFMT / "register").exists():
        _run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
             f"mounting binfmt_misc (for running {arch} programs)")
    if not (BINFMT / emulator).exists():
        try:
            (BINFMT / "register").write_text(registration.read_text().strip())
        except OSError as exc:
            raise BuildError(f"cannot register {emulator} with binfmt_misc ({exc}): "
                             f"build as root, or on an {arch} machine") from None


def source_date_epoch() -> int:
    """What dates the build: $SOURCE_DATE_EPOCH, or the last commit's time."""
    given = os.environ.get("SOURCE_DATE_EPOCH")
    if given is None:
        done = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
                              capture_output=True, text=True, check=False)
        given = done.stdout.strip()
    if not given.isdigit():
        raise BuildError("set SOURCE_DATE_EPOCH (seconds since 1970): the build is dated "
                         "by the last commit, and this tree has none")
    return int(given)


def firmware_version(epoch: int) -> str:
    return f"{__version__}-{datetime.fromtimestamp(epoch, UTC):%Y%m%d.%H%M}"


def _wheels(board: Board, directory: Path) -> Path:
    log.info("wheels for %s", board.arch)
    directory.mkdir()
    python = sys.executable
    _run([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(directory), str(REPO)],
         "building the client's wheel")
    platforms = [arg for p in PLATFORMS[board.arch] for arg in ("--platform", p)]
    _run([python, "-m", "pip", "download", "-q", "--dest", str(directory),
          "--only-binary=:all:", *platforms, "--python-version", "3.11",
          "--implementation", "cp", *WHEELS], "downloading the dependencies' wheels")
    _run([python, "-m", "pip", "download", "-q", "--dest", str(directory), "--no-deps",
          "--no-binary=:all:", *SOURCE_ONLY], "downloading the dependencies' sources")
    return directory


def _root_filesystem(plan: Plan, wheels: Path, root: Path, release: dict[str, Any],
                     epoch: int) -> None:
    log.info("root filesystem (mmdebstrap, a few minutes)")
    # The board's defaults, under the device's own settings (spicebox's read-only layer).
    board_files = wheels.parent / "board-files"
    (board_files / "etc/spicebox").mkdir(parents=True)
    (board_files / "etc/spicebox/spicebox.toml").write_text(
        f"# {plan.board.name}'s defaults; what is set on the device goes to "
        f"/var/lib/spicebox.\n[display]\nbackend = \"{plan.board.display_backend}\"\n")
    # The boot partition as this board's partition table names it.
    (board_files / "etc/fstab").write_text(
        (FIRMWARE / "rootfs/etc/fstab").read_text().replace("PARTLABEL=boot",
                                                            plan.source("boot")))
    # Which firmware this root is, for `spicebox update` (spicebox.system.update.RELEASE).
    (board_files / RELEASE.relative_to("/")).parent.mkdir(parents=True)
    (board_files / RELEASE.relative_to("/")).write_text(json.dumps(release) + "\n")
    theme = board_files / "usr/share/plymouth/themes/spicebox"
    theme.mkdir(parents=True)
    save_theme(theme)
    install_client = (
        f'mkdir -p "$1/tmp/wheels" && cp {wheels}/* "$1/tmp/wheels/" && '
        'chroot "$1" python3 -m venv --system-site-packages /opt/spicebox && '
        # -g0: without debug information pyalsaaudio's library does not carry the random
        # directory pip builds it in, so a second build gives the same bytes.
        'chroot "$1" env CFLAGS=-g0 /opt/spicebox/bin/pip install -q --no-cache-dir '
        '--no-index --find-links /tmp/wheels --use-pep517 spicebox && '
        # Some wheels ship their libraries with debug information (uvloop's: 13.6 MB,
        # 1.6 MB without), which a device has no use for. The compiler brought strip.
        'chroot "$1" find /opt/spicebox -name "*.so*" -type f -exec strip --strip-debug '
        '{} + && '
        'rm -rf "$1/tmp/wheels" && '
        f'chroot "$1" apt-get purge -q -y --autoremove {" ".join(COMPILE_PACKAGES)}')
    _run(["mmdebstrap", "--mode=root", "--variant=minbase",
          f"--architectures={plan.board.arch}", f"--components={','.join(COMPONENTS)}",
          f"--include={','.join((*plan.packages, *BUILD_PACKAGES, *COMPILE_PACKAGES))}",
          '--aptopt=APT::Install-Recommends "false"',
          *(f"--dpkgopt={option}" for option in DPKG_FILTERS),
          # The kernel's package would make an initramfs before the firmware's hooks and
          # splash are in the root: setup-rootfs.sh makes the one that boots (once, which
          # matters when an arm64 root runs emulated).
          "--essential-hook=chroot \"$1\" dpkg-divert --quiet --local --rename "
          "--add /usr/sbin/update-initramfs && ln -s /bin/true \"$1/usr/sbin/update-initramfs\"",
          f"--customize-hook={install_client}",
          f"--customize-hook=sync-in {FIRMWARE / 'rootfs'} /",
          f"--customize-hook=sync-in {board_files} /",
          f"--customize-hook=copy-in {FIRMWARE / 'setup-rootfs.sh'} /tmp",
          '--customize-hook=chroot "$1" sh /tmp/setup-rootfs.sh && rm "$1/tmp/setup-rootfs.sh"',
          # raspi-firmware's hooks fill /boot/firmware as on a Pi that updates its kernel
          # in place; the builder lays out the boot partition itself (_pi_boot).
          '--customize-hook=rm -rf "$1/boot/firmware"',
          SUITE, str(root)], "making the root filesystem",
         {"SOURCE_DATE_EPOCH": str(epoch)})


def _disk(plan: Plan, root: Path, work: Path, release: dict[str, Any],
          epoch: int) -> tuple[Path, dict[str, Path], Path]:
    """The disk image; the boot files of a slot, by name, and the root image: for the
    update bundle."""
    log.info("partitions and disk image")
    boot, root_a, _, data = plan.partitions
    tree = work / "boot"
    (tree / "a").mkdir(parents=True)
    kernel = sorted((root / "boot").glob("vmlinuz-*"))[-1]
    boot_files = {slots.KERNEL: kernel,
                  slots.INITRD: sorted((root / "boot").glob("initrd.img-*"))[-1]}
    if plan.board.boot_method == "raspberrypi":
        boot_files |= _pi_boot(plan, root, kernel, tree, release)
    else:
        _systemd_boot(plan, root, tree, release)
    for name, path in boot_files.items():
        shutil.copy(path, tree / "a" / name)
    files = {part.label: work / f"{part.label}.img" for part in plan.partitions}
    clamp_mtimes(tree, epoch)
    fat_image(tree, files["boot"], boot.size_mib, "BOOT", volume_id=epoch)
    if plan.board.bios:
        _run(["syslinux", "--install", str(files["boot"])],
             "installing syslinux (BIOS boot)")
    for part, content in ((root_a, root), (data, None)):
        # Its identifiers from the build's inputs, its times from SOURCE_DATE_EPOCH.
        uuid = str(uuid5(NAMESPACE_URL, f"spicebox:{plan.board.name}:{part.label}:{epoch}"))
        _run(["mkfs.ext4", "-q", "-L", part.label, "-U", uuid, "-E", f"hash_seed={uuid}",
              *(["-d", str(content)] if content else []), str(files[part.label]),
              f"{part.size_mib}M"], f"making {part.label}", {"E2FSPROGS_FAKE_TIME": str(epoch)})
    disk = work / "disk.img"
    assemble(disk, plan.disk_mib, plan.sfdisk_script(),
             [(files[part.label], part.start_mib) for part in (boot, root_a, data)])
    if plan.board.bios:
        with disk.open("r+b") as f:
            f.write(GPT_MBR.read_bytes()[:MBR_CODE])
    return disk, boot_files, files[root_a.label]


def _systemd_boot(plan: Plan, root: Path, tree: Path, release: dict[str, Any]) -> None:
    """systemd-boot as the removable disk's EFI program, and slot A's entry; for a BIOS,
    syslinux's configuration booting slot A."""
    (tree / "EFI" / "BOOT").mkdir(parents=True)
    (tree / slots.ENTRIES).mkdir(parents=True)
    loader, removable = EFI_LOADERS[plan.board.arch]
    shutil.copy(root / "usr/lib/systemd/boot/efi" / loader, tree / "EFI/BOOT" / removable)
    # Slot A as kept (no boot counting): slot B gets its entry from the first update.
    (tree / slots.ENTRIES / slots.entry_name("a")).write_text(
        slots.entry_text("a", 1, release["version"], plan.cmdline))
    # No default: systemd-boot's own order (slots.boot_order) picks the slot.
    (tree / "loader/loader.conf").write_text("timeout 0\n")
    if plan.board.bios:  # syslinux, installed once the partition is made
        (tree / slotconfig.SYSLINUX.config).write_text(slotconfig.syslinux_config("a"))
        _first_slot(plan, tree, slotconfig.SYSLINUX, release)


def _first_slot(plan: Plan, tree: Path, fmt: slotconfig.Format,
                release: dict[str, Any]) -> None:
    """Slot A's own files for a boot loader that a file names the slot for."""
    arguments = slots.kernel_arguments(plan.source("root-a"), plan.cmdline)
    (tree / "a" / fmt.slot_file).write_text(slotconfig.slot_file(fmt, "a", arguments))
    (tree / "a" / slotconfig.VERSION).write_text(f"{release['version']}\n")


def _pi_boot(plan: Plan, root: Path, kernel: Path, tree: Path,
             release: dict[str, Any]) -> dict[str, Path]:
    """The Raspberry Pi firmware (shared by both slots: an update does not change it) and
    config.txt booting slot A, whose command line is written here; returns the kernel's
    device trees, which are a slot's boot files."""
    for blob in sorted((root / "usr/lib/raspi-firmware").iterdir()):
        shutil.copy(blob, tree / blob.name)
    (tree / slotconfig.PI.config).write_text(slotconfig.pi_config(plan.board.boot_config, "a"))
    _first_slot(plan, tree, slotconfig.PI, release)
    modules = root / "usr/lib" / f"linux-image-{kernel.name.removeprefix('vmlinuz-')}"
    trees = {path.name: path for pattern in plan.board.device_trees
             for path in sorted(modules.glob(pattern))}
    if not trees:
        raise BuildError(f"{plan.board.name}: no device tree in {modules} matches "
                         f"boot.device_trees ({', '.join(plan.board.device_trees)})")
    return trees


def fat_image(tree: Path, image: Path, size_mib: int, label: str,
              volume_id: int | None = None) -> None:
    """A FAT partition image holding ``tree`` (its files' times kept), without mounting
    it."""
    _run(["mkfs.vfat", "-C", "-n", label,
          *(["-i", f"{volume_id & 0xFFFFFFFF:08x}"] if volume_id is not None else []),
          str(image), str(size_mib * 1024)], f"making {image.name}")
    _run(["mcopy", "-s", "-m", "-i", str(image), *map(str, tree.iterdir()), "::"],
         f"filling {image.name}")


def assemble(disk: Path, size_mib: int, table: str, parts: list[tuple[Path, int]]) -> None:
    """A sparse disk image: the partition table (an sfdisk script), then each partition
    image placed at its start (MiB), with no loop device."""
    with disk.open("wb") as f:
        f.truncate(size_mib * 1024 * 1024)
    subprocess.run(["sfdisk", "-q", str(disk)], input=table, text=True, check=True)
    for image, start_mib in parts:
        _run(["dd", f"if={image}", f"of={disk}", "bs=1M", f"seek={start_mib}",
              "conv=notrunc,sparse", "status=none"], f"placing {image.name}")


def _contents(plan: Plan, root: Path) -> dict[str, object]:
    """What the root holds: for the manifest."""
    listed = subprocess.run(["chroot", str(root), "dpkg-query", "-W",
                             "-f=${Package} ${Version}\n"],
                            capture_output=True, text=True, check=True).stdout
    return {"arch": plan.board.arch, "suite": SUITE, "spicebox": __version__,
            "packages": dict(line.split(" ", 1) for line in listed.splitlines() if line)}


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env=None if env is None else {**os.environ, **env})
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise BuildError(f"{what} failed ({argv[0]} exited {done.returncode}):\n{tail}")
