"""The ``spicebox`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .canvas.monitors import MAX_MONITORS
from .config.target import ConfigError, Target, parse_target
from .display.choose import BACKENDS, open_presenter, resolve_backend
from .display.sdl import DisplayUnavailable
from .input.diag import describe_devices, watch_keys
from .input.evdev_source import EvdevInput
from .input.hotkeys import DEFAULT_HOTKEYS, HotkeyError, Hotkeys
from .net.tls import TlsVerificationFailed
from .net.transport import CannotConnect
from .session import Session
from .spice.constants import MAX_PASSWORD_LENGTH, ImageCompression
from .spice.errors import AuthenticationFailed, ProtocolError
from .spice.policy import DecodingPolicy
from .spice.recording import Recorder

EXIT_OK, EXIT_USAGE, EXIT_CONNECT, EXIT_AUTH, EXIT_TLS, EXIT_PROTOCOL = 0, 2, 3, 4, 5, 6

# Most specific first: AuthenticationFailed is a ProtocolError too.
_EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (DisplayUnavailable, EXIT_USAGE),
    (CannotConnect, EXIT_CONNECT),
    (AuthenticationFailed, EXIT_AUTH),
    (TlsVerificationFailed, EXIT_TLS),
    (ProtocolError, EXIT_PROTOCOL),
)

log = logging.getLogger("spicebox")

_COMPRESSIONS = {c.name.lower().replace("_", "-"): c for c in ImageCompression
                 if c != ImageCompression.INVALID}


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spicebox", description="SPICE thin client")
    commands = parser.add_subparsers(dest="command", required=True)
    connect = commands.add_parser(
        "connect", help="connect to a SPICE server and show its screen",
        description="TARGET is spice://HOST[:PORT][?tls-port=N], spice+tls://HOST:PORT, "
                    "or a .vv file. The password comes from --password-file, then "
                    "$SPICEBOX_PASSWORD, then the target itself.")
    connect.add_argument("target", metavar="TARGET")
    connect.add_argument("--password-file", type=Path, metavar="F")
    connect.add_argument("--ca-file", metavar="F", help="CA certificate (PEM) for TLS")
    connect.add_argument("--host-subject", metavar="S",
                         help="expected server certificate subject, e.g. 'O=Org,CN=host'")
    connect.add_argument("--backend", choices=BACKENDS, default="auto")
    connect.add_argument("--resolution", type=_resolution, metavar="WxH[,WxH...]",
                         help="ask the guest agent for monitors of these sizes")
    connect.add_argument("--hotkeys", type=_hotkeys, metavar="ACTION=KEYS[,...]",
                         help="override hotkeys: setup (default ctrl+alt+shift+s), "
                              "ctrl-alt-del (ctrl+alt+end), fullscreen (ctrl+alt+shift+f)")
    connect.add_argument("--input", choices=("auto", "evdev", "none"), default="auto",
                         help="keyboards, mice and touch screens: read from /dev/input "
                              "(auto: with the kmsdrm and fbdev backends; x11 has its "
                              "window's)")
    connect.add_argument("--screenshot", type=Path, metavar="PNG",
                         help="save the primary monitor as PNG")
    connect.add_argument("--screenshot-dir", type=Path, metavar="DIR",
                         help="save every monitor as DIR/monitor-N.png")
    connect.add_argument("--screenshot-after", type=_seconds, default=2.0, metavar="SECONDS")
    connect.add_argument("--exit-after", type=_seconds, metavar="SECONDS",
                         help="disconnect cleanly and exit 0 after this long")
    connect.add_argument("--compression", choices=["auto", *_COMPRESSIONS], default="auto",
                         help="image compression to ask the server for; auto: off when "
                              "the server is this machine, else lz4 (the cheapest to "
                              "decode that still saves bandwidth)")
    connect.add_argument("--record", type=Path, metavar="FILE",
                         help="write every display message received to FILE, for tests "
                              "and bug reports (it holds the screen's contents)")
    connect.add_argument("-v", "--verbose", action="store_true")
    diag = commands.add_parser("diag", help="diagnostics for support")
    diag_what = diag.add_subparsers(dest="what", required=True)
    diag_input = diag_what.add_parser(
        "input", help="list input devices; with --keys, show what each typed key sends")
    diag_input.add_argument("--keys", action="store_true",
                            help="print the scancodes of keys typed on any keyboard")
    diag_input.add_argument("--seconds", type=_seconds, default=15.0,
                            help="how long --keys listens (default 15)")
    return parser


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
    if len(password.encode()) > MAX_PASSWORD_LENGTH:
        raise ConfigError(f"the password is longer than SPICE's limit of "
                          f"{MAX_PASSWORD_LENGTH} bytes")
    return password


def _hotkeys(text: str) -> Hotkeys:
    bindings = dict(DEFAULT_HOTKEYS)
    for part in text.split(","):
        action, _, keys = part.partition("=")
        action = action.strip()
        if action not in DEFAULT_HOTKEYS:
            raise argparse.ArgumentTypeError(
                f"unknown hotkey action {action!r}: {', '.join(DEFAULT_HOTKEYS)}")
        bindings[action] = keys
    try:
        return Hotkeys(bindings)
    except HotkeyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _resolution(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        width, _, height = part.strip().lower().partition("x")
        if not (width.isdigit() and height.isdigit()) or not (
                200 <= int(width) <= 8192 and 200 <= int(height) <= 8192):
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a size like 1920x1080 (200 to 8192 pixels a side)")
        sizes.append((int(width), int(height)))
    if len(sizes) > MAX_MONITORS:
        raise argparse.ArgumentTypeError(f"at most {MAX_MONITORS} monitors")
    return sizes


def _connect(args: argparse.Namespace) -> int:
    target = parse_target(args.target)
    password = _password(args, target)
    if target.delete_file is not None:
        # virt-viewer semantics: brokers hand out one-time files holding a password.
        target.delete_file.unlink(missing_ok=True)
    if args.ca_file and not Path(args.ca_file).is_file():
        raise ConfigError(f"CA file {args.ca_file} does not exist")
    shot_dirs = [d for d in (args.screenshot and args.screenshot.parent, args.screenshot_dir)
                 if d is not None]
    for directory in shot_dirs:
        if not directory.is_dir():
            raise ConfigError(f"cannot save a screenshot in {directory}: no such directory")
    recorder = _recorder(args.record)
    backend = resolve_backend(args.backend)
    presenter = open_presenter(backend, target.title or f"spicebox - {target.describe()}")
    log.debug("presenting with %s", presenter.name)
    # "auto" is the session's own default (compression_for the server's address).
    policy = (None if args.compression == "auto"
              else DecodingPolicy.for_device(_COMPRESSIONS[args.compression]))
    use_evdev = args.input == "evdev" or (args.input == "auto"
                                          and backend in ("kmsdrm", "fbdev"))
    session = Session(target, password, presenter, policy, ca_file=args.ca_file,
                      host_subject=args.host_subject, recorder=recorder,
                      local_input=EvdevInput() if use_evdev else None,
                      resolution=args.resolution, hotkeys=args.hotkeys)
    asyncio.run(_serve(session, args))
    return EXIT_OK


def _recorder(path: Path | None) -> Recorder | None:
    if path is None:
        return None
    try:
        return Recorder(path)
    except OSError as exc:
        raise ConfigError(f"cannot write the recording {path}: {exc.strerror}") from None


async def _serve(session: Session, args: argparse.Namespace) -> None:
    # systemd stops the kiosk with SIGTERM: leave the server a clean disconnect, as for ^C.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, session.stop)
    await session.run(args.screenshot, args.screenshot_after, args.exit_after,
                      args.screenshot_dir)
    if (args.screenshot or args.screenshot_dir) and not session.screenshot_saved:
        log.warning("no screenshot saved: no frame arrived before the session ended")


def _diag(args: argparse.Namespace) -> int:
    if args.what == "input":
        for line in describe_devices():
            print(line)
        if args.keys:
            watch_keys(args.seconds, print)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False)
                        else logging.INFO, format="spicebox: %(message)s", stream=sys.stderr)
    try:
        return _diag(args) if args.command == "diag" else _connect(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        for kind, code in _EXIT_CODES:
            if isinstance(exc, kind):
                log.error("error: %s", exc, exc_info=getattr(args, "verbose", False))
                return code
        raise


if __name__ == "__main__":
    sys.exit(main())
