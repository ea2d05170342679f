"""Connection profiles: the list, the editor with trust on first use, and .vv import."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ...config.proxmox import Proxmox, Vm
from ...config.settings import PROFILES, Profile, section_from
from ...config.store import check_profile_name, import_vv_file
from ...config.target import ConfigError
from ...net.proxy import Proxy
from ...net.tls import ServerCertificate
from ...net.transport import Endpoint, fetch_certificate
from ..app import Page, SetupApp
from ..paint import ERROR, MUTED, OK
from ..widgets import Button, Choice, Field, Note, Widget

# Where USB sticks are mounted (udisks, pmount, by hand); .vv files are looked for there.
IMPORT_DIRS = (Path("/media"), Path("/run/media"), Path("/mnt"))
IMPORT_DEPTH = 3  # /run/media/USER/STICK/file.vv


class ProfilesPage(Page):
    title = "Connection profiles"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        self.shown()

    def shown(self) -> None:
        config = self.app.config()
        widgets: list[Widget] = []
        for name, profile in config.profiles.items():
            mark = "  ★ default" if name == config.default_profile else ""
            widgets.append(Button(name, functools.partial(self._edit, name),
                                  detail=profile.describe() + mark))
        if not widgets:
            widgets.append(Note("No profiles yet."))
        widgets += [Button("New profile", lambda: self._edit(None)),
                    Button("Import a .vv file from a USB stick",
                           lambda: self.app.open(ImportPage(self.app)))]
        self.widgets = widgets
        self.buttons = [Button("Back", self.back)]
        self.app.dirty = True

    def _edit(self, name: str | None) -> None:
        self.app.open(ProfilePage(self.app, name))


# Which fields each kind of profile shows, in order (the rest keep what was typed).
_SPICE_FIELDS = ("name", "host", "port", "tls-port", "password", "host-subject", "proxy",
                 "title")
_PROXMOX_FIELDS = ("name", "proxmox-url", "proxmox-realm", "proxmox-user",
                   "proxmox-password", "proxmox-token", "proxmox-vmid", "proxmox-node",
                   "host-subject", "title")
_SECRETS = ("password", "proxmox-password", "proxmox-token")
SPICE, PROXMOX = "spice", "proxmox"


class ProfilePage(Page):
    def __init__(self, app: SetupApp, name: str | None) -> None:
        super().__init__(app)
        config = app.config()
        self.name = name
        self.title = f"Profile {name}" if name else "New profile"
        profile = config.profiles.get(name, Profile()) if name else Profile()
        self.ca, self.fingerprint, self.ca_note = profile.ca, profile.fingerprint, Note("")

        def field(label: str, value: object, hint: str, secret: bool = False) -> Field:
            return Field(label, "" if value is None else str(value), secret, hint)
        self.fields = {
            "name": field("Name", name or "", "letters, digits, - and _"),
            "host": field("Server", profile.host, "host name or address"),
            "port": field("Port", profile.port, "e.g. 5900"),
            "tls-port": field("TLS port", profile.tls_port, "e.g. 5901 (used when set)"),
            "password": field("Password", profile.password, "none", secret=True),
            "proxmox-url": field("Proxmox VE", profile.proxmox_url, "https://HOST:8006"),
            "proxmox-realm": field("Realm", profile.proxmox_realm, "pam, pve, ..."),
            "proxmox-user": field("User", profile.proxmox_user, "without @realm"),
            "proxmox-password": field("Password", profile.proxmox_password,
                                      "or an API token", secret=True),
            "proxmox-token": field("API token", profile.proxmox_token, "TOKENID=SECRET",
                                   secret=True),
            "proxmox-vmid": field("VM id", profile.proxmox_vmid, "pick one below"),
            "proxmox-node": field("Node", profile.proxmox_node, "found by the VM id"),
            "host-subject": field("Certificate subject", profile.host_subject,
                                  "e.g. O=Org,CN=host (optional)"),
            "proxy": field("HTTP proxy", profile.proxy, "http://HOST:PORT (optional)"),
            "title": field("Title", profile.title, "shown instead of the name"),
        }
        first = not config.profiles or config.default_profile in (None, name)
        self.default = Choice("Use by default", [("yes", "yes"), ("no", "no")],
                              "yes" if first else "no")
        self.kind = Choice("Kind", [(SPICE, "SPICE server"), (PROXMOX, "Proxmox VE")],
                           PROXMOX if profile.proxmox_url else SPICE, self._show_kind)
        self._show_kind(self.kind.value)
        self._describe_ca()
        self.buttons = [Button("Save", self.save, "primary")]
        if name is not None:
            self.buttons.append(Button("Delete", self.delete, "danger"))
        self.buttons.append(Button("Back", self.back))

    def _show_kind(self, kind: str) -> None:
        keys = _PROXMOX_FIELDS if kind == PROXMOX else _SPICE_FIELDS
        extra: list[Widget] = (
            [Button("Pick a VM…", self.pick_vm),
             Button("Trust the API's certificate…", self.fetch)] if kind == PROXMOX
            else [Button("Trust the server's certificate…", self.fetch)])
        self.widgets = [self.kind, *(self.fields[k] for k in keys), self.default,
                        self.ca_note, *extra]
        self.app.dirty = True

    def _describe_ca(self) -> None:
        if self.fingerprint is not None:
            self.ca_note.text = (f"TLS trust: this certificate only, SHA-256 "
                                 f"{self.fingerprint[:23]}…")
            self.ca_note.color = OK
        elif self.ca is not None:
            self.ca_note.text = "TLS trust: the CA given for this server (from a .vv file)."
            self.ca_note.color = OK
        else:
            self.ca_note.text = ("TLS trust: the system's certificate authorities. For a "
                                 "server with a certificate of its own, trust it below.")
            self.ca_note.color = MUTED
        self.app.dirty = True

    def _value(self, key: str) -> str:
        text = self.fields[key].text
        return text if key in _SECRETS else text.strip()

    def _profile(self, name: str, complete: bool = True) -> Profile:
        """The profile as typed (only the fields of its kind); ``complete``: also checked
        for what a connection needs."""
        keys = _PROXMOX_FIELDS if self.kind.value == PROXMOX else _SPICE_FIELDS
        values: dict[str, object] = {key: self._value(key) for key in keys
                                     if key != "name" and self._value(key)}
        if self.ca is not None:
            values["ca"] = self.ca
        if self.fingerprint is not None:
            values["fingerprint"] = self.fingerprint
        profile: Profile = section_from(Profile, values, f"{PROFILES}.{name or 'new'}")
        if complete:
            profile.check(f"{PROFILES}.{name}")
        return profile

    def save(self) -> None:
        name = self._value("name")
        try:
            check_profile_name(name)
            if name != self.name and name in self.app.config().profiles:
                raise ConfigError(f"there is a profile {name!r} already: choose another name")
            self.app.store.save_profile(name, self._profile(name),
                                        self.default.value == "yes", replaces=self.name)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.leave(f"Saved profile {name}")

    def delete(self) -> None:
        assert self.name is not None
        try:
            self.app.store.delete_profile(self.name)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.leave(f"Deleted profile {self.name}")

    def fetch(self) -> None:
        """Trust on first use: fetch the server's (or the Proxmox VE API's) certificate and
        show it to the user."""
        try:
            endpoint = self._tls_endpoint()
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        host, port = endpoint.host, endpoint.port
        self.say(f"Asking {host}:{port} for its certificate…")
        self.start(functools.partial(fetch_certificate, endpoint), lambda result: self._fetched(
            endpoint, result))

    def _tls_endpoint(self) -> Endpoint:
        if self.kind.value == PROXMOX:
            url = self._profile(self._value("name"), complete=False).proxmox_url
            if url is None:
                raise ConfigError("set the Proxmox VE address first")
            parts = urlsplit(url)
            assert parts.hostname is not None and parts.port is not None  # checked
            return Endpoint(parts.hostname, parts.port)
        host, port = self._value("host"), self._value("tls-port")
        if not host or not port.isdigit():
            raise ConfigError("set the server and its TLS port first: only TLS "
                              "connections have a certificate")
        return Endpoint(host, int(port), None,
                        Proxy.parse(self._value("proxy")) if self._value("proxy") else None)

    def pick_vm(self) -> None:
        """Log in to Proxmox VE with what is typed and list the VMs to choose from."""
        try:
            client = Proxmox(self._profile(self._value("name"), complete=False))
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"Asking {client.url} for the VMs of {client.userid}…")
        self.start(client.vms, self._listed)

    def _listed(self, result: object) -> None:
        if isinstance(result, list) and self.app.page is self:
            self.say("")
            self.app.open(VmPage(self.app, result, self._picked))
        else:
            self.say(str(result), error=True)

    def _picked(self, vm: Vm) -> None:
        for key, value in (("proxmox-vmid", str(vm.vmid)), ("proxmox-node", vm.node)):
            self.fields[key].text = value
            self.fields[key].caret = len(value)
        if not self._value("title"):
            self.fields["title"].text = vm.name
        self.say(f"VM {vm.vmid} ({vm.name}) chosen: Save to keep it")

    def _fetched(self, endpoint: Endpoint, result: object) -> None:
        if isinstance(result, ServerCertificate) and self.app.page is self:
            self.say("")
            self.app.open(TrustPage(self.app, endpoint, result, self._trust))
        else:
            self.say(str(result), error=True)

    def _trust(self, certificate: ServerCertificate) -> None:
        self.fingerprint = certificate.fingerprint
        self._describe_ca()
        self.say("The certificate is trusted: Save to keep it")


class VmPage(Page):
    title = "Pick a VM"

    def __init__(self, app: SetupApp, vms: list[Vm], pick: Callable[[Vm], None]) -> None:
        super().__init__(app)
        self.pick = pick
        self.widgets = [Button(f"{vm.vmid}  {vm.name}", functools.partial(self._pick, vm),
                               detail=f"{vm.node}, {vm.status}") for vm in vms]
        if not vms:
            self.widgets = [Note("This account sees no VMs: it needs the VM.Console "
                                 "privilege on them.", ERROR)]
        self.buttons = [Button("Back", self.back)]

    def _pick(self, vm: Vm) -> None:
        self.app.back()
        self.pick(vm)


class TrustPage(Page):
    title = "Trust this server?"

    def __init__(self, app: SetupApp, endpoint: Endpoint, certificate: ServerCertificate,
                 trust: Callable[[ServerCertificate], None]) -> None:
        super().__init__(app)
        self.certificate, self.trust = certificate, trust
        self.widgets = [
            Note(f"{endpoint.host}:{endpoint.port} presents this certificate. Trust it "
                 f"only if its fingerprint is the one the server's administrator gives "
                 f"you."),
            Note(f"Subject: {certificate.subject}", small=True),
            Note(f"Issued by: {certificate.issuer}", small=True),
            Note(f"Valid until: {certificate.expires}", small=True),
            # 32 bytes on two lines: read out and compared in halves.
            Note(f"SHA-256 fingerprint:\n{certificate.fingerprint[:47]}\n"
                 f"{certificate.fingerprint[48:]}"),
        ]
        self.buttons = [Button("Trust", self.accept, "primary"), Button("Cancel", self.back)]

    def accept(self) -> None:
        self.app.back()
        self.trust(self.certificate)


class ImportPage(Page):
    title = "Import a .vv file"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        self.directories = app.import_dirs or IMPORT_DIRS
        self.look()

    def look(self) -> None:
        files = sorted(_vv_files(self.directories))
        widgets: list[Widget] = [Button(path.name, functools.partial(self._import, path),
                                        detail=str(path.parent)) for path in files]
        if not files:
            where = ", ".join(str(d) for d in self.directories)
            widgets.append(Note(f"No .vv files found (looked in {where}). Insert the USB "
                                f"stick, then look again.", ERROR))
        self.widgets = widgets
        self.buttons = [Button("Look again", self.look), Button("Back", self.back)]
        self.app.dirty = True

    def _import(self, path: Path) -> None:
        try:
            name = import_vv_file(self.app.store, path)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.leave(f"Imported {path.name} as profile {name}, now the default")


def _vv_files(directories: tuple[Path, ...]) -> list[Path]:
    found: list[Path] = []
    for directory in directories:
        for depth in range(IMPORT_DEPTH + 1):
            pattern = "/".join(["*"] * depth + ["*.vv"])
            try:
                found += [p for p in directory.glob(pattern) if p.is_file()]
            except OSError:
                continue
    return found
