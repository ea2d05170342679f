"""What support asks for first: this box's addresses, whether the server answers and how
fast, and the last problems the client logged."""

from __future__ import annotations

import functools
import socket

from ... import __version__
from ...config.target import ConfigError
from ...net.interfaces import interfaces
from ...net.proxy import Proxy
from ...net.transport import Endpoint, round_trip
from ...recent import RECENT
from ..app import Page, SetupApp
from ..paint import ERROR, OK, TEXT
from ..widgets import Button, Note, Widget


class DiagnosticsPage(Page):
    title = "Diagnostics"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        self.server = Note("")
        self.buttons = [Button("Check again", self.check, "primary"), Button("Back", self.back)]
        self.check()

    def check(self) -> None:
        widgets: list[Widget] = [Note(f"Spicebox {__version__} on {socket.gethostname()}",
                                      TEXT)]
        for nic in interfaces():
            shown = ", ".join(nic.addresses) or "no address"
            widgets.append(Note(f"{nic.name}: {nic.state}, {shown}",
                                OK if nic.state == "up" and nic.addresses else ERROR))
        widgets.append(self.server)
        problems = RECENT.lines()
        widgets.append(Note("Recent problems:" if problems else "No problems logged.", TEXT))
        widgets += [Note(line, ERROR, small=True) for line in problems]
        self.widgets = widgets
        self._check_server()
        self.app.dirty = True

    def _check_server(self) -> None:
        config = self.app.config()
        try:
            profile = config.profile()
            port = profile.tls_port or profile.port
            assert port is not None  # profile() checked that one is set
            endpoint = Endpoint(profile.host, port, None,
                                Proxy.parse(profile.proxy) if profile.proxy else None)
        except ConfigError as exc:
            self._server(str(exc), ERROR)
            return
        self._server(f"Server {endpoint}: checking…", TEXT)
        self.start(functools.partial(round_trip, endpoint),
                       functools.partial(self._answered, endpoint))

    def _answered(self, endpoint: Endpoint, result: object) -> None:
        if isinstance(result, float):
            # Through a proxy only the proxy's side can be timed: the tunnel is SPICE's.
            first = f"its proxy {endpoint.proxy}" if endpoint.proxy else "it"
            self._server(f"Server {endpoint}: {first} answers in {result * 1000:.1f} ms", OK)
        else:
            self._server(f"Server {endpoint}: {result}", ERROR)

    def _server(self, text: str, color: tuple[int, int, int]) -> None:
        self.server.text, self.server.color = text, color
        self.app.dirty = True
