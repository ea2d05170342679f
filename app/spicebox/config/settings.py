"""What the box remembers: connection profiles and device settings, typed and checked.

Every setting is a dataclass field whose metadata says how to read it (from TOML or from a
command line's text), how to write it back, and whether it is a secret. One table serves
the TOML files, ``spicebox config get/set`` and the setup UI, so a value is checked the
same way wherever it comes from, and a bad one is refused with a message that says which
setting and what it accepts.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..audio.devices import AudioDevice, AudioDevices
from ..canvas.monitors import MAX_MONITORS
from ..display.choose import BACKENDS
from ..display.rotate import ROTATIONS
from ..input.hotkeys import DEFAULT_HOTKEYS, HotkeyError, Hotkeys
from ..net.proxy import Proxy
from ..net.tls import TlsVerifier, parse_fingerprint, parse_subject
from ..spice.constants import ImageCompression
from ..spice.link import check_password
from ..spice.policy import AUDIO_CODECS
from ..usb.filter import DEFAULT_AUTO_REDIRECT, DEFAULT_REDIRECT, parse
from .target import ConfigError, Target

COMPRESSIONS = {c.name.lower().replace("_", "-"): c for c in ImageCompression
                if c != ImageCompression.INVALID}
INPUT_SOURCES = ("auto", "evdev", "none")
PROFILES = "profiles"
DEFAULT_PROFILE = "default-profile"
MASK = "********"  # what ``config get`` shows instead of a secret

Parse = Callable[[object], Any]
Format = Callable[[Any], object]


def _setting(default: object, parse: Parse, about: str, secret: bool = False,
             to_toml: Format = lambda value: value, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"parse": parse, "to_toml": to_toml,
                                            "about": about, "secret": secret,
                                            "choices": choices})


def _one_of(default: str, choices: tuple[str, ...], about: str) -> Any:
    """A setting with a few possible values (the setup UI shows them as a choice)."""
    return _setting(default, _choice(*choices), about, choices=choices)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("text is expected")
    return value


def _optional(parse: Parse) -> Parse:
    """Empty text (or a missing value) means unset."""
    return lambda value: None if value in ("", None) else parse(value)


def _choice(*choices: str) -> Parse:
    def parse(value: object) -> str:
        if value not in choices:
            raise ValueError(f"one of {', '.join(choices)} is expected")
        return str(value)
    return parse


def _whole(low: int, high: int, what: str) -> Parse:
    """A whole number from ``low`` to ``high``, from TOML or typed text."""
    def parse(value: object) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{what} from {low} to {high} is expected")
        return value
    return parse


_port = _whole(1, 65535, "a port number")


def _host(value: object) -> str:
    host = _text(value).strip()
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise ValueError("a host name or address is expected")
    return host


def _password(value: object) -> str:
    return check_password(_text(value))


def _ca(value: object) -> str:
    pem = _text(value).replace("\\n", "\n")  # as .vv files carry it, on one line
    try:
        TlsVerifier.create(pem, None, None)  # as the session will load it
    except ConfigError:
        raise ValueError("a PEM certificate (-----BEGIN CERTIFICATE-----...) is expected"
                         ) from None
    return pem


def _subject(value: object) -> str:
    text = _text(value)
    try:
        parse_subject(text)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return text


def _fingerprint(value: object) -> str:
    try:
        return parse_fingerprint(_text(value))
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _proxy(value: object) -> str:
    url = _text(value).strip()
    url = url if "://" in url else f"http://{url}"
    try:
        Proxy.parse(url)
    except ConfigError:
        raise ValueError("an HTTP proxy as http://HOST:PORT is expected") from None
    return url


def _https_url(value: object) -> str:
    url = _text(value).strip().rstrip("/")
    url = url if "://" in url else f"https://{url}"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError("https://HOST[:PORT] is expected") from None
    if parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
        raise ValueError("https://HOST[:PORT] is expected (Proxmox VE listens on 8006)")
    return url if parts.port else f"{url}:8006"


def _url(value: object) -> str:
    url = _text(value).strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("an https:// address is expected")
    return url


def _user(value: object) -> str:
    text = _text(value).strip()
    if not re.fullmatch(r"[^\s@!:/]{1,64}", text):
        raise ValueError("a name without spaces, @, !, : or / is expected")
    return text


_TIMEZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")


def check_timezone(name: str) -> str:
    """A zone's name as tzdata spells them (timedated checks that it exists)."""
    if not _TIMEZONE.fullmatch(name):
        raise ValueError(f"time zone {name!r} is not a name like Europe/Berlin or UTC")
    return name


