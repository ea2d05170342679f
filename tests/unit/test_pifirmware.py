"""The Raspberry Pi's A/B state in config.txt: which slot boots and which one is on trial."""

from __future__ import annotations

import pytest

from spicebox.system.pifirmware import PiBoot, config_text, naming, parse_config, slot_states

BOARD = ["arm_64bit=1", "upstream_kernel=1"]


def test_the_first_config_boots_slot_a_with_the_boards_settings() -> None:
    text = config_text(BOARD, "a")
    lines = text.splitlines()
    assert lines[lines.index("[all]") + 1:] == [
        "arm_64bit=1", "upstream_kernel=1", "kernel=linux", "initramfs initrd followkernel",
        "os_prefix=a/"]
    assert parse_config(text) == PiBoot("a", None, None)


def test_a_new_slot_is_tried_then_given_up_or_kept() -> None:
    kept = config_text(BOARD, "a")
    trying = naming(kept, "b", "trying b")
    assert parse_config(trying) == PiBoot("b", "b", None)
    # What its initramfs writes before it mounts its root (the same change in shell).
    tried = naming(trying, "a", "tried b")
    assert parse_config(tried) == PiBoot("a", None, "b")
    assert tried.splitlines()[:-1] == kept.splitlines()  # the board's lines are untouched
    assert naming(tried, "b") == naming(kept, "b")
    assert parse_config(naming(tried, "b")) == PiBoot("b", None, None)


def test_a_config_that_names_no_slot_is_not_rewritten() -> None:
    with pytest.raises(ValueError, match="no os_prefix line"):
        naming("arm_64bit=1\n", "a")
    with pytest.raises(ValueError, match="no slot"):
        naming(config_text(BOARD, "a"), "c")
    assert parse_config("os_prefix=upstream/\n") == PiBoot(None, None, None)


@pytest.mark.parametrize(("boot", "running", "states"), [
    (PiBoot("a", None, None), "a", [("a", "good"), ("b", "good")]),
    (PiBoot("b", "b", None), "a", [("b", "new, tried once at the next boot"), ("a", "good")]),
    (PiBoot("a", None, "b"), "b", [("a", "good"), ("b", "on trial: kept once the kiosk is up")]),
    (PiBoot("a", None, "b"), "a", [("a", "good"), ("b", "failed to boot (1 try)")]),
])
def test_each_slot_is_described_the_one_that_boots_first(
        boot: PiBoot, running: str, states: list[tuple[str, str]]) -> None:
    assert slot_states(boot, running, {"a": "1", "b": "2"}) == states
    assert slot_states(boot, running, {"a": "1"}) == [s for s in states if s[0] == "a"]
