"""Finding SDL's X connections among the process's descriptors, without leaking any."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from spicebox.display.sdl import _x11_sockets


def test_only_connections_to_an_x_server_are_found(tmp_path: Path) -> None:
    (tmp_path / ".X11-unix").mkdir()
    path = str(tmp_path / ".X11-unix" / "X5")
    pair = socket.socketpair()  # sockets, but not connected to X
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client, \
            (tmp_path / "file").open("w"), pair[0], pair[1]:
        server.bind(path)
        server.listen()
        client.connect(path)
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(3):
            assert _x11_sockets() == (client.fileno(),)
        # Every descriptor is looked at through a copy: none may stay open.
        assert len(os.listdir("/proc/self/fd")) == before
