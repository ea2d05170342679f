"""Proxmox VE as a connection broker.

A Proxmox profile names the API (``https://HOST:8006``), an account (a password, or an
API token) and a VM. At every connect the client logs in, asks the VM's node for a SPICE
ticket (``POST /nodes/NODE/qemu/VMID/spiceproxy``, the same call the web UI's SPICE button
makes) and connects with what comes back: a .vv file's keys as JSON, naming the node's
``spiceproxy`` as HTTP CONNECT proxy, the cluster's CA and a one-time password that
lives about 30 seconds, so it is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ..net.https import Reply, request
from ..net.tls import TlsVerifier
from ..spice.errors import AccessDenied, ProtocolError
from .settings import Profile
from .target import ConfigError, Target, viewer_target

API = "/api2/json"


@dataclass(frozen=True)
class Vm:
    vmid: int
    name: str
    node: str
    status: str  # running, stopped, ...


class Proxmox:
    """One conversation with a Proxmox VE API: a login, then calls with its ticket."""

    def __init__(self, profile: Profile) -> None:
        if not profile.proxmox_url or not profile.proxmox_user:
            raise ConfigError("a Proxmox VE profile needs proxmox-url and proxmox-user")
        self.url = profile.proxmox_url
        self.userid = f"{profile.proxmox_user}@{profile.proxmox_realm}"
        self._profile = profile
        # The API's certificate: the one trusted on first use, or signed by the profile's
        # CA (the cluster's), else by the system's CAs (an ACME certificate).
        self._tls = TlsVerifier.create(profile.ca, None, profile.host_subject,
                                       profile.fingerprint)
        self._headers: dict[str, str] | None = None

    async def login(self) -> None:
        profile = self._profile
        if profile.proxmox_token:
            # API tokens need no ticket (and no CSRF token: they are not cookies).
            self._headers = {"Authorization":
                             f"PVEAPIToken={self.userid}!{profile.proxmox_token}"}
            return
        if not profile.proxmox_password:
            raise ConfigError("the Proxmox VE profile has neither a password nor an API token")
        reply = await request(self.url, "POST", f"{API}/access/ticket", self._tls,
                              form={"username": self.userid,
                                    "password": profile.proxmox_password})
        if reply.status == 401:
            raise AccessDenied(f"Proxmox VE at {self.url} refused {self.userid}: "
                                       f"check the user, the realm and the password")
        data = _data(reply, "the login")
        if data.get("NeedTFA"):
            raise AccessDenied(f"{self.userid} needs a second factor to log in, "
                                       f"which a kiosk cannot give: use an API token")
        try:
            self._headers = {"Cookie": f"PVEAuthCookie={data['ticket']}",
                             "CSRFPreventionToken": data["CSRFPreventionToken"]}
        except (KeyError, TypeError):
            raise ProtocolError("Proxmox VE's login answer has no ticket") from None

    async def vms(self) -> list[Vm]:
        """The VMs (not templates, not containers) this account can see, by id."""
        found = []
        for item in await self._call("GET", "/cluster/resources?type=vm", "the VM list"):
            if not isinstance(item, Mapping) or item.get("type") != "qemu" \
                    or item.get("template"):
                continue
            try:
                found.append(Vm(int(item["vmid"]), str(item.get("name") or item["vmid"]),
                                str(item["node"]), str(item.get("status", "unknown"))))
            except (KeyError, TypeError, ValueError):
                raise ProtocolError("Proxmox VE's VM list has an entry without vmid or "
                                    "node") from None
        return sorted(found, key=lambda vm: vm.vmid)

    async def spice_target(self, vmid: int, node: str | None = None) -> Target:
        """A fresh SPICE ticket for the VM: where to connect and with what."""
        if node is None:
            node = next((vm.node for vm in await self.vms() if vm.vmid == vmid), None)
            if node is None:
                raise ConfigError(f"Proxmox VE at {self.url} has no VM {vmid} that "
                                  f"{self.userid} may see")
        # The proxy to go through: the node we reach the API on, as the web UI does.
        data = await self._call("POST", f"/nodes/{quote(node)}/qemu/{vmid}/spiceproxy",
                                f"the SPICE ticket of VM {vmid}",
                                {"proxy": urlsplit(self.url).hostname or ""})
        if not isinstance(data, Mapping):
            raise ProtocolError(f"Proxmox VE's SPICE ticket for VM {vmid} is not an object")
        try:
            return viewer_target(data, f"Proxmox VE's SPICE ticket for VM {vmid}")
        except ConfigError as exc:
            raise ProtocolError(str(exc)) from None

    async def _call(self, method: str, path: str, what: str,
                    form: Mapping[str, str] | None = None) -> Any:
        if self._headers is None:
            await self.login()
        assert self._headers is not None
        headers = {k: v for k, v in self._headers.items()
                   if method != "GET" or k != "CSRFPreventionToken"}
        return _data(await request(self.url, method, API + path, self._tls, headers, form),
                     what)


def _data(reply: Reply, what: str) -> Any:
    if reply.status == 401:
        raise AccessDenied(f"Proxmox VE refused {what}: the account or its token "
                                   f"is not accepted")
    if reply.status == 403:
        raise AccessDenied(f"Proxmox VE does not allow {what} for this account: it "
                                   f"needs the VM.Console privilege on the VM")
    if reply.status >= 400:
        raise ProtocolError(f"Proxmox VE answered {reply.status} {reply.reason} to {what}")
    doc = reply.json(what)
    if not isinstance(doc, Mapping) or "data" not in doc:
        raise ProtocolError(f"Proxmox VE's answer to {what} has no data")
    return doc["data"]


async def resolve(profile: Profile) -> Target:
    """Where a profile connects to now: itself, or what Proxmox VE hands out for it."""
    if not profile.proxmox_url:
        return profile.target()
    assert profile.proxmox_vmid is not None  # Profile.check
    return await Proxmox(profile).spice_target(profile.proxmox_vmid, profile.proxmox_node)