def _time_zone(value: object) -> str:
    return check_timezone(_text(value).strip())


def _channel(value: object) -> str:
    text = _text(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]{0,31}", text):
        raise ValueError("a channel name (letters, digits, ., - and _) is expected")
    return text


def _realm(value: object) -> str:
    return _user(value)


def _token(value: object) -> str:
    text = _text(value).strip()
    if not re.fullmatch(r"[A-Za-z][\w.-]*=[\w-]+", text):
        raise ValueError("TOKENID=SECRET is expected, e.g. kiosk=1234abcd-...")
    return text


_vmid = _whole(100, 999999999, "a VM id")


_SIZE = re.compile(r"(\d+)x(\d+)")


def parse_resolution(value: object) -> tuple[tuple[int, int], ...]:
    sizes = []
    for part in _text(value).lower().split(","):
        match = _SIZE.fullmatch(part.strip())
        if not match or not all(200 <= int(v) <= 8192 for v in match.groups()):
            raise ValueError("sizes like 1920x1080 (200 to 8192 pixels a side), one per "
                             "monitor, separated by commas, are expected")
        sizes.append((int(match[1]), int(match[2])))
    if len(sizes) > MAX_MONITORS:
        raise ValueError(f"at most {MAX_MONITORS} monitors are supported")
    return tuple(sizes)


def _sizes_text(sizes: tuple[tuple[int, int], ...]) -> str:
    return ",".join(f"{w}x{h}" for w, h in sizes)


_minutes = _whole(0, 1440, "whole minutes (0: never)")


def _keys(value: object) -> str:
    text = _text(value)
    try:
        Hotkeys({"setup": text})
    except HotkeyError as exc:
        raise ValueError(str(exc)) from None
    return text


@dataclass(frozen=True)
class Profile:
    """A server to connect to."""

    host: str = _setting("", _host, "the server's host name or address")
    port: int | None = _setting(None, _optional(_port), "plain SPICE port")
    tls_port: int | None = _setting(None, _optional(_port),
                                    "TLS SPICE port (used whenever it is set)")
    password: str | None = _setting(None, _optional(_password), "SPICE ticket (password)",
                                    secret=True)
    ca: str | None = _setting(None, _optional(_ca),
                              "CA certificate (PEM) that signed the server's; unset: the "
                              "system's CAs")
    host_subject: str | None = _setting(None, _optional(_subject),
                                        "expected certificate subject, e.g. O=Org,CN=host")
    fingerprint: str | None = _setting(
        None, _optional(_fingerprint), "SHA-256 of the server's certificate, trusted on "
        "first use: only that certificate passes (CA and name are not checked)")
    proxy: str | None = _setting(None, _optional(_proxy), "HTTP proxy, http://HOST:PORT")
    title: str | None = _setting(None, _optional(_text), "name shown for this profile")
    proxmox_url: str | None = _setting(
        None, _optional(_https_url), "Proxmox VE API, https://HOST:8006; when set, the "
        "server and a fresh ticket come from Proxmox at every connect")
    proxmox_user: str | None = _setting(None, _optional(_user), "Proxmox VE user, without "
                                        "the realm")
    proxmox_realm: str = _setting("pam", _realm, "Proxmox VE realm: pam, pve, or a "
                                  "directory's")
    proxmox_password: str | None = _setting(None, _optional(_text), "Proxmox VE password",
                                            secret=True)
    proxmox_token: str | None = _setting(
        None, _optional(_token), "Proxmox VE API token as TOKENID=SECRET (instead of the "
        "password)", secret=True)
    proxmox_vmid: int | None = _setting(None, _optional(_vmid), "the VM's id, e.g. 100")
    proxmox_node: str | None = _setting(None, _optional(_user),
                                        "the VM's node (unset: looked up by the VM's id)")

    def check(self, where: str) -> None:
        if self.proxmox_url:
            for key, value in (("proxmox-user", self.proxmox_user),
                               ("proxmox-vmid", self.proxmox_vmid)):
                if value is None:
                    raise ConfigError(f"{where}.{key} is not set: a Proxmox VE profile needs "
                                      f"it")
            if not (self.proxmox_password or self.proxmox_token):
                raise ConfigError(f"{where} has neither proxmox-password nor proxmox-token: "
                                  f"set one of them")
            return
        if not self.host:
            raise ConfigError(f"{where}.host is not set: set the server's address")
        if self.port is None and self.tls_port is None:
            raise ConfigError(f"{where} has neither port nor tls-port: set one of them")

    def describe(self) -> str:
        """Where the profile connects to, as the session will (TLS whenever its port is
        set), or which Proxmox VE VM."""
        if self.proxmox_url:
            return f"VM {self.proxmox_vmid or '?'} on {self.proxmox_url}"
        host = self.host or "(no server)"
        if self.tls_port:
            return f"{host}:{self.tls_port} (TLS)"
        return f"{host}:{self.port}" if self.port else host

    def target(self) -> Target:
        """Where a plain profile connects to (a Proxmox VE one: config.proxmox.resolve)."""
        return Target(host=self.host, port=self.port, tls_port=self.tls_port,
                      password=self.password, ca_pem=self.ca,
                      host_subject=self.host_subject, proxy=self.proxy, title=self.title,
                      fingerprint=self.fingerprint)

    @classmethod
    def of(cls, target: Target, where: str) -> Profile:
        """A target (from a .vv file, say) as a profile, every value checked."""
        values = {"host": target.host, "port": target.port, "tls-port": target.tls_port,
                  "password": target.password, "ca": target.ca_pem,
                  "host-subject": target.host_subject, "proxy": target.proxy,
                  "title": target.title}
        profile: Profile = section_from(
            cls, {k: v for k, v in values.items() if v is not None}, where)
        profile.check(where)
        return profile


