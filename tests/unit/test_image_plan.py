"""The image builder's planning step for every board: what `make image` would put on
the disk, checked without building anything (the build runs in `make test-image`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagebuild import build
from imagebuild.__main__ import main
from imagebuild.boards import BoardError, load, names
from imagebuild.plan import BASE_PACKAGES, ESP, FIRMWARE_CMDLINE, ROOT, plan

from spicebox.system import slots


def test_the_boards_are_the_folders_of_board() -> None:
    assert names() == ["qemu-arm64", "qemu-x86_64", "rpi4", "rpi5"]


@pytest.mark.parametrize("name", names())
def test_every_board_plans_a_bootable_a_b_layout(name: str) -> None:
    board = load(name)
    planned = plan(board)
    assert set(BASE_PACKAGES) <= set(planned.packages)
    assert "plymouth" in planned.packages and planned.cmdline.endswith(FIRMWARE_CMDLINE)
    assert any(p.startswith(f"linux-image-{board.arch}") for p in planned.packages)
    assert len(planned.packages) == len(set(planned.packages))
    labels = [p.label for p in planned.partitions]
    assert labels == ["boot", "root-a", "root-b", "data"]
    boot, root_a, root_b, _ = planned.partitions
    assert boot.filesystem == "vfat" and root_a.size_mib == root_b.size_mib
    assert root_a.type == root_b.type
    starts = [p.start_mib for p in planned.partitions]
    ends = [p.end_mib for p in planned.partitions]
    assert starts[0] >= 1
    assert all(end <= start for end, start in zip(ends[:-1], starts[1:], strict=True))
    assert planned.disk_mib > ends[-1]  # room for the GPT's backup
    if board.boot_method == "uefi":
        assert boot.type == ESP and root_a.type == ROOT[board.arch]
        # systemd-boot-efi boots the slots, systemd-boot's bless-boot keeps a new one.
        assert {"systemd-boot-efi", "systemd-boot"} <= set(planned.packages)
    else:
        assert board.partitions.table == "dos" and boot.type == "c"
        assert any(p.startswith("raspi-firmware") for p in planned.packages)


def test_the_partition_table_is_an_sfdisk_script() -> None:
    script = plan(load("qemu-x86_64")).sfdisk_script()
    assert script.splitlines() == [
        "label: gpt", "unit: sectors", "",
        f'start=2048, size=524288, type={ESP}, name="boot", attrs="LegacyBIOSBootable"',
        f'start=526336, size=2621440, type={ROOT["amd64"]}, name="root-a"',
        f'start=3147776, size=2621440, type={ROOT["amd64"]}, name="root-b"',
        'start=5769216, size=131072, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"',
    ]
    assert "name=" not in plan(load("rpi4")).sfdisk_script()  # MBR partitions have none


def test_an_unknown_board_names_the_ones_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "pi4"]) == 2
    assert "no board 'pi4': the boards are qemu-arm64, qemu-x86_64, rpi4, rpi5" in \
        capsys.readouterr().err


GOOD = """description = "d"
arch = "amd64"
packages = ["linux-image-amd64"]
[boot]
method = "uefi"
cmdline = "quiet"
[partitions]
table = "gpt"
boot = 256
root = 1024
data = 64
"""


@pytest.mark.parametrize(("old", "new", "words"), [
    ('arch = "amd64"', 'arch = "mips"', "arch must be one of amd64, arm64"),
    ('[boot]\nmethod = "uefi"\ncmdline = "quiet"\n', "", "[boot] is missing"),
    ("boot = 256", "boot = 1", "partitions.boot must be a size in MiB"),
    ('method = "uefi"', 'method = "pxe"', "boot.method must be one of uefi, raspberrypi"),
    ("[partitions]", "[partitions", "not valid TOML"),
    ('cmdline = "quiet"', 'cmdline = "quiet"\nbios = "yes"', "boot.bios must be true or false"),
    ('arch = "amd64"\npackages = ["linux-image-amd64"]\n[boot]\nmethod = "uefi"\n'
     'cmdline = "quiet"', 'arch = "arm64"\npackages = ["linux-image-arm64"]\n[boot]\n'
     'method = "uefi"\ncmdline = "quiet"\nbios = true', "boot.bios is for amd64 boards"),
])
def test_broken_board_data_is_named(tmp_path: Path, old: str, new: str, words: str) -> None:
    (tmp_path / "bad").mkdir()
    assert old in GOOD
    (tmp_path / "bad" / "board.toml").write_text(GOOD.replace(old, new))
    with pytest.raises(BoardError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load("bad", tmp_path)
    (tmp_path / "bad" / "board.toml").write_text(GOOD)
    assert load("bad", tmp_path).partitions.boot == 256


def test_a_raspberry_pi_needs_an_mbr(tmp_path: Path) -> None:
    (tmp_path / "pi").mkdir()
    text = Path(__file__).parents[2].joinpath("board/rpi4/board.toml").read_text()
    (tmp_path / "pi" / "board.toml").write_text(text.replace('table = "dos"', 'table = "gpt"'))
    with pytest.raises(BoardError, match="must be \"dos\""):
        load("pi", tmp_path)


def test_a_raspberry_pi_names_its_device_trees(tmp_path: Path) -> None:
    (tmp_path / "pi").mkdir()
    text = Path(__file__).parents[2].joinpath("board/rpi4/board.toml").read_text()
    (tmp_path / "pi" / "board.toml").write_text(
        text.replace('device_trees = ["broadcom/bcm2711-rpi-*.dtb"]', ""))
    with pytest.raises(BoardError, match=r"boot\.device_trees must name"):
        load("pi", tmp_path)


def test_an_mbr_names_partitions_by_the_boards_disk_identifier() -> None:
    """The root of any later rpi4 build finds the partitions of a card written with an
    earlier one: the identifier is the board's, and the app's slots read it the same way."""
    pi = plan(load("rpi4"))
    assert pi.disk_id == plan(load("rpi4")).disk_id != plan(load("rpi5")).disk_id
    assert f"label-id: 0x{pi.disk_id}" in pi.sfdisk_script().splitlines()
    assert pi.source("boot") == f"PARTUUID={pi.disk_id}-01"
    for slot in slots.SLOTS:
        assert pi.source(f"root-{slot}") == slots.mbr_root_source(pi.disk_id, slot)
        cmdline = slots.kernel_arguments(pi.source(f"root-{slot}"), pi.cmdline)
        assert slots.running_slot(cmdline) == slot
        assert slots.root_source(cmdline, slots.other(slot)) == \
            pi.source(f"root-{slots.other(slot)}")
    assert "fdisk" in pi.packages  # sfdisk grows the data partition at first boot
    uefi = plan(load("qemu-x86_64"))
    assert uefi.source("boot") == "PARTLABEL=boot" and "fdisk" not in uefi.packages
    assert "label-id" not in uefi.sfdisk_script()


def test_only_the_x86_board_also_boots_from_a_bios() -> None:
    assert load("qemu-x86_64").bios and not load("qemu-arm64").bios
    assert "attrs" not in plan(load("qemu-arm64")).sfdisk_script()


def test_a_board_that_cannot_be_built_yet_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "rpi5"]) == 2
    assert "rpi5 cannot be built yet: Debian 12's kernels do not drive the Pi 5's RP1" in \
        capsys.readouterr().err


def test_a_missing_mbr_code_names_its_package(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """syslinux only recommends the package with its MBR code: without it the builder
    says what to install, instead of failing halfway with a traceback."""
    monkeypatch.setattr(build, "GPT_MBR", tmp_path / "gptmbr.bin")
    with pytest.raises(build.BuildError, match="syslinux-common"):
        build.check_tools()
