"""`spicebox connect` as a user runs it: exit codes, one-line errors, screenshots."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from spicebox import sdl_loader
from spicebox.spice.recording import read_recording
from tests.rig.client import assert_png_shows_bios
from tests.rig.qemu import VGA_DEVICES, QemuServer, free_port

STD = VGA_DEVICES["std"]
# An empty configuration: never this machine's /etc/spicebox or /var/lib/spicebox.
CONNECT = [sys.executable, "-m", "spicebox", "connect", "--config-dir",
           tempfile.mkdtemp(prefix="spicebox-no-config-")]


def spicebox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CONNECT, *args,
                           "--backend", "headless"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=False)


def test_screenshot_and_clean_exit(tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    with QemuServer(STD) as qemu:
        done = spicebox(qemu.uri(), "--screenshot", str(png), "--screenshot-after", "2",
                        "--exit-after", "3")
        dump = qemu.screendump()
    assert done.returncode == 0, done.stderr
    assert f"saved to {png}" in done.stderr
    assert_png_shows_bios(png, dump)


def test_screenshot_dir_and_recording(tmp_path: Path) -> None:
    with QemuServer([*STD, "-device", "secondary-vga"]) as qemu:
        done = spicebox(qemu.uri(), "--screenshot-dir", str(tmp_path), "--screenshot-after",
                        "2", "--exit-after", "3", "--record", str(tmp_path / "s.rec"))
    assert done.returncode == 0, done.stderr
    pygame = sdl_loader.pygame()
    sizes = [pygame.image.load(str(tmp_path / f"monitor-{i}.png")).get_size() for i in (0, 1)]
    assert sizes == [(720, 400), (640, 480)]
    records = list(read_recording((tmp_path / "s.rec").read_bytes()))
    assert {r.channel_id for r in records} == {0, 1}  # both display channels


def test_vv_file_with_password_from_environment(tmp_path: Path) -> None:
    vv = tmp_path / "desk.vv"
    with QemuServer(STD, spice="password-secret=pw",
                    extra_objects=["secret,id=pw,data=hunter2"]) as qemu:
        vv.write_text(f"[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport={qemu.port}\n"
                      f"delete-this-file=1\n")
        done = spicebox(str(vv), "--exit-after", "2", env={"SPICEBOX_PASSWORD": "hunter2"})
    assert done.returncode == 0, done.stderr
    assert not vv.exists(), "a .vv that asks to be deleted must be deleted once read"


def test_wrong_password_file_exit_4(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("not-the-password\n")
    with QemuServer(STD, spice="password-secret=pw",
                    extra_objects=["secret,id=pw,data=hunter2"]) as qemu:
        done = spicebox(qemu.uri(), "--password-file", str(secret), "--exit-after", "5")
    assert done.returncode == 4
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "password" in done.stderr and "not-the-password" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["spice://127.0.0.1"], "no port"),
    (["/nonexistent.vv"], "cannot read"),
    (["spice+tls://127.0.0.1:1", "--ca-file", "{garbage}"], "cannot load the CA"),
    (["spice://127.0.0.1:1", "--password-file", "{long}"], "60 bytes"),
    (["spice://127.0.0.1:1", "--screenshot", "/nonexistent/x.png"], "no such directory"),
    (["spice://127.0.0.1:1", "--screenshot-dir", "/nonexistent"], "no such directory"),
    (["spice://127.0.0.1:1", "--record", "/nonexistent/x.rec"], "cannot write the recording"),
])
def test_configuration_errors_exit_2(args: list[str], words: str, tmp_path: Path) -> None:
    garbage, long = tmp_path / "ca.pem", tmp_path / "pw"
    garbage.write_text("not a certificate")
    long.write_text("x" * 61)
    done = spicebox(*[a.format(garbage=garbage, long=long) for a in args])
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr


@pytest.mark.parametrize(("args", "code", "words"), [
    (["spice://127.0.0.1:{closed}"], 3, "cannot connect"),
    (["spice+tls://127.0.0.1:{tls}"], 5, "not trusted"),
])
def test_failures_exit_with_one_clear_line(args: list[str], code: int, words: str,
                                           tmp_path: Path) -> None:
    from tests.rig.certs import make_x509_dir  # noqa: PLC0415

    make_x509_dir(tmp_path)
    with QemuServer(STD, tls_dir=tmp_path) as qemu:
        argv = [a.format(closed=free_port(), tls=qemu.tls_port) for a in args]
        done = spicebox(*argv, "--exit-after", "5")
    assert done.returncode == code, done.stderr
    assert words in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr


def test_verbose_shows_traceback() -> None:
    done = spicebox(f"spice://127.0.0.1:{free_port()}", "-v")
    assert done.returncode == 3 and "Traceback" in done.stderr


def test_sigterm_disconnects_cleanly() -> None:
    with QemuServer(STD) as qemu:
        client = subprocess.Popen([*CONNECT, qemu.uri(),
                                   "--backend", "headless"], stderr=subprocess.PIPE, text=True)
        assert client.stderr is not None
        try:
            for line in client.stderr:
                if "connected to" in line:
                    break
            client.send_signal(signal.SIGTERM)
            assert client.wait(30) == 0
            assert "disconnecting as asked" in client.stderr.read()
        finally:
            client.kill()
            client.wait()


def test_a_peer_that_is_not_spice_is_a_protocol_error_exit_6() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        done = spicebox(f"spice://127.0.0.1:{port}")
        thread.join(10)
    assert done.returncode == 6, done.stderr
    assert "not a SPICE server" in done.stderr