@dataclass(frozen=True)
class Display:
    backend: str = _one_of("auto", BACKENDS, "where to draw: auto picks kmsdrm, fbdev or x11")
    resolution: tuple[tuple[int, int], ...] | None = _setting(
        None, _optional(parse_resolution),
        "monitor sizes to ask the guest for (WxH,WxH...); unset: the screen's own",
        to_toml=_sizes_text)
    compression: str = _one_of("auto", ("auto", *COMPRESSIONS),
                               "image compression to ask the server for")
    blank_after: int = _setting(10, _minutes, "minutes without input before the setup and "
                                "reconnect screens go dark (0: never); a session's guest "
                                "blanks its own")
    rotation: str = _one_of("0", tuple(str(r) for r in ROTATIONS),
                            "degrees the picture turns (clockwise) for a screen mounted "
                            "turned; touch and pointer turn with it")


def _layout(value: object) -> str:
    # Only the form is checked here: whether xkb-data knows it is checked where it is set
    # (the setup page) and used (typing there falls back to US), so an xkb-data upgrade
    # that drops a layout cannot stop the box from connecting.
    text = _text(value).strip()
    if not re.fullmatch(r"[a-z]{2,8}(,[a-z]{2,8})*", text):
        raise ValueError("an xkb layout name is expected, e.g. us, de, fr, gb, ch")
    return text


@dataclass(frozen=True)
class Input:
    source: str = _one_of("auto", INPUT_SOURCES,
                          "keyboards and mice: auto reads /dev/input on kmsdrm and fbdev")
    keyboard_layout: str = _setting("us", _layout, "the keyboard's layout, for typing in "
                                    "setup (the guest uses its own): us, de, fr, gb, ...")
    keyboard_variant: str | None = _setting(None, _optional(_text), "its variant, e.g. "
                                            "nodeadkeys, azerty, dvorak")


@dataclass(frozen=True)
class HotkeySettings:
    setup: str = _setting(DEFAULT_HOTKEYS["setup"], _keys, "open setup")
    ctrl_alt_del: str = _setting(DEFAULT_HOTKEYS["ctrl-alt-del"], _keys,
                                 "send Ctrl+Alt+Del to the guest")
    fullscreen: str = _setting(DEFAULT_HOTKEYS["fullscreen"], _keys,
                               "toggle fullscreen (x11)")
    release_pointer: str = _setting(DEFAULT_HOTKEYS["release-pointer"], _keys,
                                    "give the pointer back to the desktop (x11, server "
                                    "mouse mode)")

    def bindings(self) -> dict[str, str]:
        return {"setup": self.setup, "ctrl-alt-del": self.ctrl_alt_del,
                "fullscreen": self.fullscreen, "release-pointer": self.release_pointer}


