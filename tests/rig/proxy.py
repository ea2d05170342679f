"""A real HTTP CONNECT proxy (Debian's tinyproxy) on loopback, for the proxy tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.rig.qemu import free_port


@dataclass(frozen=True)
class RunningProxy:
    url: str
    log: Path

    def tunnels(self) -> list[str]:
        """The host of each tunnel opened so far, from tinyproxy's log lines
        ``Established connection to host "HOST" using file descriptor N.``"""
        return [line.split('"')[1] for line in self.log.read_text(errors="replace").splitlines()
                if "Established connection to host " in line]


def tinyproxy_available() -> bool:
    return shutil.which("tinyproxy") is not None


@contextmanager
def tinyproxy(connect_ports: list[int]) -> Iterator[RunningProxy]:
    """Allows CONNECT from loopback to ``connect_ports`` only (tinyproxy's default is 443)."""
    workdir = Path(tempfile.mkdtemp(prefix="spicebox-proxy-"))
    port = free_port()
    log = workdir / "tinyproxy.log"
    config = workdir / "tinyproxy.conf"
    config.write_text("\n".join([
        f"Port {port}", "Listen 127.0.0.1", "Timeout 60", "MaxClients 50", "Allow 127.0.0.1",
        "LogLevel Connect", f'LogFile "{log}"',
        *(f"ConnectPort {p}" for p in connect_ports)]) + "\n")
    process = subprocess.Popen(["tinyproxy", "-d", "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("tinyproxy did not start") from None
                time.sleep(0.05)
        yield RunningProxy(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
