"""The two root slots (A/B) for boot loaders that boot the slot one line of a file on the
boot partition names, and count nothing:

- the Raspberry Pi firmware: ``config.txt``'s ``os_prefix=a/`` (it loads that folder's
  kernel, initramfs, device trees and ``cmdline.txt``);
- syslinux, on x86 machines that boot from a BIOS: ``syslinux.cfg``'s ``DEFAULT a`` (the
  label that ``a/slot.cfg`` defines).

(On UEFI machines systemd-boot counts tries itself: :mod:`.slots`.) Neither can try a slot
once by itself as used here: the Pi's ``tryboot`` has to be asked for by the kernel, which
only Raspberry Pi's kernel can, not Debian's. So a new slot is tried this way, its state
kept in a comment of that same file:

- an update writes the other slot's folder and root, then the file naming that slot,
  marked ``# spicebox: trying b``;
- its initramfs (``scripts/local-top/spicebox-trial``), before it mounts its root,
  names the old slot again, marked ``# spicebox: tried b``, and leaves
  ``/run/spicebox/trial``: whatever fails from there on (the root, the system, a kiosk that
  never comes up: ``spicebox-boot-check.service``) restarts into the old slot;
- once the kiosk is up, ``spicebox update keep`` names the new slot again, for good.

Not caught: a kernel that fails before its initramfs runs restarts into itself.

Every change keeps the file's length (the slot's letter, a state padded to one width), so
it is written over in place, one sector of a small file: FAT has no atomic rename, and a
card whose config.txt went missing in a power cut would not boot at all.

Pure: the image builder writes the first files with the same functions, and the initramfs
script makes the same change as :func:`naming` in shell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .slots import INITRD, KERNEL, SLOTS

VERSION = "version"  # in the slot's folder: its firmware version, for `update status`
_MARK = re.compile(r"# spicebox: (?P<state>trying|tried|kept) ?(?P<slot>[ab]?)")
_MARK_WIDTH = len("trying b")


@dataclass(frozen=True)
class Format:
    config: str          # the file on the boot partition that names the slot
    naming_line: str     # how it names it ({slot})
    slot_file: str       # the file in a slot's folder that says how to start it

    def names(self, line: str) -> str | None:
        """The slot ``line`` names, if it is the naming line."""
        for slot in SLOTS:
            if line.strip() == self.naming_line.format(slot=slot):
                return slot
        return None


PI = Format("config.txt", "os_prefix={slot}/", "cmdline.txt")
SYSLINUX = Format("syslinux.cfg", "DEFAULT {slot}", "slot.cfg")
FORMATS = (PI, SYSLINUX)


@dataclass(frozen=True)
class Naming:
    slot: str | None    # the slot that boots
    trying: str | None  # a new slot, not booted yet
    tried: str | None   # a new slot booted once and not kept (yet)


def pi_config(board_lines: Sequence[str], slot: str) -> str:
    """The first config.txt: the board's settings, then the slot's files."""
    return "\n".join([
        "# Spicebox: os_prefix names the root slot that boots; `spicebox update` writes",
        "# this file (settings for the board belong in its board.toml).",
        "[all]", *board_lines,
        f"kernel={KERNEL}", f"initramfs {INITRD} followkernel", PI.naming_line.format(slot=slot),
        _mark_line(None)]) + "\n"


def syslinux_config(slot: str) -> str:
    """syslinux.cfg: no menu, no wait, the slot DEFAULT names; each slot's label is its
    own file (a slot not written yet has none, which syslinux passes over)."""
    return "\n".join([
        "# Spicebox: DEFAULT names the root slot that boots; `spicebox update` writes",
        "# this file and each slot's slot.cfg.",
        "PROMPT 0", "TIMEOUT 0", SYSLINUX.naming_line.format(slot=slot), _mark_line(None),
        *(f"INCLUDE /{s}/{SYSLINUX.slot_file}" for s in SLOTS)]) + "\n"


def slot_file(fmt: Format, slot: str, kernel_arguments: str) -> str:
    """What goes in the slot's folder beside its kernel: its command line for the Pi
    firmware, its label for syslinux."""
    if fmt is PI:
        return kernel_arguments + "\n"
    return (f"LABEL {slot}\n  LINUX /{slot}/{KERNEL}\n  INITRD /{slot}/{INITRD}\n"
            f"  APPEND {kernel_arguments}\n")


def parse(fmt: Format, text: str) -> Naming:
    slot = trying = tried = None
    for line in text.splitlines():
        if (named := fmt.names(line)) is not None:
            slot = named
        elif found := _MARK.fullmatch(line.strip()):
            if found["state"] == "trying":
                trying = found["slot"]
            elif found["state"] == "tried":
                tried = found["slot"]
    return Naming(slot, trying, tried)


def naming(fmt: Format, text: str, slot: str, mark: str | None = None) -> str:
    """``text`` booting ``slot``, marked ``mark`` (``"trying b"``) or kept; as long as
    ``text`` if that has its state line."""
    if slot not in SLOTS:
        raise ValueError(f"no slot {slot!r}")
    named = fmt.naming_line.format(slot=slot)
    lines = [named if fmt.names(line) else line for line in text.splitlines()]
    if named not in lines:
        raise ValueError(f"{fmt.config} names no slot: not Spicebox's")
    state = [i for i, line in enumerate(lines) if _MARK.fullmatch(line.strip())]
    if not state:
        lines.append(_mark_line(mark))
    else:
        lines[state[0]] = _mark_line(mark)
        lines = [line for i, line in enumerate(lines) if i not in state[1:]]
    return "\n".join(lines) + "\n"


def _mark_line(mark: str | None) -> str:
    return f"# spicebox: {mark or 'kept':<{_MARK_WIDTH}}"


def slot_states(naming: Naming, running: str, versions: dict[str, str]) -> list[tuple[str, str]]:
    """Each slot that holds firmware (``versions``, by slot) and what it is, the one that
    boots first: for ``spicebox update status``."""
    def state(slot: str) -> str:
        if naming.trying == slot:
            return "new, tried once at the next boot"
        if naming.tried == slot:
            return ("on trial: kept once the kiosk is up" if slot == running
                    else "failed to boot (1 try)")
        return "good"
    return [(slot, state(slot)) for slot in sorted(versions, key=lambda s: (s != naming.slot, s))]