def _sound_device(value: object) -> str:
    try:
        return str(AudioDevice.parse(_text(value)))
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Audio:
    playback: str = _setting("alsa", _sound_device, "where the guest's sound plays: alsa "
                             "(the default device), alsa:CARD or alsa:DEVICE, none")
    microphone: str = _setting("alsa", _sound_device, "what the guest hears as its "
                               "microphone, when it asks: alsa, alsa:CARD or alsa:DEVICE, "
                               "none")
    codec: str = _one_of("auto", AUDIO_CODECS, "sound over the network: auto is raw on a "
                         "LAN (no decoding) and Opus beyond it")
    volume: int = _setting(100, _whole(0, 100, "a percentage"), "the box's own volume for "
                           "the desktop's sound, in %, on top of the desktop's")

    def devices(self) -> AudioDevices:
        return AudioDevices(AudioDevice.parse(self.playback),
                            AudioDevice.parse(self.microphone), self.volume)


def _usb_filter(value: object) -> str:
    text = _text(value).strip()
    try:
        parse(text)
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("USB filter: ")) from None
    return text


@dataclass(frozen=True)
class Usb:
    redirect_filter: str = _setting(
        DEFAULT_REDIRECT, _usb_filter, "USB devices that may be redirected to the desktop: "
        "rules class,vendor,product,version,allow separated by | (-1: any), as in "
        "remote-viewer; hubs never are")
    auto_redirect_filter: str = _setting(
        DEFAULT_AUTO_REDIRECT, _usb_filter, "USB devices redirected as soon as they are "
        "plugged in (and those present when a session starts); keyboards and mice stay "
        "with the box")


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError("true or false is expected")


# OpenSSH's public key types (ssh-keygen -t), as their lines in authorized_keys begin.
_SSH_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                  "ecdsa-sha2-nistp521", "ssh-rsa", "sk-ssh-ed25519@openssh.com",
                  "sk-ecdsa-sha2-nistp256@openssh.com")


def _ssh_keys(value: object) -> tuple[str, ...]:
    """OpenSSH public keys: a list, or text with one key per line."""
    lines = value if isinstance(value, list) else _text(value).splitlines()
    keys = []
    for line in lines:
        text = " ".join(_text(line).split())
        if not text:
            continue
        kind, _, rest = text.partition(" ")
        blob = rest.partition(" ")[0]
        try:
            decoded = base64.b64decode(blob, validate=True)
        except ValueError:
            decoded = b""
        # The key's data starts with its type again (a length, then the name).
        if kind not in _SSH_KEY_TYPES or decoded[4:4 + len(kind)] != kind.encode():
            raise ValueError(f"{text[:40]!r} is not an OpenSSH public key (one per line, "
                             f"as in a .pub file: ssh-ed25519 AAAA... comment)")
        keys.append(text)
    return tuple(keys)


def _admin_pin(value: object) -> str:
    """A PIN (4 to 12 digits) as set by the user, or the hash it is stored as."""
    text = _text(value).strip()
    if is_pin_hash(text):
        return text
    if not (text.isdigit() and 4 <= len(text) <= 12):
        raise ValueError("4 to 12 digits are expected")
    return hash_pin(text)


_PIN_HASH = "pbkdf2-sha256"
_PIN_ROUNDS = 100_000  # a guess takes a Raspberry Pi 4 about 0.1 s


