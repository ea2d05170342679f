"""The A/B state in the file that names the slot for the Raspberry Pi firmware
(config.txt) or syslinux (syslinux.cfg): which slot boots and which one is on trial."""

from __future__ import annotations

import pytest

from spicebox.system.slotconfig import (
    FORMATS,
    PI,
    SYSLINUX,
    Format,
    Naming,
    naming,
    parse,
    pi_config,
    slot_file,
    slot_states,
    syslinux_config,
)

BOARD = ["arm_64bit=1", "upstream_kernel=1"]
FIRST = {PI: pi_config(BOARD, "a"), SYSLINUX: syslinux_config("a")}


def test_the_first_config_txt_boots_slot_a_with_the_boards_settings() -> None:
    lines = FIRST[PI].splitlines()
    assert lines[lines.index("[all]") + 1:] == [
        "arm_64bit=1", "upstream_kernel=1", "kernel=linux", "initramfs initrd followkernel",
        "os_prefix=a/", "# spicebox: kept    "]
    assert slot_file(PI, "a", "root=X ro") == "root=X ro\n"


def test_syslinux_boots_the_default_slots_label_without_a_menu() -> None:
    assert FIRST[SYSLINUX].splitlines()[2:] == [
        "PROMPT 0", "TIMEOUT 0", "DEFAULT a", "# spicebox: kept    ", "INCLUDE /a/slot.cfg",
        "INCLUDE /b/slot.cfg"]
    assert slot_file(SYSLINUX, "b", "root=X ro").splitlines() == [
        "LABEL b", "  LINUX /b/linux", "  INITRD /b/initrd", "  APPEND root=X ro"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_new_slot_is_tried_then_given_up_or_kept(fmt: Format) -> None:
    kept = FIRST[fmt]
    assert parse(fmt, kept) == Naming("a", None, None)
    trying = naming(fmt, kept, "b", "trying b")
    assert parse(fmt, trying) == Naming("b", "b", None)
    # What its initramfs writes before it mounts its root (the same change in shell).
    tried = naming(fmt, trying, "a", "tried b")
    assert parse(fmt, tried) == Naming("a", None, "b")
    assert naming(fmt, tried, "a") == kept  # only the slot and its state line change
    assert naming(fmt, tried, "b") == naming(fmt, kept, "b")
    assert parse(fmt, naming(fmt, tried, "b")) == Naming("b", None, None)
    # Each change keeps the file's length: it is written over in place.
    assert {len(text) for text in (kept, trying, tried, naming(fmt, tried, "b"))} == {len(kept)}


def test_a_file_with_no_state_line_gets_one_and_extra_ones_go() -> None:
    bare = "PROMPT 0\nDEFAULT a\n"
    assert naming(SYSLINUX, bare, "b", "trying b") == "PROMPT 0\nDEFAULT b\n# spicebox: trying b\n"
    doubled = "DEFAULT a\n# spicebox: tried b \n# spicebox: trying a\n"
    assert naming(SYSLINUX, doubled, "a") == "DEFAULT a\n# spicebox: kept    \n"


def test_a_file_that_names_no_slot_is_not_rewritten() -> None:
    with pytest.raises(ValueError, match=r"config\.txt names no slot"):
        naming(PI, "arm_64bit=1\n", "a")
    with pytest.raises(ValueError, match="no slot 'c'"):
        naming(PI, FIRST[PI], "c")
    assert parse(PI, "os_prefix=upstream/\n") == Naming(None, None, None)
    assert parse(SYSLINUX, "DEFAULT vesamenu.c32\n") == Naming(None, None, None)


@pytest.mark.parametrize(("boot", "running", "states"), [
    (Naming("a", None, None), "a", [("a", "good"), ("b", "good")]),
    (Naming("b", "b", None), "a", [("b", "new, tried once at the next boot"), ("a", "good")]),
    (Naming("a", None, "b"), "b", [("a", "good"), ("b", "on trial: kept once the kiosk is up")]),
    (Naming("a", None, "b"), "a", [("a", "good"), ("b", "failed to boot (1 try)")]),
])
def test_each_slot_is_described_the_one_that_boots_first(
        boot: Naming, running: str, states: list[tuple[str, str]]) -> None:
    assert slot_states(boot, running, {"a": "1", "b": "2"}) == states
    assert slot_states(boot, running, {"a": "1"}) == [s for s in states if s[0] == "a"]
