"""Firmware updates into the other A/B slot, on files standing in for the EFI system
partition and the slots' partitions (the image rig boots the real thing)."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import random
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from spicebox.cli import main
from spicebox.system import slotconfig, slots
from spicebox.system.errors import UpdateError
from spicebox.system.update import (
    Device,
    describe,
    install,
    keep,
    status,
    write_bundle,
)

SLOT_SIZE = 4 << 20


class Box:
    """A device booted from ``running``, with slot A's entry as the image ships it."""

    def __init__(self, root: Path, running: str = "a", board: str = "qemu-x86_64",
                 build: int = 100) -> None:
        self.device = Device(boot=root / "esp", cmdline=root / "cmdline",
                             disks=root / "dev", release=root / "release.json", efi=root)
        (root / "esp" / slots.ENTRIES).mkdir(parents=True)
        (root / "dev" / "by-partlabel").mkdir(parents=True)
        self.device.cmdline.write_text(f"root=PARTLABEL=root-{running} ro quiet\n")
        self.device.release.write_text(json.dumps({"board": board, "version": "0.1.0-old",
                                                   "build": build}))
        for slot in slots.SLOTS:
            self.device.slot_device(slot).write_bytes(b"\xee" * SLOT_SIZE)
        self.entry("a", 1)

    def entry(self, slot: str, generation: int, tries: str = "") -> Path:
        path = self.device.boot / slots.ENTRIES / f"spicebox-{slot}{tries}.conf"
        path.write_text(slots.entry_text(slot, generation, "0.1.0-old", "quiet"))
        return path

    def snapshot(self) -> dict[str, bytes]:
        base = self.device.boot.parent
        return {str(p.relative_to(base)): p.read_bytes()
                for p in sorted(base.rglob("*")) if p.is_file()}


