"""Connection profiles: the list, the editor with trust on first use, and .vv import."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

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


class ProfilePage(Page):
    def __init__(self, app: SetupApp, name: str | None) -> None:
        super().__init__(app)
        config = app.config()
        self.name = name
        self.title = f"Profile {name}" if name else "New profile"
        profile = config.profiles.get(name, Profile()) if name else Profile()
        self.ca, self.ca_note = profile.ca, Note("")

        def field(label: str, value: object, hint: str, secret: bool = False) -> Field:
            return Field(label, "" if value is None else str(value), secret, hint)
        self.fields = {
            "name": field("Name", name or "", "letters, digits, - and _"),
            "host": field("Server", profile.host, "host name or address"),
            "port": field("Port", profile.port, "e.g. 5900"),
            "tls-port": field("TLS port", profile.tls_port, "e.g. 5901 (used when set)"),
            "password": field("Password", profile.password, "none", secret=True),
            "host-subject": field("Certificate subject", profile.host_subject,
                                  "e.g. O=Org,CN=host (optional)"),
            "proxy": field("HTTP proxy", profile.proxy, "http://HOST:PORT (optional)"),
            "title": field("Title", profile.title, "shown instead of the name"),
        }
        first = not config.profiles or config.default_profile in (None, name)
        self.default = Choice("Use by default", [("yes", "yes"), ("no", "no")],
                              "yes" if first else "no")
        self.widgets = [*self.fields.values(), self.default, self.ca_note,
                        Button("Trust the server's certificate…", self.fetch)]
        self._describe_ca()
        self.buttons = [Button("Save", self.save, "primary")]
        if name is not None:
            self.buttons.append(Button("Delete", self.delete, "danger"))
        self.buttons.append(Button("Back", self.back))

    def _describe_ca(self) -> None:
        if self.ca is None:
            self.ca_note.text = ("TLS trust: the system's certificate authorities. For a "
                                 "server with its own certificate, trust it below.")
            self.ca_note.color = MUTED
        else:
            self.ca_note.text = "TLS trust: a certificate of its own is trusted for this server."
            self.ca_note.color = OK
        self.app.dirty = True

    def _value(self, key: str) -> str:
        return self.fields[key].text.strip() if key != "password" else self.fields[key].text

    def _profile(self, name: str) -> Profile:
        values: dict[str, object] = {key: self._value(key) for key in self.fields
                                     if key != "name" and self._value(key)}
        if self.ca is not None:
            values["ca"] = self.ca
        profile: Profile = section_from(Profile, values, f"{PROFILES}.{name}")
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
        self.app.back()
        self.app.page.say(f"Saved profile {name}")

    def delete(self) -> None:
        assert self.name is not None
        try:
            self.app.store.delete_profile(self.name)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.app.back()
        self.app.page.say(f"Deleted profile {self.name}")

    def fetch(self) -> None:
        """Trust on first use: fetch the server's certificate and show it to the user."""
        host, port = self._value("host"), self._value("tls-port")
        try:
            if not host or not port.isdigit():
                raise ConfigError("set the server and its TLS port first: only TLS "
                                  "connections have a certificate")
            proxy = Proxy.parse(self._value("proxy")) if self._value("proxy") else None
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        endpoint = Endpoint(host, int(port), None, proxy)
        self.say(f"Asking {host}:{port} for its certificate…")
        self.app.start(fetch_certificate(endpoint), lambda result: self._fetched(
            endpoint, result))

    def _fetched(self, endpoint: Endpoint, result: object) -> None:
        if isinstance(result, ServerCertificate):
            self.say("")
            self.app.open(TrustPage(self.app, endpoint, result, self._trust))
        else:
            self.say(str(result), error=True)

    def _trust(self, certificate: ServerCertificate) -> None:
        self.ca = certificate.pem
        if not self._value("host-subject"):
            # The host name may not be in the certificate (an address, a self-signed one):
            # the pinned certificate's subject identifies the server instead.
            subject = self.fields["host-subject"]
            subject.text = certificate.subject
            subject.caret = len(subject.text)
        self._describe_ca()
        self.say("The certificate is trusted: Save to keep it")


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
        self.app.back()
        self.app.page.say(f"Imported {path.name} as profile {name}, now the default")


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
