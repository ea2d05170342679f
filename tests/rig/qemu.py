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
    # QEMU drops its default VGA when a display device is given explicitly.
    "virtio": ["-device", "virtio-vga"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


class Qmp:
    """A minimal synchronous QMP client with timeouts, so a test can never hang on it."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        self._sock = socket.socket(socket.AF_UNIX)
        while True:
            try:
                self._sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"QMP socket {path} never appeared") from None
                time.sleep(0.05)
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
    a TLS port with that x509 directory.
    """

    def __init__(self, args: list[str], spice: str = "disable-ticketing=on",
                 tls_dir: Path | None = None, extra_objects: list[str] | None = None,
                 serial: bool = False) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="spicebox-qemu-"))
        self.port = free_port()
        self.tls_port = free_port() if tls_dir else None
        spice_opts = f"port={self.port},addr=127.0.0.1,{spice}"
        if tls_dir is not None:
            spice_opts += f",tls-port={self.tls_port},x509-dir={tls_dir}"
        self.qmp_path = self.workdir / "qmp.sock"
        self.serial_path = self.workdir / "serial.sock" if serial else None
        self.command = [QEMU, "-accel", "tcg", "-m", "256", "-display", "none", "-nic", "none",
                        "-spice", spice_opts,
                        "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        for obj in extra_objects or []:
            self.command += ["-object", obj]
        if self.serial_path is not None:
            self.command += ["-serial", f"unix:{self.serial_path},server=on,wait=off"]
        self.command += args
        self.process: subprocess.Popen[bytes] | None = None
        self.qmp: Qmp | None = None

    def __enter__(self) -> QemuServer:
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self.qmp = Qmp(self.qmp_path)
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.qmp is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.qmp.execute("quit")
            self.qmp.close()
            self.qmp = None
        if self.process is not None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def screendump(self) -> RGB:
        assert self.qmp is not None
        path = self.workdir / f"dump-{os.getpid()}-{time.monotonic_ns()}.ppm"
        self.qmp.execute("screendump", filename=str(path))
        try:
            return read_ppm(path)
        finally:
            path.unlink()

    def uri(self) -> str:
        return f"spice://127.0.0.1:{self.port}"
