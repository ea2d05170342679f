"""The two root slots (A/B) as systemd-boot sees them: one loader entry per slot on the
EFI system partition, ``loader/entries/spicebox-<slot>[+LEFT[-DONE]].conf``.

systemd-boot's boot counting ("Automatic Boot Assessment") does the switching and the
falling back, so nothing here runs at boot:

- an update writes the other slot and its entry last, as ``spicebox-b+3.conf`` with a
  higher ``version`` than the running slot's: systemd-boot puts it first and boots it;
- every boot of it costs a try (systemd-boot renames it ``+2-1``, then ``+1-2``...);
- a boot that reaches ``boot-complete.target`` (``spicebox-boot-check.service``: the
  kiosk's screen is up) is kept: ``systemd-bless-boot`` renames it ``spicebox-b.conf``;
- an entry with no tries left sorts after every other one, so the old slot boots again.

Pure: the image builder writes the first entry with the same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SLOTS = ("a", "b")
TRIES = 3
ENTRIES = Path("loader/entries")
# Where a slot's kernel and initramfs are on the EFI system partition.
KERNEL, INITRD = "linux", "initrd"
_NAME = re.compile(r"spicebox-(?P<slot>[ab])(?:\+(?P<left>\d+)(?:-(?P<done>\d+))?)?\.conf")
# How a slot's kernel names its root: by GPT partition name, or on an MBR (a Raspberry
# Pi's card) by the disk's identifier and the partition's number (2 is A, 3 is B).
_ROOT = re.compile(r"(?:^|\s)root=(?:PARTLABEL=root-(?P<slot>[ab])"
                   r"|PARTUUID=(?P<disk>[0-9a-f]{8})-0(?P<number>[23]))(?:\s|$)")


@dataclass(frozen=True)
class Entry:
    slot: str
    generation: int         # its ``version`` line: the highest boots first
    title: str
    tries_left: int | None  # None: counting is over, the slot is kept
    tries_done: int = 0

    @property
    def failed(self) -> bool:
        return self.tries_left == 0

    @property
    def state(self) -> str:
        if self.tries_left is None:
            return "good"
        if self.failed:
            return f"failed to boot ({self.tries_done} tries)"
        return f"new, {self.tries_left} of {self.tries_left + self.tries_done} tries left"


def other(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


def entry_name(slot: str, tries: int | None = None) -> str:
    return f"spicebox-{slot}{'' if tries is None else f'+{tries}'}.conf"


def entry_text(slot: str, generation: int, version: str, cmdline: str) -> str:
    """A slot's loader entry."""
    return (f"title Spicebox {version} (slot {slot.upper()})\n"
            f"sort-key spicebox\nversion {generation}\n"
            f"linux /{slot}/{KERNEL}\ninitrd /{slot}/{INITRD}\n"
            f"options {kernel_arguments(f'PARTLABEL=root-{slot}', cmdline)}\n")


def kernel_arguments(root: str, cmdline: str) -> str:
    """A slot's kernel command line. ``panic=10``: a kernel that cannot mount its root
    restarts (which costs a try) instead of waiting for somebody at the console."""
    return f"root={root} ro panic=10 {cmdline}"


def parse_entry(name: str, text: str) -> Entry | None:
    """The entry file ``name`` holds, or None if it is not a slot's."""
    found = _NAME.fullmatch(name)
    if found is None:
        return None
    fields = dict(line.strip().partition(" ")[::2] for line in text.splitlines()
                  if line.strip() and not line.startswith("#"))
    generation = fields.get("version", "0").strip()
    left, done = found["left"], found["done"]
    return Entry(found["slot"], int(generation) if generation.isdigit() else 0,
                 fields.get("title", "").strip(), None if left is None else int(left),
                 int(done or 0))


def read_entries(esp: Path) -> dict[str, Entry]:
    """The slots' entries on the EFI system partition mounted at ``esp``, by slot."""
    found: dict[str, Entry] = {}
    directory = esp / ENTRIES
    for path in sorted(directory.glob("spicebox-*.conf")) if directory.is_dir() else []:
        entry = parse_entry(path.name, path.read_text(errors="replace"))
        if entry is not None:
            found[entry.slot] = entry
    return found


def boot_order(entries: dict[str, Entry]) -> list[Entry]:
    """The order systemd-boot puts them in: entries out of tries last, then the highest
    ``version`` (all share one ``sort-key``)."""
    return sorted(entries.values(), key=lambda e: (e.failed, -e.generation, e.slot))


def local_arguments(cmdline: str) -> list[str]:
    """The ``spicebox.*`` arguments an administrator added to a slot's kernel command line
    (``spicebox.provision=URL``): an update keeps them."""
    return [word for word in cmdline.split() if word.startswith("spicebox.")]


def running_slot(cmdline: str) -> str | None:
    """The slot the kernel command line (``/proc/cmdline``) booted, if it was one."""
    found = _ROOT.search(cmdline)
    if found is None:
        return None
    return found["slot"] or SLOTS[int(found["number"]) - 2]


def root_source(cmdline: str, slot: str) -> str:
    """How ``slot``'s kernel names its root (``root=`` without the ``root=``), in the way
    the running kernel's ``cmdline`` names its own: ``PARTLABEL=root-b``, or
    ``PARTUUID=<disk>-03`` on an MBR."""
    found = _ROOT.search(cmdline)
    if found is not None and found["disk"]:
        return mbr_root_source(found["disk"], slot)
    return f"PARTLABEL=root-{slot}"


def mbr_root_source(disk_id: str, slot: str) -> str:
    return f"PARTUUID={disk_id}-0{SLOTS.index(slot) + 2}"
