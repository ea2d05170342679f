"""The image builder, in the default suite: the qemu-x86_64 image built for real
(mmdebstrap, wheels, partitions; about three minutes), and checked without booting it
(`make test-image` boots it): its partitions, what its boot partition and root hold, and
its update bundle installed into slot B by the update code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from imagebuild.build import GPT_MBR, MBR_CODE

from spicebox.system.update import describe
from tests.rig.image import PARTITIONS, esp, install_update, loader_entries, read_partition

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("building an image needs root (mmdebstrap --mode=root)")
    out = tmp_path_factory.mktemp("image")
    done = subprocess.run([sys.executable, "-m", "imagebuild", "build", "qemu-x86_64",
                           "--out", str(out)], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO / "image-build")})
    assert done.returncode == 0, done.stderr
    return out


def debugfs(image: Path, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, str(image)], capture_output=True,
                          text=True, check=True).stdout


def test_the_image_is_an_a_b_disk_that_boots_slot_a(built: Path) -> None:
    table = json.loads(subprocess.run(["sfdisk", "-J", str(built / "disk.img")],
                                      capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    assert [p["name"] for p in table["partitions"]] == ["boot", "root-a", "root-b", "data"]
    assert [p["start"] // 2048 for p in table["partitions"]] == \
        [p.start_mib for p in PARTITIONS.values()]
    assert loader_entries(built / "disk.img") == ["spicebox-a.conf"]
    entry = subprocess.run(["mtype", "-i", esp(built / "disk.img"),
                            "::/loader/entries/spicebox-a.conf"],
                           capture_output=True, text=True, check=True).stdout
    assert "options root=PARTLABEL=root-a ro panic=10 quiet" in entry
    assert " splash " in entry
    listed = subprocess.run(["mdir", "-a", "-b", "-s", "-i", esp(built / "disk.img"), "::/"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert {"::/EFI/BOOT/BOOTX64.EFI", "::/a/linux", "::/a/initrd"} <= set(listed)
    # And for a BIOS: syslinux (its MBR code starts the partition marked bootable).
    assert {"::/ldlinux.sys", "::/syslinux.cfg", "::/a/slot.cfg"} <= set(listed)
    assert table["partitions"][0]["attrs"] == "LegacyBIOSBootable"
    with (built / "disk.img").open("rb") as disk:
        assert disk.read(MBR_CODE) == GPT_MBR.read_bytes()[:MBR_CODE]
    label = subprocess.run(["mtype", "-i", esp(built / "disk.img"), "::/a/slot.cfg"],
                           capture_output=True, text=True, check=True).stdout
    assert "  APPEND root=PARTLABEL=root-a ro panic=10 quiet" in label
    # Slot B is blank until the first update: the compressed image carries one root.
    with (built / "disk.img").open("rb") as disk:
        disk.seek(PARTITIONS["root-b"].start_mib * 1024 * 1024)
        assert disk.read(1 << 20) == bytes(1 << 20)


def test_the_root_holds_the_client_and_the_firmware(built: Path, tmp_path: Path) -> None:
    root = read_partition(built / "disk.img", PARTITIONS["root-a"], tmp_path / "root.img")
    manifest = json.loads((built / "manifest.json").read_text())
    release = json.loads(debugfs(root, "cat /usr/lib/spicebox/release.json"))
    assert release == {key: manifest[key] for key in ("board", "version", "build")}
    for path in ("/opt/spicebox/bin/spicebox", "/etc/systemd/system/spicebox-kiosk.service",
                 "/etc/initramfs-tools/scripts/local-bottom/spicebox-state",
                 "/usr/share/plymouth/themes/spicebox/logo.png",
                 "/usr/share/plymouth/themes/spicebox/spicebox.script", "/data"):
        assert "File not found" not in debugfs(root, f"stat {path}"), path
    assert debugfs(root, "cat /etc/machine-id") == ""  # made at first boot, on /data
    assert manifest["packages"]["python3-evdev"] and manifest["packages"]["plymouth"]
    # pyalsaaudio, compiled in the root; the compiler it took is gone again.
    listing = (built / "rootfs.list").read_text()
    assert "/alsaaudio.cpython-311-" in listing
    assert "gcc" not in manifest["packages"] and "python3-dev" not in manifest["packages"]
    # The wheels' libraries, without the debug information some ship with.
    uvloop = next(line.rsplit(" ", 1)[1] for line in listing.splitlines()
                  if "/uvloop/loop.cpython-311-" in line)
    size = int(debugfs(root, f"stat {uvloop}").split("Size: ", 1)[1].split()[0])
    assert size < 4 << 20, f"{uvloop} is {size} bytes: not stripped"
    assert len((built / "rootfs.list").read_text().splitlines()) > 10000
    # SSH: there, off until provisioning turns it on, and without host keys to share.
    assert manifest["packages"]["openssh-server"] and "/usr/sbin/sshd" in listing
    assert "/etc/ssh/ssh_host_" not in listing
    wants = "/etc/systemd/system/multi-user.target.wants/"
    assert wants + "spicebox-ssh.path" in listing and wants + "ssh.service" not in listing
    assert "/etc/systemd/system/timers.target.wants/spicebox-ssh.timer" in listing


def test_its_update_bundle_installs_into_slot_b(built: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(built / "disk.img"), str(disk)], check=True)
    assert install_update(disk, tmp_path, out=built) == "spicebox-b+3.conf"
    assert loader_entries(disk) == ["spicebox-a.conf", "spicebox-b+3.conf"]
    root_a, root_b = (describe(read_partition(disk, PARTITIONS[label], tmp_path / "p.img"))
                      for label in ("root-a", "root-b"))
    assert root_a == root_b  # the bundle holds the image's own root
