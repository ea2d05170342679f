"""A stand-in for a Proxmox VE node, as far as a SPICE client sees one: its HTTPS API
(``/access/ticket``, ``/cluster/resources``, ``.../spiceproxy``, as documented in the API
viewer) and its ``spiceproxy``, the HTTP CONNECT proxy on port 3128 that takes a
``pvespiceproxy:...`` ticket as its target and opens the VM's TLS SPICE port.

Each SPICE ticket sets a new password on the real QEMU behind it (``set_password`` over
QMP, which is what Proxmox does), so a client that reuses an old ticket fails."""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .certs import SERVER_SUBJECT

# What the stub's cluster holds: a VM, a template and a container (only the first can be
# connected to).
VMS = [
    {"id": "qemu/100", "vmid": 100, "name": "desk", "node": "pve1", "status": "running",
     "type": "qemu", "template": 0},
    {"id": "qemu/9000", "vmid": 9000, "name": "tpl", "node": "pve1", "status": "stopped",
     "type": "qemu", "template": 1},
    {"id": "lxc/200", "vmid": 200, "name": "ct", "node": "pve1", "status": "running",
     "type": "lxc"},
]
SPICE_PORT = 61000  # what Proxmox names as tls-port; the spiceproxy maps it to the VM's


@dataclass
class ProxmoxStub:
    x509: Path                          # the rig's CA, server certificate and key
    set_spice_password: Callable[[str], None]
    spice_tls_port: int                 # where the spiceproxy sends tunnels
    users: dict[str, str] = field(default_factory=lambda: {"alice@pve": "alice-pw"})
    tokens: dict[str, str] = field(default_factory=lambda: {"alice@pve!kiosk": "t0k3n"})
    no_console: set[str] = field(default_factory=set)   # users without VM.Console
    calls: list[str] = field(default_factory=list)      # "METHOD /path"
    tunnels: list[str] = field(default_factory=list)    # CONNECT targets let through
    tickets: list[str] = field(default_factory=list)    # SPICE passwords handed out

    def __post_init__(self) -> None:
        self._logins: dict[str, tuple[str, str]] = {}   # ticket -> (user, CSRF token)
        self._routes: set[str] = set()                  # pvespiceproxy hosts issued
        self.api = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.x509 / "server-cert.pem", self.x509 / "server-key.pem")
        self.api.socket = context.wrap_socket(self.api.socket, server_side=True)
        self.proxy = socket.create_server(("127.0.0.1", 0))
        self._threads = [threading.Thread(target=self.api.serve_forever, daemon=True),
                         threading.Thread(target=self._proxy_loop, daemon=True)]

    @property
    def url(self) -> str:  # the certificate names localhost
        return f"https://localhost:{self.api.server_address[1]}"

    def __enter__(self) -> ProxmoxStub:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.shutdown()
        self.api.server_close()
        self.proxy.close()

    # --- the API -----------------------------------------------------------------------

    def login(self, form: dict[str, str]) -> tuple[int, Any]:
        user = form.get("username", "")
        if user not in self.users or self.users[user] != form.get("password"):
            return 401, None
        ticket = f"PVE:{user}:{secrets.token_hex(8)}"
        csrf = secrets.token_hex(8)
        self._logins[ticket] = (user, csrf)
        return 200, {"username": user, "ticket": ticket, "CSRFPreventionToken": csrf}

    def user_of(self, method: str, headers: Any) -> str | None:
        auth = headers.get("Authorization", "")
        if auth.startswith("PVEAPIToken="):
            tokenid, _, secret = auth.removeprefix("PVEAPIToken=").partition("=")
            return tokenid.split("!")[0] if self.tokens.get(tokenid) == secret else None
        cookie = dict(part.strip().split("=", 1) for part in
                      headers.get("Cookie", "").split(";") if "=" in part)
        login = self._logins.get(cookie.get("PVEAuthCookie", ""))
        if login is None:
            return None
        user, csrf = login
        if method != "GET" and headers.get("CSRFPreventionToken") != csrf:
            return None  # cookies need the CSRF token on every change, as in Proxmox
        return user

    def spiceproxy(self, user: str, node: str, vmid: int, form: dict[str, str]
                   ) -> tuple[int, Any]:
        vm = next((v for v in VMS if v["vmid"] == vmid and v["node"] == node), None)
        if vm is None or vm["type"] != "qemu":
            return 500, None
        if user in self.no_console:
            return 403, None
        password = secrets.token_hex(20)
        self.set_spice_password(password)
        self.tickets.append(password)
        host = f"pvespiceproxy:{secrets.token_hex(4)}:{vmid}:{node}::{secrets.token_hex(20)}"
        self._routes.add(host)
        proxy_host = form.get("proxy") or node
        return 200, {
            "type": "spice", "host": host, "tls-port": SPICE_PORT, "password": password,
            "proxy": f"http://{proxy_host}:{self.proxy.getsockname()[1]}",
            "ca": (self.x509 / "ca-cert.pem").read_text(), "host-subject": SERVER_SUBJECT,
            "title": f"VM {vmid} - {vm['name']}", "delete-this-file": 1,
            "release-cursor": "Ctrl+Alt+R", "secure-attention": "Ctrl+Alt+Ins",
            "toggle-fullscreen": "Shift+F11"}

    # --- the spiceproxy ----------------------------------------------------------------

    def _proxy_loop(self) -> None:
        while True:
            try:
                client, _ = self.proxy.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n")[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in self._routes or port != str(SPICE_PORT):
                client.sendall(b"HTTP/1.0 403 Forbidden\r\n\r\n")
                return
            self.tunnels.append(host)
            with socket.create_connection(("127.0.0.1", self.spice_tls_port)) as server:
                client.sendall(b"HTTP/1.0 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_pump, args=(server, client), daemon=True)
                pump.start()
                _pump(client, server)
                pump.join(5)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _handler(stub: ProxmoxStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, data: Any) -> None:
            body = json.dumps({"data": data}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length", 0))
            return {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            stub.calls.append(f"{method} {url.path}")
            form = self._form() if method == "POST" else {}
            if (method, url.path) == ("POST", "/api2/json/access/ticket"):
                self._answer(*stub.login(form))
                return
            user = stub.user_of(method, self.headers)
            if user is None:
                self._answer(401, None)
                return
            parts = url.path.split("/")
            if (method, url.path) == ("GET", "/api2/json/cluster/resources"):
                self._answer(200, VMS)
            elif method == "POST" and len(parts) == 8 and parts[-1] == "spiceproxy":
                self._answer(*stub.spiceproxy(user, parts[4], int(parts[6]), form))
            else:
                self._answer(501, None)
    return Handler
