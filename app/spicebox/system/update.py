"""Firmware updates: an update bundle written into the root slot that is not running.

A bundle is one uncompressed tar, read as a stream (``curl URL | spicebox update install -``
needs no room for it on the device), made by the image builder with :func:`write_bundle`:

- ``manifest.json`` first: the board, the version, the build time, the kernel command line,
  the boot files' names (``boot``) and the size and SHA-256 of each file below (of the
  root image uncompressed);
- the boot files: ``linux`` and ``initrd`` (and a Raspberry Pi's device trees), which go
  to ``/<slot>/`` on the boot partition;
- ``root.img.zst``: the root file system, written to the slot's partition (``zstd``).

What boots a slot is the boot loader's: systemd-boot's loader entries (:mod:`.slots`), or
the file that names the slot for the Raspberry Pi firmware or syslinux (:mod:`.slotconfig`).
The other slot stops being bootable first and becomes bootable last, on trial, so a slot
half written never boots and a slot that does not come up falls back. Everything written
is read back and checked against the manifest; SD cards lie about writes more often than
people think.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from . import slotconfig, slots
from .errors import UpdateError

MANIFEST = "manifest.json"
ROOT_IMAGE = "root.img"
ROOT_MEMBER = "root.img.zst"
BOOT_FILES = (slots.KERNEL, slots.INITRD)  # a manifest without ``boot`` means these
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
RELEASE = Path("/usr/lib/spicebox/release.json")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Device:
    """Where this device keeps its slots (a test points them at files)."""
    boot: Path = Path("/boot/efi")  # the EFI system partition, or a Pi's firmware partition
    cmdline: Path = Path("/proc/cmdline")
    disks: Path = Path("/dev/disk")  # by-partlabel/root-b, or by-partuuid/<disk>-03
    release: Path = RELEASE
    efi: Path = Path("/sys/firmware/efi")  # there when UEFI started the system

    def slot_device(self, slot: str) -> Path:
        kind, _, name = slots.root_source(self.cmdline.read_text(), slot).partition("=")
        return self.disks / ("by-partuuid" if kind == "PARTUUID" else "by-partlabel") / name

    def running(self) -> str:
        slot = slots.running_slot(self.cmdline.read_text())
        if slot is None:
            raise UpdateError("this system was not started from a Spicebox slot (its kernel "
                              "command line names neither root-a nor root-b)")
        return slot

    def running_release(self) -> dict[str, Any]:
        try:
            release = json.loads(self.release.read_text())
        except (OSError, ValueError) as exc:
            raise UpdateError(f"{self.release} cannot be read ({exc}): this root was not "
                              f"made by the image builder") from None
        return release if isinstance(release, dict) else {}

    def loader(self) -> BootLoader:
        """The boot loader that started the system: systemd-boot when UEFI did (an x86
        image has syslinux too, for machines with a BIOS), else the one whose file on the
        boot partition names a slot."""
        if not self.efi.is_dir():
            for fmt in slotconfig.FORMATS:
                config = self.boot / fmt.config
                if config.is_file() and slotconfig.parse(fmt, config.read_text()).slot:
                    return SlotConfig(self, fmt)
        return SystemdBoot(self)


class BootLoader(Protocol):
    """What makes a slot boot, as the device's boot loader has it."""

    def forget(self, slot: str) -> None:
        """``slot`` does not boot (before it is written)."""

    def add(self, slot: str, manifest: dict[str, Any]) -> str:
        """``slot``, written, boots next, on trial; says what file made it so."""

    def states(self) -> list[tuple[str, str, str]]:
        """Each slot that holds firmware, its title and its state, in boot order."""

    def keep(self) -> bool:
        """The running slot, on trial and up, is kept; False if there was nothing to do."""


