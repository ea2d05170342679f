"""A real QEMU SPICE server for tests and the demo: started on loopback, driven over QMP."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

QEMU = "qemu-system-x86_64"
RGB = npt.NDArray[np.uint8]

# The display devices the tests exercise. virtio-vga needs no guest driver to show a
# framebuffer: until virtio_gpu loads it is a bochs-compatible VGA, which vesafb drives.
VGA_DEVICES: dict[str, list[str]] = {
    "std": ["-vga", "std"],
    "qxl": ["-vga", "qxl"],
    # Two outputs on one QXL device (one primary surface, heads in MONITORS_CONFIG); the
    # id names it for screendump's ``device``.
    "qxl-2heads": ["-device", "qxl-vga,id=qxl0,max_outputs=2"],
    # QEMU drops its default VGA when a display device is given explicitly.
    "virtio": ["-device", "virtio-vga"],
}

# Sound over SPICE: Intel HDA with an output and input codec (the console guest's play/record).
AUDIO_DEVICES: list[str] = ["-audiodev", "spice,id=snd0", "-device", "ich9-intel-hda",
                            "-device", "hda-duplex,audiodev=snd0"]
# The guest side of USB redirection over SPICE: an xHCI controller and one usbredir channel.
USB_REDIRECT: list[str] = ["-device", "qemu-xhci,id=xhci",
                           "-chardev", "spicevmc,name=usbredir,id=usbredir0",
                           "-device", "usb-redir,chardev=usbredir0,id=redir0,bus=xhci.0"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """Connect to a socket QEMU serves, waiting for QEMU to create it."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"QEMU never opened {path} (waited {timeout:.0f} s)") from None
            time.sleep(0.05)


class Qmp:
    """A minimal synchronous QMP client with timeouts, so a test can never hang on it."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self._sock = connect_unix(path, timeout)
        self._sock.settimeout(timeout)
        self._file = self._sock.makefile("rw", encoding="utf-8")
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            line = self._file.readline()
            if not line:
                raise ConnectionError("QMP closed")
            reply: dict[str, Any] = json.loads(line)
            if "event" not in reply:
                return reply

    def execute(self, command: str, **arguments: Any) -> Any:
        self._file.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self._file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error']}")
        return reply.get("return")

    def close(self) -> None:
        self._file.close()
        self._sock.close()


def read_ppm(path: Path) -> RGB:
    data = path.read_bytes()
    magic, size, maxval, pixels = data.split(b"\n", 3)
    if magic != b"P6" or maxval != b"255":
        raise ValueError(f"{path} is not an 8-bit binary PPM")
    width, height = (int(v) for v in size.split())
    return np.frombuffer(pixels, np.uint8, width * height * 3).reshape(height, width, 3)


class QemuServer:
    """``with QemuServer(["-vga", "std"]) as q:`` starts QEMU with SPICE on loopback.

    ``spice`` holds extra ``-spice`` options (e.g. ``password-secret=...``); ``tls_dir`` adds
    a TLS port with that x509 directory. ``memory`` is the guest's RAM in MiB: the BIOS
    and the console guest fit in 256, a desktop guest with X does not. ``nic``: QEMU's
    ``-nic`` (none; ``user,...`` gives the guest a network of its own, where 10.0.2.2 is
    this machine's loopback). ``binary``: another QEMU system emulator (an arm64 board).
    """

    def __init__(self, args: list[str], spice: str = "disable-ticketing=on",
                 tls_dir: Path | None = None, extra_objects: list[str] | None = None,
                 serial: bool = False, memory: int = 256, nic: str = "none",
                 binary: str = QEMU) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="spicebox-qemu-"))
        self.port = free_port()
        self.tls_port = free_port() if tls_dir else None
        spice_opts = f"port={self.port},addr=127.0.0.1,{spice}"
        if tls_dir is not None:
            spice_opts += f",tls-port={self.tls_port},x509-dir={tls_dir}"
        self.qmp_path = self.workdir / "qmp.sock"
        self.log_path = self.workdir / "qemu.log"
        self.serial_path = self.workdir / "serial.sock" if serial else None
        self.command = [binary, "-accel", "tcg", "-m", str(memory), "-display", "none",
                        "-nic", nic, "-spice", spice_opts,
                        "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        for obj in extra_objects or []:
            self.command += ["-object", obj]
        if self.serial_path is not None:
            self.command += ["-serial", f"unix:{self.serial_path},server=on,wait=off"]
        self.command += args
        self.process: subprocess.Popen[bytes] | None = None
        self.qmp: Qmp | None = None

    def __enter__(self) -> QemuServer:
        # A file, not a pipe: nobody reads QEMU's warnings while it runs, and a full pipe
        # would stall it.
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log)
        try:
            self.qmp = Qmp(self.qmp_path)
        except Exception as exc:
            log_text = self.log_path.read_text(errors="replace").strip()
            self.stop()
            raise RuntimeError(f"QEMU did not start: {exc}; its output: {log_text}") from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.qmp is not None:
            with contextlib.suppress(OSError, RuntimeError):  # it may be gone (powered off)
                self.qmp.execute("quit")
            with contextlib.suppress(OSError):
                self.qmp.close()
            self.qmp = None
        if self.process is not None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def screendump(self, device: str | None = None, head: int | None = None) -> RGB:
        """The guest's screen; ``device`` names another display device's (QOM id) and
        ``head`` one of its consoles (QEMU requires ``device`` with it)."""
        assert self.qmp is not None
        path = self.workdir / f"dump-{os.getpid()}-{time.monotonic_ns()}.ppm"
        args: dict[str, Any] = {"device": device} if device is not None else {}
        if head is not None:
            args["head"] = head
        self.qmp.execute("screendump", filename=str(path), **args)
        try:
            return read_ppm(path)
        finally:
            path.unlink()

    def uri(self) -> str:
        return f"spice://127.0.0.1:{self.port}"
