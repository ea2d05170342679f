"""The ``spicebox`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w
import uvloop

from .audio.devices import AudioDevice, AudioDevices
from .config.settings import COMPRESSIONS, INPUT_SOURCES, Config, parse_resolution
from .config.store import ConfigPaths, ConfigStore, describe, get, import_vv_file
from .config.target import ConfigError, Target, parse_target
from .display.base import Presenter
from .display.choose import BACKENDS, open_presenter, resolve_backend
from .display.rotate import Rotated, Rotation
from .display.sdl import DisplayUnavailable
from .input.diag import describe_devices, watch_keys
from .input.evdev_source import EvdevInput
from .input.hotkeys import DEFAULT_HOTKEYS, HotkeyError, Hotkeys
from .net.interfaces import interfaces
from .net.links import network_back
from .net.tls import TlsVerificationFailed
from .net.transport import CannotConnect
from .recent import RECENT
from .session import Session
from .spice.errors import AccessDenied, ProtocolError
from .spice.link import check_password
from .spice.policy import AUDIO_CODECS, DecodingPolicy, compression_for
from .spice.recording import Recorder
from .system.errors import UpdateError
from .usb.filter import parse as parse_usb_filter
from .usb.redirect import UsbPolicy

if TYPE_CHECKING:
    from .system.update import Device
    from .ui.app import Idle, Page, SetupApp

RETRY_FIRST_SECONDS = 1.0  # the kiosk's reconnect delay, doubling up to the max
RETRY_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0  # a session that lasted this long is reconnected at once when it ends
# At boot the kiosk starts beside DHCP instead of after it; the first connection waits
# this long for an address (with the boot splash still up) before trying anyway.
NETWORK_WAIT_SECONDS = 30.0
# How often a kiosk session looks whether provisioning (or the command line) changed its
# profile: it then reconnects with the new one.
PROFILE_CHECK_SECONDS = 5.0

EXIT_OK, EXIT_USAGE, EXIT_CONNECT, EXIT_AUTH, EXIT_TLS, EXIT_PROTOCOL = 0, 2, 3, 4, 5, 6

# Most specific first: AccessDenied is a ProtocolError too.
_EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (DisplayUnavailable, EXIT_USAGE),
    (CannotConnect, EXIT_CONNECT),
    (AccessDenied, EXIT_AUTH),
    (TlsVerificationFailed, EXIT_TLS),
    (ProtocolError, EXIT_PROTOCOL),
    (UpdateError, EXIT_USAGE),
)

log = logging.getLogger("spicebox")


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spicebox", description="SPICE thin client")
    # Every command reads the configuration: the settings are the defaults of the options.
    configured = argparse.ArgumentParser(add_help=False)
    configured.add_argument("--config-dir", type=Path, metavar="DIR",
                            help="keep the configuration in DIR instead of /etc/spicebox "
                                 "and /var/lib/spicebox")
    configured.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    connect = commands.add_parser(
        "connect", parents=[configured], help="connect to a SPICE server and show its screen",
        description="TARGET is spice://HOST[:PORT][?tls-port=N], spice+tls://HOST:PORT, "
                    "a .vv file or a profile's name. The password comes from "
                    "--password-file, then $SPICEBOX_PASSWORD, then the target itself. "
                    "Options not given come from the configuration (spicebox config get).")
    connect.add_argument("target", metavar="TARGET")
    run = commands.add_parser(
        "run", parents=[configured], help="the kiosk: connect to the default profile, and "
                                          "reconnect whenever the connection ends")
    setup = commands.add_parser(
        "setup", parents=[configured], help="the setup UI: connection profiles, display, "
                                            "input, admin PIN, diagnostics")
    for command in (connect, run, setup):
        _add_screen_options(command)
    for command in (connect, run):
        _add_session_options(command)
    config = commands.add_parser("config", help="show or change the configuration")
    config_what = config.add_subparsers(dest="what", required=True)
    config_get = config_what.add_parser(
        "get", parents=[configured],
        help="print one setting, or with no KEY the whole configuration (secrets masked)")
    config_get.add_argument("key", nargs="?", metavar="KEY",
                            help="e.g. display.backend or profiles.NAME.host")
    config_set = config_what.add_parser(
        "set", parents=[configured], help="change one setting; an empty VALUE unsets it")
    config_set.add_argument("key", metavar="KEY")
    config_set.add_argument("value", metavar="VALUE")
    config_import = config_what.add_parser(
        "import", parents=[configured],
        help="make a .vv file's connection the default profile")
    config_import.add_argument("file", type=Path, metavar="FILE.vv")
    config_import.add_argument("--name", help="the profile's name (default: from the file)")
    config_pre = config_what.add_parser(
        "preconfigure", parents=[configured],
        help="store DIR/spicebox.toml and DIR/spicebox.vv (an image's boot partition) and "
             "remove them; a refused file is renamed *.rejected beside spicebox-error.txt")
    config_pre.add_argument("directory", type=Path, metavar="DIR")
    identity = commands.add_parser(
        "identity", help="print this device's public key (for enrolling it)")
    identity.add_argument("--create", action="store_true",
                          help="make the key first if there is none (first boot)")
    identity.add_argument("--key", type=Path, metavar="FILE",
                          help="default: /var/lib/spicebox/identity.key")
    site = argparse.ArgumentParser(add_help=False)
    site.add_argument("--server", metavar="URL",
                      help="the provisioning site (spicebox-admin publish's tree); default: "
                           "spicebox.provision= on the kernel's command line, else DHCP "
                           "option 224, else the DNS SRV record _spicebox._tcp, else "
                           "system.provisioning-url")
    site.add_argument("--trust", type=Path, metavar="FILE",
                      help="the administrators' signing.pub; default: "
                           "spicebox.provision-key= on the kernel's command line, the "
                           "image's /etc/spicebox/provisioning.pub, else the key trusted "
                           "before")
    site.add_argument("--ca-file", metavar="F", help="CA certificate (PEM) for HTTPS "
                      "(default: the system's)")
    update = commands.add_parser("update", help="firmware updates into the other root slot (A/B)")
    update_what = update.add_subparsers(dest="what", required=True)
    update_what.add_parser("status", help="the running slot, and what each slot holds")
    update_install = update_what.add_parser(
        "install", help="write an update bundle (out/BOARD/update.tar) into the slot not "
                        "running; it boots next, and the running one comes back if it fails")
    update_install.add_argument("bundle", metavar="BUNDLE", help="a file, or - to read it "
                                "from standard input (curl URL | spicebox update install -)")
    update_install.add_argument("--downgrade", action="store_true",
                                help="install a bundle older than the running firmware")
    update_install.add_argument("--reboot", action="store_true",
                                help="restart into it once it is written")
    update_install.add_argument("--trust", type=Path, metavar="FILE",
                                help="install it only if BUNDLE.sig (spicebox-admin sign) "
                                     "is this key's signature of it (signing.pub)")
    update_what.add_parser(
        "keep", help="keep the running slot, which is on trial after an update (a Raspberry "
                     "Pi, or x86 from a BIOS; the image runs it once the kiosk is up)")
    update_what.add_parser(
        "from-site", parents=[configured, site],
        help="install the provisioning site's firmware for this box's update channel, if "
             "it is newer (root; the image runs it when provisioning changes)")
    ssh = commands.add_parser("ssh", help="SSH for administrators, off unless provisioned")
    ssh_what = ssh.add_subparsers(dest="what", required=True)
    ssh_what.add_parser(
        "from-site", parents=[configured, site],
        help="let the keys the signed provisioning site gives this box (system.ssh-keys) "
             "log in as root, or turn SSH off if it gives none (root; the image runs it "
             "when provisioning changes)")
    provision = commands.add_parser(
        "provision", parents=[configured, site],
        help="fetch the administrators' signed configuration, check it, apply it")
    provision.add_argument("--once", action="store_true",
                           help="fetch and apply once, then exit (else: again every "
                                "--every seconds, give or take a fifth, for ever)")
    provision.add_argument("--every", type=_seconds, default=300.0, metavar="SECONDS",
                           help="how often to look for a new version (default 300)")
    provision.add_argument("--identity", type=Path, metavar="FILE",
                           help="the device key that names this box to the site and signs "
                                "its reports (default: the box's own)")
    usb = commands.add_parser("usb", help="local USB devices and their redirection")
    usb_what = usb.add_subparsers(dest="what", required=True)
    usb_what.add_parser("list", parents=[configured],
                        help="USB devices: whether each may be redirected (and why not), "
                             "and whether it is when plugged in")
    diag = commands.add_parser("diag", help="diagnostics for support")
    diag_what = diag.add_subparsers(dest="what", required=True)
    diag_input = diag_what.add_parser(
        "input", parents=[configured],
        help="list input devices; with --keys, show what each typed key sends")
    diag_input.add_argument("--keys", action="store_true",
                            help="print the scancodes of keys typed on any keyboard")
    diag_input.add_argument("--seconds", type=_seconds, default=15.0,
                            help="how long --keys listens (default 15)")
    diag_audio = diag_what.add_parser(
        "audio", parents=[configured],
        help="play a test tone, then record a few seconds and say how loud they were")
    _add_audio_options(diag_audio)
    diag_audio.add_argument("--seconds", type=_seconds, default=3.0,
                            help="how long to record (default 3)")
    return parser


def _sound_device(text: str) -> AudioDevice:
    try:
        return AudioDevice.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_audio_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--audio", type=_sound_device, metavar="none|alsa[:DEVICE]|wav:PATH",
                         help="where the guest's sound plays (wav: into a file, as it "
                              "arrives). Default: audio.playback")
    command.add_argument("--mic", type=_sound_device, metavar="none|alsa[:DEVICE]|wav:PATH",
                         help="the guest's microphone (wav: a recording, played in real "
                              "time). Default: audio.microphone")


def _add_screen_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--backend", choices=BACKENDS, help="default: display.backend")
    command.add_argument("--resolution", type=_resolution, metavar="WxH[,WxH...]",
                         help="ask the guest agent for monitors of these sizes, and draw "
                              "setup at the first (default: display.resolution, else the "
                              "screen's size)")
    command.add_argument("--input", choices=INPUT_SOURCES,
                         help="keyboards, mice and touch screens: read from /dev/input "
                              "(auto: with the kmsdrm and fbdev backends; x11 has its "
                              "window's). Default: input.source")
    command.add_argument("--screenshot", type=Path, metavar="PNG",
                         help="save the primary monitor (or the setup screen) as PNG")
    command.add_argument("--screenshot-after", type=_seconds, default=2.0, metavar="SECONDS")
    command.add_argument("--exit-after", type=_seconds, metavar="SECONDS",
                         help="disconnect cleanly (or close setup) and exit 0 after this long")


def _add_session_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--password-file", type=Path, metavar="F")
    command.add_argument("--ca-file", metavar="F", help="CA certificate (PEM) for TLS")
    command.add_argument("--host-subject", metavar="S",
                         help="expected server certificate subject, e.g. 'O=Org,CN=host'")
    command.add_argument("--hotkeys", metavar="ACTION=KEYS[,...]",
                         help="override hotkeys: setup (default ctrl+alt+shift+s), "
                              "ctrl-alt-del (ctrl+alt+end), fullscreen (ctrl+alt+shift+f), "
                              "release-pointer (shift+f12)")
    command.add_argument("--screenshot-dir", type=Path, metavar="DIR",
                         help="save every monitor as DIR/monitor-N.png")
    command.add_argument("--compression", choices=["auto", *COMPRESSIONS],
                         help="image compression to ask the server for; auto: off when "
                              "the server is this machine, else lz4 (the cheapest to "
                              "decode that still saves bandwidth). Default: "
                              "display.compression")
    command.add_argument("--audio-codec", choices=AUDIO_CODECS,
                         help="sound over the network: auto is raw on a LAN (no decoding), "
                              "Opus beyond it. Default: audio.codec")
    _add_audio_options(command)
    command.add_argument("--usb-redirect", metavar="FILTER",
                         help="USB devices that may be redirected: rules class,vendor,"
                              "product,version,allow separated by | (-1: any), as in "
                              "remote-viewer. Default: usb.redirect-filter")
    command.add_argument("--usb-auto-redirect", metavar="FILTER",
                         help="USB devices redirected when plugged in (and those present "
                              "at the start); keyboards and mice never are. Default: the "
                              ".vv file's usb-filter, else usb.auto-redirect-filter")
    command.add_argument("--record", type=Path, metavar="FILE",
                         help="write every display message received to FILE, for tests "
                              "and bug reports (it holds the screen's contents)")


def _password(args: argparse.Namespace, target: Target) -> str:
    password: str
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the password file {args.password_file}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    else:
        password = os.environ.get("SPICEBOX_PASSWORD") or target.password or ""
    try:
        return check_password(password)
    except ValueError as exc:
        raise ConfigError(f"the password is too long: {exc}") from None


def _hotkeys(text: str | None, config: Config) -> Hotkeys:
    """The configured hotkeys, with ``--hotkeys`` overriding some."""
    bindings = config.hotkeys.bindings()
    if config.system.ui_locked:
        del bindings["setup"]  # the administrator locked setup away
    for part in text.split(",") if text else ():
        action, _, keys = part.partition("=")
        action = action.strip()
        if action == "setup" and config.system.ui_locked:
            continue
        if action not in DEFAULT_HOTKEYS:
            raise ConfigError(f"--hotkeys: unknown action {action!r}: use "
                              f"{', '.join(DEFAULT_HOTKEYS)}")
        bindings[action] = keys
    try:
        return Hotkeys(bindings)
    except HotkeyError as exc:
        raise ConfigError(f"--hotkeys: {exc}") from None


def _resolution(text: str) -> list[tuple[int, int]]:
    try:
        return list(parse_resolution(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def _store(args: argparse.Namespace) -> ConfigStore:
    return ConfigStore(ConfigPaths.under(args.config_dir) if args.config_dir
                       else ConfigPaths.system())


def _target(text: str, config: Config) -> Target:
    if text in config.profiles:
        profile = config.profile(text)
        if not profile.proxmox_url:
            return profile.target()
        from .config.proxmox import resolve  # noqa: PLC0415 - its HTTPS client only then
        return uvloop.run(resolve(profile))
    try:
        return parse_target(text)
    except ConfigError as exc:
        profiles = ", ".join(config.profiles)
        raise ConfigError(f"{exc}, nor a profile ({profiles or 'none set up'})") from None


def _connect(args: argparse.Namespace) -> int:
    _check_outputs(args)
    config = _store(args).load()
    target = _target(args.target, config)
    presenter = _presenter(args, config, target.title or f"spicebox - {target.describe()}")
    with contextlib.closing(presenter):
        session = _session(args, config, target, presenter)
        uvloop.run(_serve(session, args))
    return EXIT_OK


def _setup(args: argparse.Namespace) -> int:
    from .ui.pages.home import HomePage  # noqa: PLC0415 - connect does without the UI
    _check_outputs(args)
    store = _store(args)
    config = _config_or_defaults(store)
    if config.system.ui_locked:
        raise ConfigError("setup is locked by the administrator (system.ui-locked)")
    with contextlib.closing(_presenter(args, config, "spicebox setup")) as presenter:
        _show(args, store, config, presenter, HomePage, kiosk=False)
    return EXIT_OK


def _check_outputs(args: argparse.Namespace) -> None:
    """Mistakes on the command line end the command at once, before any connection."""
    if getattr(args, "ca_file", None) and not Path(args.ca_file).is_file():
        raise ConfigError(f"CA file {args.ca_file} does not exist")
    shots = (args.screenshot and args.screenshot.parent, getattr(args, "screenshot_dir", None))
    for directory in shots:
        if directory is not None and not directory.is_dir():
            raise ConfigError(f"cannot save a screenshot in {directory}: no such directory")


def _config_or_defaults(store: ConfigStore) -> Config:
    """Setup must open even when a file is broken (its pages say what is wrong)."""
    try:
        return store.load()
    except ConfigError:
        return Config()


def _run(args: argparse.Namespace) -> int:
    """The kiosk: the default profile, again and again, with setup in between when there
    is none or the user asks. The configuration is read before every attempt, so what
    setup or provisioning changed applies at the next connect; a file broken by hand is
    reported and the last good configuration stays in force."""
    # The kiosk's screens (connect does without them, and without their imports).
    from .config.proxmox import resolve  # noqa: PLC0415
    from .ui.app import CONNECT, Idle  # noqa: PLC0415
    from .ui.pages.home import HomePage  # noqa: PLC0415
    from .ui.pages.reconnect import ReconnectPage  # noqa: PLC0415
    _check_outputs(args)
    store = _store(args)
    if _config_or_defaults(store).default_profile is not None:
        uvloop.run(_network(NETWORK_WAIT_SECONDS))
    delay = RETRY_FIRST_SECONDS
    good: Config | None = None
    presenter: Presenter | None = None
    shown_on: tuple[str, str] | None = None  # the backend and rotation it was opened with

    idle = Idle()  # the kiosk's screens go dark together, however often they change

    def show(config: Config, first: Callable[[SetupApp], Page]) -> bool:
        """The UI until it is done; False when the kiosk should end (window closed). A
        box without a profile leaves setup by itself once provisioning gives it one."""
        assert presenter is not None
        return _show(args, store, config, presenter, first, kiosk=True, idle=idle,
                     provisioned=config.default_profile is None) == CONNECT

    def screen(config: Config) -> Presenter:
        """The presenter for this configuration: the one open, unless the backend or the
        rotation asked for changed in setup."""
        nonlocal presenter, shown_on
        wanted = (resolve_backend(args.backend or config.display.backend),
                  config.display.rotation)
        if presenter is not None and wanted != shown_on:
            presenter.close()
            presenter = None
        if presenter is None:
            try:
                presenter = _presenter(args, config, "spicebox")
            except DisplayUnavailable as exc:
                if args.backend or config.display.backend == "auto":
                    raise
                # A backend chosen in setup that cannot open must not leave the box
                # without a screen to choose another one on.
                log.error("%s; using display.backend auto instead", exc)
                presenter = _presenter(args, dataclasses.replace(
                    config, display=dataclasses.replace(config.display, backend="auto")),
                    "spicebox")
            shown_on = wanted  # what was asked for: it is not tried again until it changes
        return presenter

    try:
        while True:
            try:
                config = good = store.load()
            except ConfigError as exc:
                if good is None:  # nothing to fall back on: say so, and read it again
                    log.error("error: %s; reading it again in %.0f s", exc, delay)
                    screen(Config())
                    if not show(Config(), functools.partial(
                            ReconnectPage, server="the configuration", problem=str(exc),
                            retry_in=delay, setup=False)):
                        return EXIT_OK
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
                log.error("%s; the last good configuration stays in force", exc)
                config = good
            shown = screen(config)
            locked = config.system.ui_locked
            if config.default_profile is None:
                if locked:
                    raise ConfigError("no connection profile is set up, and setup is "
                                      "locked (system.ui-locked): provision this device")
                if not show(config, HomePage):
                    return EXIT_OK
                continue
            profile, session, problem, changed = None, None, "", False
            started = time.monotonic()
            try:
                profile = config.profile()
                target = uvloop.run(resolve(profile))
                session = _session(args, config, target, shown)
                changed = uvloop.run(_serve(session, args, functools.partial(
                    _profile_changed, store, config.default_profile, profile)))
            except (CannotConnect, ProtocolError, TlsVerificationFailed, ConfigError) as exc:
                problem = str(exc)
            if changed:
                delay = RETRY_FIRST_SECONDS
                continue
            if session is not None and session.setup_requested:
                if not show(config, HomePage):
                    return EXIT_OK
                delay = RETRY_FIRST_SECONDS
                continue
            if session is not None and not session.server_ended and not problem:
                return EXIT_OK  # the user, a signal or --exit-after ended it
            if time.monotonic() - started >= STABLE_SECONDS:
                delay = RETRY_FIRST_SECONDS  # it had been working: start the backoff over
                if not problem:
                    log.info("the server ended the session; reconnecting")
                    continue
            # A session that failed, or ended soon after it began (another client took
            # the server over, say), is retried after a growing pause: two kiosks on one
            # VM must not take it from each other in a tight loop.
            problem = problem or "the server ended the session"
            log.error("error: %s; trying again in %.0f s", problem, delay)
            where = profile.describe() if profile else f"profile {config.default_profile}"
            if not show(config, functools.partial(ReconnectPage, server=where,
                                                  problem=problem, retry_in=delay,
                                                  setup=not locked)):
                return EXIT_OK
            delay = min(delay * 2, RETRY_MAX_SECONDS)
    finally:
        if presenter is not None:
            presenter.close()


def _profile_changed(store: ConfigStore, name: str | None, profile: object) -> bool:
    """Whether the default profile is no longer ``name`` as ``profile`` (a configuration
    that cannot be read changes nothing: the session goes on)."""
    try:
        config = store.load()
        return config.default_profile != name or config.profile() != profile
    except ConfigError:
        return False


async def _network(seconds: float) -> None:
    """Returns when this machine has a global address, or after ``seconds``."""
    if any(interface.addresses for interface in interfaces()):
        return
    log.info("waiting up to %.0f s for the network", seconds)
    try:
        async with asyncio.timeout(seconds):
            await network_back(up_now_counts=True)  # (it may have come since)
    except (TimeoutError, OSError) as exc:
        log.info("no network yet (%s): connecting anyway", exc or "timed out")


def _show(args: argparse.Namespace, store: ConfigStore, config: Config, presenter: Presenter,
          first: Callable[[SetupApp], Page], kiosk: bool, idle: Idle | None = None,
          provisioned: bool = False) -> str:
    """Run the setup UI (from page ``first``) on the presenter; returns its result.
    Like a session, it ends by itself after --exit-after seconds (as if closed).
    ``provisioned``: it also ends, to connect, once provisioning sets a default profile."""
    from .ui.app import CLOSE, CONNECT, SetupApp  # noqa: PLC0415 - see _run
    from .ui.runner import screen_size  # noqa: PLC0415
    from .ui.runner import show as show_ui  # noqa: PLC0415
    width, height = screen_size(presenter, args.resolution[0] if args.resolution else None)
    app = SetupApp(store, width, height, kiosk, idle=idle)
    app.open(first(app))
    local_input = EvdevInput() if _use_evdev(args, config, presenter.name) else None

    async def serve() -> str:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, app.finish, CLOSE)
        until = None if args.exit_after is None else loop.time() + args.exit_after
        watch = asyncio.create_task(until_provisioned()) if provisioned else None
        try:
            return await show_ui(app, presenter, local_input, args.screenshot,
                                 args.screenshot_after, until)
        finally:
            if watch is not None:
                watch.cancel()

    async def until_provisioned() -> None:
        before = _provisioned_bytes(store)
        while True:
            await asyncio.sleep(PROFILE_CHECK_SECONDS)
            now = _provisioned_bytes(store)
            if now != before and _has_profile(store):
                log.info("provisioning set a connection profile: connecting")
                app.finish(CONNECT)
                return
            before = now
    return uvloop.run(serve())


def _provisioned_bytes(store: ConfigStore) -> bytes | None:
    try:
        return store.paths.provisioned.read_bytes()
    except OSError:
        return None


def _has_profile(store: ConfigStore) -> bool:
    try:
        return store.load().default_profile is not None
    except ConfigError:
        return False


def _presenter(args: argparse.Namespace, config: Config, title: str) -> Presenter:
    presenter = open_presenter(resolve_backend(args.backend or config.display.backend), title)
    log.debug("presenting with %s", presenter.name)
    degrees = int(config.display.rotation)
    return Rotated(presenter, Rotation(degrees)) if degrees else presenter


def _use_evdev(args: argparse.Namespace, config: Config, backend: str) -> bool:
    source = args.input or config.input.source
    return source == "evdev" or (source == "auto" and backend in ("kmsdrm", "fbdev"))


def _session(args: argparse.Namespace, config: Config, target: Target,
             presenter: Presenter) -> Session:
    password = _password(args, target)
    if target.delete_file is not None:
        # virt-viewer semantics: brokers hand out one-time files holding a password.
        target.delete_file.unlink(missing_ok=True)
    hotkeys = _hotkeys(args.hotkeys, config)
    recorder = _recorder(args.record)
    compression = args.compression or config.display.compression
    policy = DecodingPolicy.for_device(
        compression_for(target.host) if compression == "auto" else COMPRESSIONS[compression],
        audio_codec=args.audio_codec or config.audio.codec)
    resolution = args.resolution or (list(config.display.resolution)
                                      if config.display.resolution else None)
    local_input = EvdevInput() if _use_evdev(args, config, presenter.name) else None
    return Session(target, password, presenter, policy, ca_file=args.ca_file,
                   host_subject=args.host_subject, recorder=recorder,
                   local_input=local_input, resolution=resolution, hotkeys=hotkeys,
                   audio=_audio_devices(args, config), usb=_usb_policy(args, config, target))


def _usb_policy(args: argparse.Namespace, config: Config, target: Target) -> UsbPolicy:
    auto = (args.usb_auto_redirect or target.usb_auto_filter
            or config.usb.auto_redirect_filter)
    return UsbPolicy(parse_usb_filter(args.usb_redirect or config.usb.redirect_filter,
                                      "the USB redirect filter"),
                     parse_usb_filter(auto, "the USB auto-redirect filter"))


def _audio_devices(args: argparse.Namespace, config: Config) -> AudioDevices:
    configured = config.audio.devices()
    return AudioDevices(args.audio or configured.playback, args.mic or configured.microphone,
                        configured.volume)


def _recorder(path: Path | None) -> Recorder | None:
    if path is None:
        return None
    try:
        return Recorder(path)
    except OSError as exc:
        raise ConfigError(f"cannot write the recording {path}: {exc.strerror}") from None


async def _serve(session: Session, args: argparse.Namespace,
                 changed: Callable[[], bool] | None = None) -> bool:
    """Serve the session; with ``changed``, end it once that says the profile it connects
    with changed (provisioning applied another), and return True then."""
    # systemd stops the kiosk with SIGTERM: leave the server a clean disconnect, as for ^C.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, session.stop)
    stopped_for_change = False

    async def watch() -> None:
        nonlocal stopped_for_change
        assert changed is not None
        while not changed():
            await asyncio.sleep(PROFILE_CHECK_SECONDS)
        log.info("the connection profile changed: reconnecting")
        stopped_for_change = True
        session.stop()
    watcher = loop.create_task(watch()) if changed is not None else None
    try:
        await session.run(args.screenshot, args.screenshot_after, args.exit_after,
                          args.screenshot_dir)
    finally:
        if watcher is not None:
            watcher.cancel()
    if (args.screenshot or args.screenshot_dir) and not session.screenshot_saved:
        log.warning("no screenshot saved: no frame arrived before the session ended")
    return stopped_for_change


def _config(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.what == "get":
        config = store.load()
        if args.key is None:
            sys.stdout.write(tomli_w.dumps(describe(config)))
        else:
            print(get(config, args.key))
    elif args.what == "set":
        store.set(args.key, args.value)
    elif args.what == "preconfigure":
        from .config.preconfigure import preconfigure  # noqa: PLC0415 - boot time only
        if preconfigure(store, args.directory):
            return EXIT_USAGE
    else:
        name = import_vv_file(store, args.file, args.name)
        log.info("imported %s as profile %r, now the default", args.file, name)
    return EXIT_OK


def _identity(args: argparse.Namespace) -> int:
    from . import identity  # noqa: PLC0415 - first boot and enrolment only
    path = args.key or identity.KEY_FILE
    key = identity.create(path) if args.create else identity.load(path)
    print(identity.public_key(key))
    return EXIT_OK


def _update(args: argparse.Namespace) -> int:
    # Not imported with the rest: tarfile and the slots' code cost a session 0.5 MiB.
    from .system.update import Device, install, keep, status  # noqa: PLC0415
    device = Device()
    if args.what == "status":
        print("\n".join(status(device)))
        return EXIT_OK
    if args.what == "from-site":
        return _update_from_site(args, device)
    if args.what == "keep":
        kept = keep(device)
        log.info("slot %s %s", device.running().upper(),
                 "is kept" if kept else "was not on trial: nothing to keep")
        return EXIT_OK
    try:
        bundle = sys.stdin.buffer if args.bundle == "-" else open(args.bundle, "rb")  # noqa: SIM115
    except OSError as exc:
        raise UpdateError(f"cannot read {args.bundle}: {exc.strerror}") from None
    with bundle:
        installed = install(bundle, device, allow_older=args.downgrade,
                            sha256=_vouched(args) if args.trust else None)
    where = f"Spicebox {installed.version} is in slot {installed.slot.upper()}"
    if args.reboot:
        log.info("%s: restarting into it", where)
        subprocess.run(["systemctl", "reboot"], check=True)
    else:
        log.info("%s and starts at the next boot (systemctl reboot)", where)
    return EXIT_OK


def _vouched(args: argparse.Namespace) -> str:
    """The SHA-256 that BUNDLE.sig, signed by the --trust key, gives the bundle."""
    from .provisioning.site import parse_public, signed_digest  # noqa: PLC0415
    if args.bundle == "-":
        raise ConfigError("--trust needs the bundle as a file, with its .sig beside it")
    trusted = parse_public(_read_trust(args.trust), str(args.trust))
    return signed_digest(Path(args.bundle + ".sig"), trusted)


def _site(args: argparse.Namespace, store: ConfigStore) -> tuple[str | None, str | None]:
    """The provisioning site and the key to check it with: --server and --trust, else
    what discovery finds (the kernel's command line, DHCP, DNS, setup; the image's key)."""
    from .provisioning.agent import discover  # noqa: PLC0415 - provisioning only
    from .provisioning.dhcp import site_from_dhcp  # noqa: PLC0415
    from .provisioning.dns import site_from_dns  # noqa: PLC0415
    server, trust = discover(store.load().system.provisioning_url,
                             finders=() if args.server else (site_from_dhcp, site_from_dns))
    return args.server or server, _read_trust(args.trust) if args.trust else trust


def _roots_site(args: argparse.Namespace, store: ConfigStore) -> tuple[str | None, str | None]:
    """The site and key for root's own reading of the site (firmware, SSH): as the agent
    finds the site, or where the agent last found it, and only a key root holds."""
    from .provisioning.agent import read_state, state_path  # noqa: PLC0415
    from .provisioning.firmware import STATE, trusted_key  # noqa: PLC0415
    server, trust = _site(args, store)
    agents = read_state(state_path(store)).get("server")
    return (server or (agents if isinstance(agents, str) else None),
            trusted_key(trust, STATE, state_path(store)))


def _update_from_site(args: argparse.Namespace, device: Device) -> int:
    from .provisioning.firmware import STATE, update_from_site  # noqa: PLC0415
    store = _store(args)
    config = store.load()
    server, trust = _roots_site(args, store)
    if not server or not trust:
        log.info("this box is not provisioned: no firmware to look for")
        return EXIT_OK
    outcome = update_from_site(store, device, server, trust, STATE, args.ca_file)
    log.info("%s", outcome.said)
    if outcome.installed and config.system.update_reboot == "now":
        log.info("restarting into it (system.update-reboot is now)")
        subprocess.run(["systemctl", "reboot"], check=True)
    return EXIT_OK


def _ssh(args: argparse.Namespace) -> int:
    from . import identity  # noqa: PLC0415 - provisioning only
    from .provisioning.agent import device_ids  # noqa: PLC0415
    from .provisioning.ssh import apply, keys_from_site  # noqa: PLC0415
    server, trust = _roots_site(args, _store(args))
    if not server or not trust:
        log.info("this box is not provisioned: SSH stays off")
        return EXIT_OK
    key = identity.load(identity.KEY_FILE) if identity.KEY_FILE.exists() else None
    ids = device_ids(identity.public_key(key) if key else None)
    log.info("%s", apply(keys_from_site(server, trust, ids, ca_file=args.ca_file)))
    return EXIT_OK


def _read_trust(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _provision(args: argparse.Namespace) -> int:
    from . import identity  # noqa: PLC0415 - provisioning only
    from .provisioning.agent import (  # noqa: PLC0415
        apply_system,
        device_ids,
        provision_once,
        report,
        status,
    )
    store = _store(args)
    server, trust = _site(args, store)
    if not server:
        raise ConfigError("no provisioning server: give --server, spicebox.provision= on "
                          "the kernel's command line, DHCP option 224, a DNS SRV record "
                          "_spicebox._tcp in the box's domain, or set it in setup (System)")
    key_file = args.identity or identity.KEY_FILE
    key = identity.load(key_file) if key_file.exists() else None
    ids = device_ids(identity.public_key(key) if key else None)
    reporting, version, system_applied = key is not None, 0, False
    while True:
        error = ""
        try:
            applied = provision_once(store, server, trust, ids, args.ca_file)
            version = applied.version
            if applied.documents:
                log.info("provisioned version %d (%s)%s", applied.version,
                         ", ".join(applied.documents), "" if applied.changed
                         else ": no change")
            # Also once per start (each boot): a time zone or network changed by hand
            # since goes back to what the administrators set.
            if applied.documents or not system_applied:
                apply_system(store)
                system_applied = True
        except ConfigError as exc:
            error = str(exc)
            if not args.once:
                log.error("%s", exc)  # the configuration in force stays; try again later
        if reporting and key is not None:
            try:
                reporting = report(server, status(version, error), key, args.ca_file)
                if not reporting:
                    log.info("%s takes no status reports", server)
            except ConfigError as exc:
                log.warning("%s", exc)
        if error and args.once:
            raise ConfigError(error)
        if args.once:
            return EXIT_OK
        # Jitter: a fleet switched on together does not keep polling together.
        time.sleep(args.every * random.uniform(0.8, 1.2))


def _usb(args: argparse.Namespace) -> int:
    from .usb.device import devices  # noqa: PLC0415 - this command only
    from .usb.filter import auto_redirects, decide  # noqa: PLC0415
    config = _store(args).load()
    redirect = parse_usb_filter(config.usb.redirect_filter, "usb.redirect-filter")
    auto = parse_usb_filter(config.usb.auto_redirect_filter, "usb.auto-redirect-filter")
    found = devices()
    for device in found:
        info = device.describe()
        allowed, why = decide(info, redirect)
        when = ("redirected when plugged in" if allowed and auto_redirects(info, auto)
                else "redirected on request" if allowed else f"stays local: {why}")
        classes = ",".join(f"{i.interface_class:02x}" for i in info.interfaces) or "-"
        print(f"{device.location}  {info.vendor_id:04x}:{info.product_id:04x}  "
              f"{device.product() or '(no name)'}  [classes {classes}]  {when}")
    if not found:
        print("no USB devices")
    return EXIT_OK


def _diag(args: argparse.Namespace) -> int:
    if args.what == "input":
        for line in describe_devices():
            print(line)
        if args.keys:
            watch_keys(args.seconds, print)
    else:
        from .audio.diag import listen, play_tone  # noqa: PLC0415 - support only
        devices = _audio_devices(args, _store(args).load())
        print(f"playback: {play_tone(devices.playback).text}")
        print(f"microphone: {listen(devices.microphone, args.seconds).text}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False)
                        else logging.INFO, format="spicebox: %(message)s", stream=sys.stderr)
    if RECENT not in logging.getLogger().handlers:
        logging.getLogger().addHandler(RECENT)  # for the diagnostics page
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        for kind, code in _EXIT_CODES:
            if isinstance(exc, kind):
                log.error("error: %s", exc, exc_info=getattr(args, "verbose", False))
                return code
        raise


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "connect": _connect, "run": _run, "setup": _setup, "config": _config,
    "identity": _identity, "update": _update, "ssh": _ssh, "provision": _provision, "usb": _usb,
    "diag": _diag}

if __name__ == "__main__":
    sys.exit(main())