class SystemdBoot:
    """Loader entries with boot counting (:mod:`.slots`); systemd-bless-boot keeps a slot."""

    def __init__(self, device: Device) -> None:
        self.device = device

    def forget(self, slot: str) -> None:
        directory = self.device.boot / slots.ENTRIES
        for path in directory.glob(f"spicebox-{slot}*.conf"):
            if slots.parse_entry(path.name, "") is not None:
                path.unlink()
        _sync_directory(directory)

    def add(self, slot: str, manifest: dict[str, Any]) -> str:
        """The slot's entry, with its tries and the highest version: it boots next."""
        entries = slots.read_entries(self.device.boot)
        generation = max((e.generation for e in entries.values()), default=0) + 1
        name = slots.entry_name(slot, slots.TRIES)
        _write_atomically(self.device.boot / slots.ENTRIES / name, slots.entry_text(
            slot, generation, manifest["version"], _cmdline(self.device, manifest)).encode())
        return name

    def states(self) -> list[tuple[str, str, str]]:
        return [(entry.slot, entry.title or "?", entry.state)
                for entry in slots.boot_order(slots.read_entries(self.device.boot))]

    def keep(self) -> bool:
        return False  # systemd-bless-boot does, after boot-complete.target


class SlotConfig:
    """A file naming the slot, and a slot on trial (:mod:`.slotconfig`)."""

    def __init__(self, device: Device, fmt: slotconfig.Format) -> None:
        self.device, self.fmt = device, fmt
        self.config = device.boot / fmt.config

    def forget(self, slot: str) -> None:
        running = slots.other(slot)
        text = self.config.read_text()
        if slotconfig.parse(self.fmt, text) != slotconfig.Naming(running, None, None):
            _write_in_place(self.config, slotconfig.naming(self.fmt, text, running).encode())
        for name in (self.fmt.slot_file, slotconfig.VERSION):
            (self.device.boot / slot / name).unlink(missing_ok=True)

    def add(self, slot: str, manifest: dict[str, Any]) -> str:
        folder = self.device.boot / slot
        root = slots.root_source(self.device.cmdline.read_text(), slot)
        arguments = slots.kernel_arguments(root, _cmdline(self.device, manifest))
        _write_atomically(folder / slotconfig.VERSION, f"{manifest['version']}\n".encode())
        _write_atomically(folder / self.fmt.slot_file,
                          slotconfig.slot_file(self.fmt, slot, arguments).encode())
        _write_in_place(self.config, slotconfig.naming(
            self.fmt, self.config.read_text(), slot, f"trying {slot}").encode())
        return self.fmt.config

    def states(self) -> list[tuple[str, str, str]]:
        versions = {slot: path.read_text().strip() for slot in slots.SLOTS
                    if (path := self.device.boot / slot / slotconfig.VERSION).is_file()}
        found = slotconfig.slot_states(slotconfig.parse(self.fmt, self.config.read_text()),
                                       self.device.running(), versions)
        return [(slot, f"Spicebox {versions[slot]} (slot {slot.upper()})", state)
                for slot, state in found]

    def keep(self) -> bool:
        running = self.device.running()
        text = self.config.read_text()
        if slotconfig.parse(self.fmt, text).tried != running:
            return False
        _write_in_place(self.config, slotconfig.naming(self.fmt, text, running).encode())
        return True


@dataclass(frozen=True)
class Installed:
    slot: str
    version: str
    entry: str  # what makes it boot: its loader entry's file name, or config.txt or syslinux.cfg


def status(device: Device) -> list[str]:
    """What ``spicebox update status`` prints: the running slot, and each slot in the order
    the boot loader tries them."""
    running = device.running()
    release = device.running_release()
    lines = [f"running: slot {running.upper()}, Spicebox {release.get('version', '?')} "
             f"for {release.get('board', '?')}"]
    for position, (slot, title, state) in enumerate(device.loader().states()):
        first = " (boots next)" if position == 0 else ""
        lines.append(f"slot {slot.upper()}: {title}: {state}{first}")
    return lines