def hash_pin(pin: str, salt: bytes | None = None, rounds: int = _PIN_ROUNDS) -> str:
    """The PIN is stored hashed, so the configuration files (and provisioning documents)
    never hold it."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, rounds)
    return f"{_PIN_HASH}${rounds}${salt.hex()}${digest.hex()}"


def is_pin_hash(text: str) -> bool:
    parts = text.split("$")
    # Bounded rounds: a hand-edited hash must neither crash nor freeze the check.
    return (len(parts) == 4 and parts[0] == _PIN_HASH and parts[1].isdigit()
            and 1000 <= int(parts[1]) <= 10 * _PIN_ROUNDS
            and all(re.fullmatch(r"[0-9a-f]{32,128}", p) for p in parts[2:]))


def pin_matches(stored: str, pin: str) -> bool:
    _, rounds, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_pin(pin, bytes.fromhex(salt), int(rounds)), stored)


def _ssid(value: object) -> str:
    text = _text(value)
    if not 1 <= len(text.encode()) <= 32:
        raise ValueError("a Wi-Fi network name has 1 to 32 bytes")
    return text


def check_psk(password: str) -> str:
    """A WPA passphrase (8 to 63 characters) or the raw key (64 hex digits)."""
    raw = len(password) == 64 and all(c in "0123456789abcdefABCDEF" for c in password)
    if not (raw or 8 <= len(password) <= 63):
        raise ValueError("a WPA password has 8 to 63 characters (or is 64 hex digits)")
    return password


def _wifi_password(value: object) -> str:
    return check_psk(_text(value))


@dataclass(frozen=True)
class NetworkSettings:
    """A Wi-Fi network to join, for provisioning a fleet (setup's Network page joins
    networks directly): NetworkManager keeps it and joins it when in range."""

    wifi_ssid: str | None = _setting(None, _optional(_ssid), "a Wi-Fi network's name")
    wifi_password: str | None = _setting(None, _optional(_wifi_password),
                                         "its WPA password (unset: an open network)",
                                         secret=True)


@dataclass(frozen=True)
class System:
    admin_pin: str | None = _setting(
        None, _optional(_admin_pin), "PIN that guards every setup page but the profile "
        "choice (4 to 12 digits; stored hashed)", secret=True)
    ui_locked: bool = _setting(False, _flag, "no setup at all on the device (provisioned "
                               "boxes): only connecting and the reconnect screen")
    provisioning_url: str | None = _setting(
        None, _optional(_url), "where this box fetches its signed configuration, "
        "https://...")
    time_zone: str | None = _setting(
        None, _optional(_time_zone), "the box's time zone (e.g. Europe/Berlin); unset: as "
        "setup or the image left it")
    update_channel: str = _setting(
        "stable", _channel, "the provisioning site's firmware channel this box follows")
    update_reboot: str = _one_of(
        "next-boot", ("next-boot", "now"), "when firmware from provisioning starts: at "
        "the next boot, or at once (a session in progress ends)")
    ssh_keys: tuple[str, ...] = _setting(
        (), _ssh_keys, "OpenSSH public keys that may log in as root; SSH is off while there "
        "are none. Only the signed provisioning site's count (spicebox ssh from-site)",
        to_toml=list)


SECTIONS: dict[str, type[Any]] = {"display": Display, "input": Input, "audio": Audio,
                                  "usb": Usb,
                                  "hotkeys": HotkeySettings, "network": NetworkSettings,
                                  "system": System}


def toml_name(f: dataclasses.Field[Any]) -> str:
    return f.name.replace("_", "-")


def fields_of(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    return {toml_name(f): f for f in dataclasses.fields(cls)}


def parse_value(f: dataclasses.Field[Any], value: object, where: str) -> Any:
    try:
        return f.metadata["parse"](value)
    except ValueError as exc:
        raise ConfigError(f"{where} = {_shown(f, value)} is not valid: {exc}") from None


def _shown(f: dataclasses.Field[Any], value: object) -> str:
    return MASK if f.metadata["secret"] else repr(value)


def section_from(cls: type[Any], doc: object, where: str) -> Any:
    """A section (or profile) from its TOML table; unknown keys are errors, not ignored:
    a misspelt setting would otherwise silently keep its default."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where} must be a table of settings")
    known = fields_of(cls)
    values = {}
    for key, value in doc.items():
        if key not in known:
            raise ConfigError(f"{where}.{key} is not a setting; {where} has: "
                              f"{', '.join(known)}")
        values[known[key].name] = parse_value(known[key], value, f"{where}.{key}")
    return cls(**values)


def section_to(instance: Any, secret: bool) -> dict[str, object]:
    """The fields that differ from their defaults, as TOML values: the secret ones or the
    others."""
    table = {}
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        if value != f.default and f.metadata["secret"] == secret:
            table[toml_name(f)] = f.metadata["to_toml"](value)
    return table


@dataclass(frozen=True)
class Config:
    """Everything the box remembers, checked. Built by ``config.store``."""

    profiles: Mapping[str, Profile] = field(default_factory=dict)
    default_profile: str | None = None
    display: Display = Display()
    input: Input = Input()
    audio: Audio = Audio()
    usb: Usb = Usb()
    hotkeys: HotkeySettings = HotkeySettings()
    network: NetworkSettings = NetworkSettings()
    system: System = System()

    def profile(self, name: str | None = None) -> Profile:
        name = name or self.default_profile
        if name is None:
            raise ConfigError("no connection profile is set up: run 'spicebox setup', or "
                              "'spicebox config import FILE.vv'")
        if name not in self.profiles:
            raise ConfigError(f"there is no profile {name!r}; profiles: "
                              f"{', '.join(self.profiles) or 'none'}")
        profile = self.profiles[name]
        profile.check(f"{PROFILES}.{name}")
        return profile
