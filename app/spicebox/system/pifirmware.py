"""The two root slots (A/B) as the Raspberry Pi firmware sees them: ``config.txt`` on the
boot partition names the slot that boots, ``os_prefix=a/``, and the firmware loads that
slot's kernel, initramfs, device trees and ``cmdline.txt`` from its folder.

The firmware's own one-time boot (``tryboot``) has to be asked for by the kernel, and only
Raspberry Pi's kernel can; Debian's cannot. So a new slot is tried this way, its state kept
in a comment of config.txt (one file: one rename changes the slot and its state together):

- an update writes the other slot's folder and root, then config.txt naming that slot,
  marked ``# spicebox: trying b``;
- its initramfs (``scripts/local-premount/spicebox-trial``), before it mounts its root,
  names the old slot again, marked ``# spicebox: tried b``, and leaves
  ``/run/spicebox/trial``: whatever fails from there on (the root, the system, a kiosk that
  never comes up: ``spicebox-boot-check.service``) restarts into the old slot;
- once the kiosk is up, ``spicebox update keep`` names the new slot again, for good.

Not caught: a kernel that fails before its initramfs runs restarts into itself.

Pure: the image builder writes the first config.txt with the same functions, and the
initramfs script makes the same change as :func:`naming` in shell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .slots import INITRD, KERNEL, SLOTS

CONFIG = "config.txt"
CMDLINE = "cmdline.txt"
VERSION = "version"  # in the slot's folder: its firmware version, for `update status`
TRIAL = "/run/spicebox/trial"  # left by the initramfs of a slot on trial
_PREFIX = re.compile(r"os_prefix=(?P<slot>[ab])/")
_MARK = re.compile(r"# spicebox: (?P<state>trying|tried) (?P<slot>[ab])")


@dataclass(frozen=True)
class PiBoot:
    slot: str | None    # the slot the firmware boots
    trying: str | None  # a new slot, not booted yet
    tried: str | None   # a new slot booted once and not kept (yet)


def config_text(board_lines: Sequence[str], slot: str) -> str:
    """The first config.txt: the board's settings, then the slot's files."""
    return "\n".join([
        "# Spicebox: os_prefix names the root slot that boots; `spicebox update` writes",
        "# this file (settings for the board belong in its board.toml).",
        "[all]", *board_lines,
        f"kernel={KERNEL}", f"initramfs {INITRD} followkernel", f"os_prefix={slot}/"]) + "\n"


def parse_config(text: str) -> PiBoot:
    slot = trying = tried = None
    for line in text.splitlines():
        if found := _PREFIX.fullmatch(line.strip()):
            slot = found["slot"]
        elif found := _MARK.fullmatch(line.strip()):
            if found["state"] == "trying":
                trying = found["slot"]
            else:
                tried = found["slot"]
    return PiBoot(slot, trying, tried)


def naming(text: str, slot: str, mark: str | None = None) -> str:
    """``text`` booting ``slot``, marked ``mark`` (``"trying b"``) or unmarked."""
    if slot not in SLOTS:
        raise ValueError(f"no slot {slot!r}")
    lines = [f"os_prefix={slot}/" if _PREFIX.fullmatch(line.strip()) else line
             for line in text.splitlines() if not _MARK.fullmatch(line.strip())]
    if f"os_prefix={slot}/" not in lines:
        raise ValueError("config.txt names no slot (no os_prefix line): not Spicebox's")
    return "\n".join([*lines, *([f"# spicebox: {mark}"] if mark else [])]) + "\n"


def slot_states(boot: PiBoot, running: str, versions: dict[str, str]) -> list[tuple[str, str]]:
    """Each slot that holds firmware (``versions``, by slot) and what it is, the one the
    firmware boots first: for ``spicebox update status``."""
    def state(slot: str) -> str:
        if boot.trying == slot:
            return "new, tried once at the next boot"
        if boot.tried == slot:
            return ("on trial: kept once the kiosk is up" if slot == running
                    else "failed to boot (1 try)")
        return "good"
    return [(slot, state(slot)) for slot in sorted(versions, key=lambda s: (s != boot.slot, s))]