def keep(device: Device) -> bool:
    """``spicebox update keep``: the running slot, on trial and up, is kept."""
    try:
        return device.loader().keep()
    except PermissionError as exc:
        raise UpdateError(f"cannot write {exc.filename}: keeping a slot needs root") from None


def install(bundle: IO[bytes], device: Device, *, allow_older: bool = False,
            sha256: str | None = None) -> Installed:
    """``sha256``: the whole bundle's, as a signed provisioning index names it; a bundle
    that is not that one never gets a boot entry."""
    target = slots.other(device.running())
    release = device.running_release()
    loader = device.loader()
    hashed = _Hashed(bundle)
    try:
        with _one_at_a_time(device), tarfile.open(fileobj=hashed, mode="r|") as tar:
            members = _members(tar)
            manifest = _manifest(next(members, None), release, allow_older)
            loader.forget(target)
            for name in boot_files(manifest):
                _write_boot_file(next(members, None), name, manifest, device.boot / target)
            _write_root(next(members, None), manifest, device.slot_device(target))
            extra = next(members, None)
            if extra is not None:
                raise UpdateError(f"the bundle holds {extra[0].name!r} after its root "
                                  f"image: not a Spicebox update")
            if sha256 is not None and hashed.rest() != sha256:
                raise UpdateError("the bundle is not the one the signed site names (its "
                                  "SHA-256 differs): its slot will not boot")
            # Last, and still under the lock: another install cannot rewrite the slot
            # between its check and its entry.
            name = loader.add(target, manifest)
    except (tarfile.TarError, EOFError) as exc:
        raise UpdateError(f"the bundle is not a whole tar file ({exc}): download it "
                          f"again") from None
    except PermissionError as exc:
        raise UpdateError(f"cannot write {exc.filename}: updating needs root") from None
    except OSError as exc:
        raise UpdateError(f"cannot write the update ({exc.strerror}: {exc.filename}); the "
                          f"running slot is untouched") from None
    return Installed(target, manifest["version"], name)


class _Hashed(io.RawIOBase):
    """A bundle being read, hashed as it goes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream, self._hash = stream, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        self._hash.update(data)
        buffer[:len(data)] = data
        return len(data)

    def rest(self) -> str:
        """The whole stream's SHA-256 (what tar did not need is read to its end)."""
        for chunk in _chunks(self._stream):
            self._hash.update(chunk)
        return self._hash.hexdigest()


def read_manifest(path: Path) -> dict[str, Any]:
    """A bundle file's manifest, checked for the fields an install needs."""
    try:
        with open(path, "rb") as bundle, tarfile.open(fileobj=bundle, mode="r|") as tar:
            return _read_manifest(next(_members(tar), None))
    except OSError as exc:
        raise UpdateError(f"cannot read {path}: {exc.strerror}") from None
    except (tarfile.TarError, EOFError):
        raise UpdateError(f"{path} is not a tar file: not a Spicebox update") from None
    except UpdateError as exc:
        raise UpdateError(f"{path}: {exc}") from None


def _cmdline(device: Device, manifest: dict[str, Any]) -> str:
    """The new slot's kernel arguments after its root: the bundle's, and the ``spicebox.*``
    ones an administrator added to the running slot's."""
    return " ".join([manifest["cmdline"], *slots.local_arguments(device.cmdline.read_text())])


def boot_files(manifest: dict[str, Any]) -> list[str]:
    """The names of the files a bundle holds for the boot partition, in their order."""
    return list(manifest.get("boot", BOOT_FILES))