def make_bundle(tmp: Path, *, board: str = "qemu-x86_64", build: int = 200,
                root_size: int = 3 << 20, tamper: dict[str, Any] | None = None,
                damage_root: bool = False, trees: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """A bundle's bytes, and the root image it holds; ``trees``: a Pi's device trees,
    boot files after linux and initrd."""
    tmp.mkdir()
    rng = random.Random(build)
    boot = ("linux", "initrd", *trees)
    (tmp / "linux").write_bytes(rng.randbytes(300_000))
    (tmp / "initrd").write_bytes(rng.randbytes(200_000))
    for name in trees:
        (tmp / name).write_bytes(rng.randbytes(40_000))
    image = rng.randbytes(root_size // 2) + bytes(root_size - root_size // 2)
    (tmp / "root.img").write_bytes(image)
    subprocess.run(["zstd", "-q", str(tmp / "root.img")], check=True)
    if damage_root:
        member = bytearray((tmp / "root.img.zst").read_bytes())
        member[len(member) // 2] ^= 0xFF
        (tmp / "root.img.zst").write_bytes(bytes(member))
    manifest: dict[str, Any] = {
        "board": board, "version": f"0.2.0-{build}", "build": build, "cmdline": "quiet",
        "files": {name: describe(tmp / name) for name in (*boot, "root.img")}}
    if trees:
        manifest["boot"] = list(boot)
    for key, value in (tamper or {}).items():
        manifest[key] = value
    out = io.BytesIO()
    write_bundle(out, manifest, {name: tmp / name for name in (*boot, "root.img.zst")},
                 mtime=build)
    return out.getvalue(), image


def data_offset(bundle: bytes, name: str) -> int:
    """Where member ``name``'s bytes start in ``bundle`` (its header is the 512 before)."""
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        return tar.getmember(name).offset_data


def test_an_update_goes_into_the_other_slot_and_boots_next(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    bundle, image = make_bundle(tmp_path / "bundle")
    installed = install(io.BytesIO(bundle), box.device)
    assert (installed.slot, installed.version) == ("b", "0.2.0-200")
    written = box.device.slot_device("b").read_bytes()
    assert written[:len(image)] == image and len(written) == SLOT_SIZE
    assert box.device.slot_device("a").read_bytes() == b"\xee" * SLOT_SIZE
    esp = box.device.boot
    assert (esp / "b" / "linux").read_bytes() == (tmp_path / "bundle/linux").read_bytes()
    assert (esp / "b" / "initrd").read_bytes() == (tmp_path / "bundle/initrd").read_bytes()
    assert sorted(p.name for p in (esp / slots.ENTRIES).iterdir()) == [
        "spicebox-a.conf", "spicebox-b+3.conf"]
    entry = (esp / slots.ENTRIES / "spicebox-b+3.conf").read_text()
    assert "version 2\n" in entry and "title Spicebox 0.2.0-200 (slot B)\n" in entry
    assert "options root=PARTLABEL=root-b ro panic=10 quiet\n" in entry
    assert "linux /b/linux\ninitrd /b/initrd\n" in entry
    assert not list(esp.rglob("*.new"))
    assert [e.slot for e in slots.boot_order(slots.read_entries(esp))] == ["b", "a"]
    assert status(box.device) == [
        "running: slot A, Spicebox 0.1.0-old for qemu-x86_64",
        "slot B: Spicebox 0.2.0-200 (slot B): new, 3 of 3 tries left (boots next)",
        "slot A: Spicebox 0.1.0-old (slot A): good"]


def test_from_slot_b_the_update_goes_to_a_and_replaces_its_entry(tmp_path: Path) -> None:
    box = Box(tmp_path / "box", running="b")
    box.device.cmdline.write_text("root=PARTLABEL=root-b ro quiet "
                                  "spicebox.provision=https://fleet.example/ splash\n")
    box.entry("b", 2)
    bundle, image = make_bundle(tmp_path / "bundle")
    assert install(io.BytesIO(bundle), box.device).entry == "spicebox-a+3.conf"
    assert box.device.slot_device("a").read_bytes()[:len(image)] == image
    entries = slots.read_entries(box.device.boot)
    assert sorted(p.name for p in (box.device.boot / slots.ENTRIES).iterdir()) == [
        "spicebox-a+3.conf", "spicebox-b.conf"]
    assert entries["a"].generation == 3
    # What the administrator added to the kernel command line stays; the rest is the new
    # firmware's.
    assert "options root=PARTLABEL=root-a ro panic=10 quiet spicebox.provision=" \
           "https://fleet.example/\n" in (box.device.boot / slots.ENTRIES /
                                          "spicebox-a+3.conf").read_text()
    assert slots.boot_order(entries)[0].slot == "a"


def test_a_slot_out_of_tries_sorts_last_and_says_so(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    box.entry("b", 2, "+0-3")
    order = slots.boot_order(slots.read_entries(box.device.boot))
    assert [e.slot for e in order] == ["a", "b"]
    assert status(box.device)[1:] == [
        "slot A: Spicebox 0.1.0-old (slot A): good (boots next)",
        "slot B: Spicebox 0.1.0-old (slot B): failed to boot (3 tries)"]
    trying = slots.parse_entry("spicebox-b+1-2.conf", "version 7")
    assert trying is not None and trying.state == "new, 1 of 3 tries left"
    assert slots.parse_entry("other.conf", "") is None


@pytest.mark.parametrize(("bundle_args", "message"), [
    ({"board": "rpi4"}, "the bundle is for rpi4, this box is qemu-x86_64"),
    ({"build": 50}, "is older than the running firmware (0.1.0-old): to go back on purpose, "
                    "add --downgrade"),
    ({"root_size": SLOT_SIZE + 4096}, "does not fit the slot"),
    ({"damage_root": True}, "the root image in the bundle is damaged"),
    ({"tamper": {"cmdline": 5}}, "the bundle's manifest has no valid cmdline"),
    ({"tamper": {"files": {}}}, "the bundle's manifest has no valid files.linux"),
])
def test_a_refused_bundle_says_why_and_leaves_the_running_slot_alone(
        tmp_path: Path, bundle_args: dict[str, Any], message: str) -> None:
    box = Box(tmp_path / "box")
    before = box.snapshot()
    bundle, _ = make_bundle(tmp_path / "bundle", **bundle_args)
    with pytest.raises(UpdateError) as refused:
        install(io.BytesIO(bundle), box.device)
    assert message in str(refused.value)
    after = box.snapshot()
    assert after["esp/loader/entries/spicebox-a.conf"] == \
        before["esp/loader/entries/spicebox-a.conf"]
    assert after["dev/by-partlabel/root-a"] == before["dev/by-partlabel/root-a"]
    # The other slot may be half written, but it has no entry, so it never boots.
    assert not [name for name in after if "spicebox-b" in name]


def test_a_file_that_does_not_match_the_manifest_is_not_booted(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    box.entry("b", 2)  # an earlier update, kept: it goes as soon as B is rewritten
    bundle, _ = make_bundle(tmp_path / "bundle")
    damaged = bytearray(bundle)
    damaged[data_offset(bundle, "linux") + 1000] ^= 1
    with pytest.raises(UpdateError, match="linux in the bundle does not match its manifest"):
        install(io.BytesIO(bytes(damaged)), box.device)
    assert list(slots.read_entries(box.device.boot)) == ["a"]


def test_a_cut_download_is_refused(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    bundle, _ = make_bundle(tmp_path / "bundle")
    with pytest.raises(UpdateError, match="the bundle is not a whole tar file"):
        install(io.BytesIO(bundle[:len(bundle) // 2]), box.device)
    with pytest.raises(UpdateError, match=r"'manifest\.json' belongs"):
        install(io.BytesIO(bundle[data_offset(bundle, "linux") - 512:]), box.device)
    assert list(slots.read_entries(box.device.boot)) == ["a"]


def test_one_update_at_a_time(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    bundle, _ = make_bundle(tmp_path / "bundle")
    with (box.device.boot / ".spicebox-update.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UpdateError, match="another update is being installed"):
            install(io.BytesIO(bundle), box.device)
    assert install(io.BytesIO(bundle), box.device).slot == "b"


def test_a_boot_partition_that_cannot_be_written_is_said_so(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    (box.device.boot / "b").write_text("a file where the slot's directory goes")
    bundle, _ = make_bundle(tmp_path / "bundle")
    with pytest.raises(UpdateError, match=r"cannot write the update \(File exists: .*/b\); "
                                          r"the running slot is untouched"):
        install(io.BytesIO(bundle), box.device)


def test_older_firmware_goes_in_when_asked_for(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    bundle, _ = make_bundle(tmp_path / "bundle", build=50)
    assert install(io.BytesIO(bundle), box.device, allow_older=True).slot == "b"


def test_a_system_not_booted_from_a_slot_is_told_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    box = Box(tmp_path / "box")
    box.device.cmdline.write_text("root=/dev/sda1 ro\n")
    with pytest.raises(UpdateError, match="not started from a Spicebox slot"):
        status(box.device)
    if "root=PARTLABEL=root-" not in Path("/proc/cmdline").read_text():
        assert main(["update", "status"]) == 2
        assert "not started from a Spicebox slot" in caplog.text


def test_a_bundle_that_cannot_be_read_is_said_so(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    assert main(["update", "install", str(tmp_path / "missing.tar")]) == 2
    assert f"cannot read {tmp_path / 'missing.tar'}: No such file or directory" in caplog.text


def test_a_bundle_that_is_not_the_one_named_gets_no_entry(tmp_path: Path) -> None:
    box = Box(tmp_path / "box")
    bundle, _ = make_bundle(tmp_path / "bundle")
    before = box.snapshot()[f"esp/{slots.ENTRIES}/spicebox-a.conf"]
    with pytest.raises(UpdateError, match="not the one the signed site names"):
        install(io.BytesIO(bundle), box.device, sha256="0" * 64)
    assert sorted(p.name for p in (box.device.boot / slots.ENTRIES).iterdir()) == [
        "spicebox-a.conf"]
    assert box.snapshot()[f"esp/{slots.ENTRIES}/spicebox-a.conf"] == before
    installed = install(io.BytesIO(bundle), box.device,
                        sha256=hashlib.sha256(bundle).hexdigest())
    assert installed.slot == "b"


DISK = "cafe0123"  # a Pi's MBR identifier
TREES = ("bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb")


class PiBox:
    """A Raspberry Pi booted from ``running``, its boot partition as the image ships it."""

    def __init__(self, root: Path, running: str = "a") -> None:
        self.device = Device(boot=root / "boot", cmdline=root / "cmdline",
                             disks=root / "dev", release=root / "release.json",
                             efi=root / "no-efi")
        (root / "boot" / "a").mkdir(parents=True)
        (root / "dev" / "by-partuuid").mkdir(parents=True)
        self.config = root / "boot" / slotconfig.PI.config
        self.config.write_text(slotconfig.pi_config(["arm_64bit=1"], running))
        (root / "boot" / "a" / "version").write_text("0.1.0-old\n")
        self.device.cmdline.write_text(
            f"root={slots.mbr_root_source(DISK, running)} ro quiet spicebox.provision=x\n")
        self.device.release.write_text(json.dumps({"board": "rpi4", "version": "0.1.0-old",
                                                   "build": 100}))
        for slot in slots.SLOTS:
            self.device.slot_device(slot).write_bytes(b"\xee" * SLOT_SIZE)

    def naming(self) -> slotconfig.Naming:
        return slotconfig.parse(slotconfig.PI, self.config.read_text())

    def boots(self, running: str) -> None:
        """A power-on, as far as config.txt and the kernel command line go."""
        self.device.cmdline.write_text(f"root={slots.mbr_root_source(DISK, running)} ro\n")


def pi_bundle(tmp: Path, build: int = 200) -> bytes:
    return make_bundle(tmp, board="rpi4", build=build, trees=TREES)[0]


def test_a_pi_update_goes_into_the_other_slot_and_is_tried_at_the_next_boot(
        tmp_path: Path) -> None:
    box = PiBox(tmp_path / "box")
    inode = box.config.stat().st_ino
    installed = install(io.BytesIO(pi_bundle(tmp_path / "bundle")), box.device)
    assert (installed.slot, installed.entry) == ("b", "config.txt")
    assert box.config.stat().st_ino == inode  # written over in place, not renamed over
    assert box.device.slot_device("b") == tmp_path / f"box/dev/by-partuuid/{DISK}-03"
    assert box.device.slot_device("b").read_bytes() != b"\xee" * SLOT_SIZE
    b = box.device.boot / "b"
    for name in ("linux", "initrd", *TREES):
        assert (b / name).read_bytes() == (tmp_path / "bundle" / name).read_bytes()
    # Its own root, the bundle's arguments and what the administrator added.
    assert (b / "cmdline.txt").read_text() == \
        f"root=PARTUUID={DISK}-03 ro panic=10 quiet spicebox.provision=x\n"
    assert box.naming() == slotconfig.Naming("b", "b", None)
    assert status(box.device) == [
        "running: slot A, Spicebox 0.1.0-old for rpi4",
        "slot B: Spicebox 0.2.0-200 (slot B): new, tried once at the next boot (boots next)",
        "slot A: Spicebox 0.1.0-old (slot A): good"]


def test_a_pi_slot_that_came_up_is_kept_and_one_that_did_not_is_said_so(
        tmp_path: Path) -> None:
    box = PiBox(tmp_path / "box")
    install(io.BytesIO(pi_bundle(tmp_path / "bundle")), box.device)
    trying = box.config.read_text()
    # B's initramfs names A again first (scripts/local-top/spicebox-trial).
    box.config.write_text(slotconfig.naming(slotconfig.PI, trying, "a", "tried b"))
    box.boots("b")
    assert status(box.device)[1:] == [
        "slot A: Spicebox 0.1.0-old (slot A): good (boots next)",
        "slot B: Spicebox 0.2.0-200 (slot B): on trial: kept once the kiosk is up"]
    assert keep(box.device) is True
    assert box.naming() == slotconfig.Naming("b", None, None)
    assert keep(box.device) is False  # kept already
    # Had B not come up, A boots and says so.
    box.config.write_text(slotconfig.naming(slotconfig.PI, trying, "a", "tried b"))
    box.boots("a")
    assert keep(box.device) is False
    assert status(box.device)[2] == "slot B: Spicebox 0.2.0-200 (slot B): failed to boot (1 try)"


def test_a_pi_update_after_a_failed_one_replaces_it(tmp_path: Path) -> None:
    box = PiBox(tmp_path / "box")
    install(io.BytesIO(pi_bundle(tmp_path / "first")), box.device)
    box.config.write_text(slotconfig.naming(slotconfig.PI, box.config.read_text(), "a", "tried b"))
    bad = bytearray(pi_bundle(tmp_path / "second", build=300))
    bad[data_offset(bytes(bad), TREES[0]) + 10] ^= 1
    with pytest.raises(UpdateError, match=r"bcm2711-rpi-4-b\.dtb in the bundle does not match"):
        install(io.BytesIO(bytes(bad)), box.device)
    # A half-written B is not named, nor does it keep its old command line or version.
    assert box.naming() == slotconfig.Naming("a", None, None)
    assert not (box.device.boot / "b" / "cmdline.txt").exists()
    assert status(box.device)[1:] == ["slot A: Spicebox 0.1.0-old (slot A): good (boots next)"]
    install(io.BytesIO(pi_bundle(tmp_path / "third", build=400)), box.device)
    assert (box.device.boot / "b" / "version").read_text() == "0.2.0-400\n"


@pytest.mark.parametrize("names", [["linux", "../config.txt"], [], "linux", [".hidden"]])
def test_a_bundle_naming_odd_boot_files_is_refused(tmp_path: Path, names: object) -> None:
    box = PiBox(tmp_path / "box")
    before = box.config.read_text()
    bundle, _ = make_bundle(tmp_path / "bundle", board="rpi4", tamper={"boot": names})
    with pytest.raises(UpdateError, match="the bundle's manifest has no valid boot"):
        install(io.BytesIO(bundle), box.device)
    assert box.config.read_text() == before
