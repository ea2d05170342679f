"""``make image BOARD=...``: the board's plan made into a disk image.

1. Python wheels for the target: the client built here, its dependencies downloaded as
   binary wheels for the target's platform (python-evdev, which has none, is built here).
2. The root filesystem: ``mmdebstrap`` (Debian 12, the plan's packages, no recommends,
   no documentation), then the client in a virtualenv at /opt/spicebox, then the
   firmware's files (``firmware/rootfs``) and ``firmware/setup-rootfs.sh`` run inside it.
3. The partitions as files, with no loop mounts: the boot partition with ``mkfs.vfat``
   and mtools (systemd-boot, one kernel and initrd per slot, one loader entry per slot),
   both root slots with ``mkfs.ext4 -d``, the data partition empty; then ``sfdisk`` writes
   the table into the disk image and ``dd`` places each partition at its offset.
4. ``out/<board>/``: ``disk.img`` (sparse), ``disk.img.zst``, ``SHA256SUMS`` and
   ``manifest.json`` (board, client version, every package and its version).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .boards import Board
from .plan import COMPONENTS, SUITE, Plan

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
# What the root needs beyond the plan to be built: an initramfs generator for the kernel.
BUILD_PACKAGES = ("initramfs-tools",)
# The client's dependencies as wheels (python-evdev ships none: built here instead).
WHEELS = ("numpy", "lz4", "cryptography", "pygame-ce", "dbus-fast", "tomli-w")
PLATFORMS = {"amd64": ("manylinux2014_x86_64", "manylinux_2_17_x86_64",
                       "manylinux_2_28_x86_64")}
DPKG_FILTERS = ("path-exclude=/usr/share/doc/*", "path-exclude=/usr/share/man/*",
                "path-exclude=/usr/share/info/*", "path-exclude=/usr/share/locale/*")
TOOLS = {"mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs", "mkfs.vfat": "dosfstools",
         "mcopy": "mtools", "sfdisk": "fdisk", "zstd": "zstd"}


class BuildError(Exception):
    """The image cannot be built here: the message says what to install or change."""


def check_tools() -> None:
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items()
               if shutil.which(tool) is None]
    if missing:
        raise BuildError(f"missing: {', '.join(missing)}: run `tools/setup.sh --image` "
                         f"(make image does)")


def build(plan: Plan, out: Path) -> Path:
    board = plan.board
    if board.arch not in PLATFORMS:
        raise BuildError(f"{board.name}: building {board.arch} images is not done yet "
                         f"(the plan is: `imagebuild plan {board.name}`)")
    if board.boot_method != "uefi":
        raise BuildError(f"{board.name}: {board.boot_method} boot is not done yet")
    check_tools()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imagebuild-", dir=out) as scratch:
        work = Path(scratch)
        wheels = _wheels(board, work / "wheels")
        root = work / "root"
        _root_filesystem(plan, wheels, root)
        disk = _disk(plan, root, work)
        manifest = _manifest(plan, root)
        final = out / "disk.img"
        disk.replace(final)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _run(["zstd", "-q", "-f", "-T0", "-3", str(final)], "compressing the image")
    sums = [f"{_sha256(out / name)}  {name}" for name in ("disk.img", "disk.img.zst")]
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    log.info("built %s (%s)", final, board.name)
    return final


def _wheels(board: Board, directory: Path) -> Path:
    log.info("wheels for %s", board.arch)
    directory.mkdir()
    python = sys.executable
    _run([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(directory), str(REPO),
          "evdev"], "building the client's wheels")
    platforms = [arg for p in PLATFORMS[board.arch] for arg in ("--platform", p)]
    _run([python, "-m", "pip", "download", "-q", "--dest", str(directory),
          "--only-binary=:all:", *platforms, "--python-version", "3.11",
          "--implementation", "cp", *WHEELS], "downloading the dependencies' wheels")
    return directory


def _root_filesystem(plan: Plan, wheels: Path, root: Path) -> None:
    log.info("root filesystem (mmdebstrap, a few minutes)")
    # The board's defaults, under the device's own settings (spicebox's read-only layer).
    board_files = wheels.parent / "board-files"
    (board_files / "etc/spicebox").mkdir(parents=True)
    (board_files / "etc/spicebox/spicebox.toml").write_text(
        f"# {plan.board.name}'s defaults; what is set on the device goes to "
        f"/var/lib/spicebox.\n[display]\nbackend = \"{plan.board.display_backend}\"\n")
    install_client = (
        f'mkdir -p "$1/tmp/wheels" && cp {wheels}/*.whl "$1/tmp/wheels/" && '
        'chroot "$1" python3 -m venv /opt/spicebox && '
        'chroot "$1" /opt/spicebox/bin/pip install -q --no-index --find-links /tmp/wheels '
        'spicebox && rm -rf "$1/tmp/wheels"')
    _run(["mmdebstrap", "--mode=root", "--variant=minbase",
          f"--components={','.join(COMPONENTS)}",
          f"--include={','.join((*plan.packages, *BUILD_PACKAGES))}",
          '--aptopt=APT::Install-Recommends "false"',
          *(f"--dpkgopt={option}" for option in DPKG_FILTERS),
          f"--customize-hook={install_client}",
          f"--customize-hook=sync-in {FIRMWARE / 'rootfs'} /",
          f"--customize-hook=sync-in {board_files} /",
          f"--customize-hook=copy-in {FIRMWARE / 'setup-rootfs.sh'} /tmp",
          '--customize-hook=chroot "$1" sh /tmp/setup-rootfs.sh && rm "$1/tmp/setup-rootfs.sh"',
          SUITE, str(root)], "making the root filesystem")


def _disk(plan: Plan, root: Path, work: Path) -> Path:
    log.info("partitions and disk image")
    boot, root_a, root_b, data = plan.partitions
    esp = work / "esp"
    kernel = sorted((root / "boot").glob("vmlinuz-*"))[-1]
    initrd = sorted((root / "boot").glob("initrd.img-*"))[-1]
    (esp / "EFI" / "BOOT").mkdir(parents=True)
    (esp / "loader" / "entries").mkdir(parents=True)
    shutil.copy(root / "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
                esp / "EFI/BOOT/BOOTX64.EFI")
    for slot in ("a", "b"):
        (esp / slot).mkdir()
        shutil.copy(kernel, esp / slot / "linux")
        shutil.copy(initrd, esp / slot / "initrd")
        (esp / "loader/entries" / f"spicebox-{slot}.conf").write_text(
            f"title Spicebox (slot {slot.upper()})\nlinux /{slot}/linux\n"
            f"initrd /{slot}/initrd\noptions root=PARTLABEL=root-{slot} rw "
            f"{plan.board.cmdline}\n")
    (esp / "loader/loader.conf").write_text("default spicebox-a.conf\ntimeout 0\n")
    files = {part.label: work / f"{part.label}.img" for part in plan.partitions}
    _run(["mkfs.vfat", "-C", "-n", "BOOT", str(files["boot"]), str(boot.size_mib * 1024)],
         "making the boot partition")
    _run(["mcopy", "-s", "-i", str(files["boot"]), *map(str, esp.iterdir()), "::"],
         "filling the boot partition")
    uid = _uid_of(root, "spicebox")
    for part, tree in ((root_a, root), (root_b, root), (data, None)):
        _run(["mkfs.ext4", "-q", "-L", part.label,
              *(["-d", str(tree)] if tree else ["-E", f"root_owner={uid}:{uid}"]),
              str(files[part.label]), f"{part.size_mib}M"], f"making {part.label}")
    disk = work / "disk.img"
    with disk.open("wb") as f:
        f.truncate(plan.disk_mib * 1024 * 1024)
    subprocess.run(["sfdisk", "-q", str(disk)], input=plan.sfdisk_script(), text=True,
                   check=True)
    for part in plan.partitions:
        _run(["dd", f"if={files[part.label]}", f"of={disk}", "bs=1M", f"seek={part.start_mib}",
              "conv=notrunc,sparse", "status=none"], f"placing {part.label}")
    return disk


def _uid_of(root: Path, user: str) -> int:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2])
    raise BuildError(f"the root filesystem has no user {user}: see firmware/setup-rootfs.sh")


def _manifest(plan: Plan, root: Path) -> dict[str, object]:
    listed = subprocess.run(["chroot", str(root), "dpkg-query", "-W",
                             "-f=${Package} ${Version}\n"],
                            capture_output=True, text=True, check=True).stdout
    client = subprocess.run([str(root / "opt/spicebox/bin/python"), "-c",
                             "import spicebox; print(spicebox.__version__)"],
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"board": plan.board.name, "arch": plan.board.arch, "suite": SUITE,
            "spicebox": client or "unknown",
            "packages": dict(line.split(" ", 1) for line in listed.splitlines() if line)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise BuildError(f"{what} failed ({argv[0]} exited {done.returncode}):\n{tail}")