@contextmanager
def _one_at_a_time(device: Device) -> Iterator[None]:
    """Two updates at once (provisioning and an administrator) would write one slot."""
    with (device.boot / ".spicebox-update.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateError("another update is being installed: wait for it") from None
        yield


def write_bundle(out: IO[bytes], manifest: dict[str, Any], files: dict[str, Path],
                 mtime: int) -> None:
    """The image builder's half: ``files`` are the boot files in the manifest's order
    (``boot``), then root.img.zst; the manifest describes each (the root image
    uncompressed)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        tar.addfile(_tarinfo(MANIFEST, len(data), mtime), io.BytesIO(data))
        for name, path in files.items():
            with path.open("rb") as f:
                tar.addfile(_tarinfo(name, path.stat().st_size, mtime), f)


def describe(path: Path) -> dict[str, Any]:
    """A file's entry in a manifest's ``files``."""
    return {"size": path.stat().st_size, "sha256": sha256_of(path)}


def sha256_of(path: Path, length: int | None = None) -> str:
    """The SHA-256 of a file, or of its first ``length`` bytes (a partition holds more
    than the image written to it)."""
    digest, left = hashlib.sha256(), length
    with path.open("rb") as f:
        while left != 0 and (block := f.read(CHUNK if left is None else min(CHUNK, left))):
            digest.update(block)
            left = None if left is None else left - len(block)
    return digest.hexdigest()


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    return info


Member = tuple[tarfile.TarInfo, IO[bytes]]


def _members(tar: tarfile.TarFile) -> Iterator[Member]:
    for info in tar:
        stream = tar.extractfile(info) if info.isfile() else None
        if stream is None:
            raise UpdateError(f"the bundle holds {info.name!r}, which is not a file")
        yield info, stream


def _expect(member: Member | None, name: str) -> IO[bytes]:
    if member is None:
        raise UpdateError(f"the bundle ends before its {name}: download it again")
    if member[0].name != name:
        raise UpdateError(f"the bundle holds {member[0].name!r} where {name!r} belongs: "
                          f"not a Spicebox update")
    return member[1]


def _read_manifest(member: Member | None) -> dict[str, Any]:
    """The bundle's first member, its manifest, with the fields an install needs."""
    try:
        manifest = json.loads(_expect(member, MANIFEST).read(1 << 22))
    except ValueError:
        manifest = None
    problem = _manifest_problem(manifest)
    if problem:
        raise UpdateError(f"the bundle's manifest has no valid {problem}: not a Spicebox "
                          f"update, or a damaged one")
    assert isinstance(manifest, dict)
    return manifest


def _manifest(member: Member | None, release: dict[str, Any],
              allow_older: bool) -> dict[str, Any]:
    manifest = _read_manifest(member)
    board = release.get("board")
    if manifest["board"] != board:
        raise UpdateError(f"the bundle is for {manifest['board']}, this box is {board}: "
                          f"build the update with `make image BOARD={board}`")
    if manifest["build"] < release.get("build", 0) and not allow_older:
        raise UpdateError(f"the bundle ({manifest['version']}) is older than the running "
                          f"firmware ({release.get('version')}): to go back on purpose, "
                          f"add --downgrade")
    return manifest


def _manifest_problem(manifest: object) -> str | None:
    """The first field of ``manifest`` that is missing or of the wrong type."""
    if not isinstance(manifest, dict):
        return "JSON"
    for key, kind in (("board", str), ("version", str), ("build", int), ("cmdline", str),
                      ("files", dict)):
        if not isinstance(manifest.get(key), kind):
            return key
    names = manifest.get("boot", BOOT_FILES)
    if not (isinstance(names, list | tuple) and names
            and all(isinstance(n, str) and _FILE_NAME.fullmatch(n) for n in names)):
        return "boot"
    for name in (*names, ROOT_IMAGE):
        described = manifest["files"].get(name)
        if not (isinstance(described, dict) and isinstance(described.get("size"), int)
                and isinstance(described.get("sha256"), str)):
            return f"files.{name}"
    return None


def _write_boot_file(member: Member | None, name: str, manifest: dict[str, Any],
                     directory: Path) -> None:
    stream = _expect(member, name)
    directory.mkdir(exist_ok=True)
    path = directory / name
    partial = path.with_name(name + ".new")
    with partial.open("wb") as f:
        _match(_copy(_chunks(stream), f, manifest["files"][name], name),
               manifest["files"][name], name)
    _check(partial, manifest["files"][name], f"{name} on the boot partition")
    partial.replace(path)
    _sync_directory(directory)


def _write_root(member: Member | None, manifest: dict[str, Any], target: Path) -> None:
    stream = _expect(member, ROOT_MEMBER)
    wanted = manifest["files"][ROOT_IMAGE]
    try:
        fd = os.open(target, os.O_RDWR)
    except OSError as exc:
        raise UpdateError(f"cannot open the other slot's partition {target}: "
                          f"{exc.strerror}") from None
    with os.fdopen(fd, "r+b") as out:
        room = out.seek(0, os.SEEK_END)
        if wanted["size"] > room:
            raise UpdateError(f"the root image ({wanted['size'] >> 20} MiB) does not fit "
                              f"the slot ({room >> 20} MiB): this box needs a new image")
        out.seek(0)
        with _unzstd(stream) as chunks:
            written = _copy(chunks, out, wanted, ROOT_IMAGE)
        _match(written, wanted, ROOT_IMAGE)
        # Read it back from the card, not from the page cache.
        os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    _check(target, wanted, f"the root image written to {target}")


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while block := stream.read(CHUNK):
        yield block


@contextmanager
def _unzstd(stream: IO[bytes]) -> Iterator[Iterator[bytes]]:
    """The decompressed chunks of a zstd stream, through the ``zstd`` program, fed from a
    thread: the tar stream must flow in while the image flows out."""
    process = subprocess.Popen(["zstd", "-dcq"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    failures: list[BaseException] = []

    def feed(sink: IO[bytes]) -> None:
        try:
            shutil.copyfileobj(stream, sink, CHUNK)
        except BrokenPipeError:
            pass  # zstd stopped: its exit status says why
        except BaseException as exc:  # raised again in the reading thread
            failures.append(exc)
        finally:
            sink.close()

    feeder = threading.Thread(target=feed, args=(process.stdin,), daemon=True)
    feeder.start()
    try:
        yield _chunks(process.stdout)
    except BaseException:
        process.kill()
        raise
    finally:
        feeder.join()
        problem = process.stderr.read().decode(errors="replace").strip()
        code = process.wait()
    if failures:
        raise failures[0]
    if code != 0:
        raise UpdateError(f"the root image in the bundle is damaged ({problem}): "
                          f"download it again")


def _copy(chunks: Iterator[bytes], out: IO[bytes], wanted: dict[str, Any],
          name: str) -> tuple[int, str]:
    """Copies to ``out`` and its storage; returns the size and SHA-256 copied."""
    digest, size = hashlib.sha256(), 0
    for block in chunks:
        size += len(block)
        if size > wanted["size"]:
            raise UpdateError(f"{name} in the bundle is longer than its manifest says: "
                              f"a damaged bundle")
        digest.update(block)
        out.write(block)
    out.flush()
    os.fsync(out.fileno())
    return size, digest.hexdigest()


def _match(copied: tuple[int, str], wanted: dict[str, Any], name: str) -> None:
    if copied != (wanted["size"], wanted["sha256"]):
        raise UpdateError(f"{name} in the bundle does not match its manifest: a damaged "
                          f"download, try again")


def _check(path: Path, wanted: dict[str, Any], what: str) -> None:
    if sha256_of(path, wanted["size"]) != wanted["sha256"]:
        raise UpdateError(f"{what} reads back different from what was written: the "
                          f"storage is failing")


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".new")
    with partial.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)
    _sync_directory(path.parent)


def _write_in_place(path: Path, data: bytes) -> None:
    """Over the file's own bytes when it keeps its length (FAT has no atomic rename, but a
    small file's one sector is written whole), else as a new file renamed over it."""
    if not path.is_file() or path.stat().st_size != len(data):
        _write_atomically(path, data)
        return
    with path.open("r+b") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
