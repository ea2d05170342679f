"""``spicebox-admin``: the administrators' side of provisioning, on their own machine.

    spicebox-admin keygen --out KEYDIR
    spicebox-admin profile new --from FILE.vv --out PROFILE.toml
    spicebox-admin profile edit PROFILE.toml
    spicebox-admin profile validate PROFILE.toml
    spicebox-admin publish --key KEYDIR/signing.key --profiles DIR --out SITE
                           [--firmware CHANNEL=BUNDLE ...]
    spicebox-admin sign --key KEYDIR/signing.key FILE...
    spicebox-admin enroll --profiles DIR DEVICE GROUP
    spicebox-admin devices --site SITE
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

import tomli_w

from .config.settings import Profile, section_to
from .config.store import check_document, write_atomic
from .config.target import ConfigError, load_vv
from .provisioning.site import (
    INDEX,
    REPORTS,
    enroll,
    fingerprint,
    keygen,
    load_signing_key,
    publish,
    read_report,
    sign_file,
)

log = logging.getLogger("spicebox-admin")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spicebox-admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    key = commands.add_parser("keygen", help="a new Ed25519 signing key (its public half "
                              "is printed, for the devices to trust)")
    key.add_argument("--out", type=Path, required=True, metavar="KEYDIR")
    profile = commands.add_parser("profile", help="profile documents")
    what = profile.add_subparsers(dest="what", required=True)
    new = what.add_parser("new", help="a document with one connection profile, the default")
    new.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE.vv")
    new.add_argument("--name", default="desktop", help="the profile's name (default desktop)")
    new.add_argument("--out", type=Path, required=True, metavar="PROFILE.toml")
    edit = what.add_parser("edit", help="edit a document in $VISUAL or $EDITOR; it is "
                           "replaced only once it is valid")
    edit.add_argument("document", type=Path)
    check = what.add_parser("validate", help="check a document against the settings")
    check.add_argument("document", type=Path)
    pub = commands.add_parser("publish", help="sign the documents into a static site, its "
                              "version raised")
    pub.add_argument("--key", type=Path, required=True, metavar="KEYDIR/signing.key")
    pub.add_argument("--profiles", type=Path, required=True, metavar="DIR",
                     help="default.toml, groups/NAME.toml, devices/ID.toml, enrollment.toml")
    pub.add_argument("--out", type=Path, required=True, metavar="SITE")
    pub.add_argument("--firmware", action="append", type=_firmware, default=[],
                     metavar="CHANNEL=BUNDLE", help="name an update bundle (make image's "
                     "out/BOARD/update.tar) as its board's firmware on CHANNEL; boxes on "
                     "that channel install it if it is newer (repeatable)")
    sign = commands.add_parser("sign", help="FILE.sig for each file: its SHA-256, signed "
                               "(a firmware bundle that travels without the site: spicebox "
                               "update install FILE --trust signing.pub checks it)")
    sign.add_argument("--key", type=Path, required=True, metavar="KEYDIR/signing.key")
    sign.add_argument("files", type=Path, nargs="+", metavar="FILE")
    enroll = commands.add_parser("enroll", help="put a device in a group (it takes effect "
                                 "at the next publish)")
    enroll.add_argument("--profiles", type=Path, required=True, metavar="DIR")
    enroll.add_argument("device", help="its key (spicebox identity prints it), fingerprint "
                        "or MAC address")
    enroll.add_argument("group")
    devices = commands.add_parser("devices", help="the fleet's last status reports (the "
                                  "site's reports/, where boxes PUT them)")
    devices.add_argument("--site", type=Path, required=True, metavar="SITE")
    return parser


def _firmware(text: str) -> tuple[str, Path]:
    channel, equals, bundle = text.partition("=")
    if not equals or not channel or not bundle:
        raise argparse.ArgumentTypeError(f"{text!r} is not CHANNEL=BUNDLE")
    return channel, Path(bundle)


def _devices(site: Path) -> None:
    groups: dict[str, str] = {}
    if (site / INDEX).is_file():
        groups = json.loads((site / INDEX).read_bytes()).get("groups", {})
    reports = sorted((site / REPORTS).glob("*.json")) if (site / REPORTS).is_dir() else []
    if not reports:
        print("no reports yet")
    now = time.time()
    for path in reports:
        body, problem = read_report(path)
        if problem:
            print(f"{path.stem}  {problem}")
            continue
        age = int(now - body.get("time", 0))
        addresses = ",".join(body.get("addresses", [])) or "-"
        print(f"{path.stem}  group {groups.get(path.stem, '-')}  version {body.get('version')}"
              f"  firmware {body.get('firmware')}  up {body.get('uptime', 0) // 60} min  "
              f"{addresses}  {age} s ago  {body.get('error') or 'ok'}")


def _read_document(path: Path) -> None:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as TOML: {exc}") from None
    check_document(doc, str(path))


def _edit(document: Path) -> None:
    """As visudo does: the editor works on a draft next to the document, which replaces it
    only once valid. An invalid draft is edited again if a person is there to ask, and
    is otherwise kept (nothing typed is lost) while the document stays as it was."""
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "editor")
    draft = document.with_name(document.name + ".draft")
    if not draft.exists():
        draft.write_bytes(document.read_bytes() if document.is_file() else b"")
    while True:
        try:
            done = subprocess.run([*editor, str(draft)], check=False)
        except OSError as exc:
            raise ConfigError(f"cannot start the editor {editor[0]!r} ({exc.strerror}): set "
                              f"VISUAL or EDITOR") from None
        if done.returncode != 0:
            raise ConfigError(f"the editor failed (status {done.returncode}); {document} is "
                              f"unchanged, the draft is {draft}")
        try:
            _read_document(draft)
        except ConfigError as exc:
            log.error("%s", exc)
            if sys.stdin.isatty() and input("Edit again? [Y/n] ").strip().lower() in (
                    "", "y", "yes"):
                continue
            raise ConfigError(f"{document} is unchanged; the draft is {draft}") from None
        write_atomic(document, draft.read_bytes(), 0o644)
        draft.unlink()
        log.info("%s is valid and saved: publish to send it", document)
        return


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="spicebox-admin: %(message)s")
    try:
        if args.command == "keygen":
            public = keygen(args.out)
            print(public)
            log.info("its fingerprint, which boxes show in setup (System): %s",
                     fingerprint(public))
        elif args.command == "sign":
            key = load_signing_key(args.key)
            for path in args.files:
                try:
                    log.info("wrote %s", sign_file(key, path))
                except OSError as exc:
                    raise ConfigError(f"cannot sign {path}: {exc.strerror}") from None
        elif args.command == "enroll":
            ident = enroll(args.profiles, args.device, args.group)
            log.info("%s is in group %s from the next publish", ident, args.group)
        elif args.command == "devices":
            _devices(args.site)
        elif args.command == "publish":
            version = publish(load_signing_key(args.key), args.profiles, args.out,
                              dict(args.firmware))
            log.info("published %s as version %d", args.out, version)
        elif args.what == "new":
            target = load_vv(args.source)
            profile = Profile.of(target, f"{args.source}")
            doc = {"default-profile": args.name, "profiles": {
                args.name: {**section_to(profile, False), **section_to(profile, True)}}}
            args.out.write_text(tomli_w.dumps(doc))
            log.info("wrote %s (profile %r, the default)", args.out, args.name)
        elif args.what == "edit":
            _edit(args.document)
        else:
            _read_document(args.document)
            log.info("%s is valid", args.document)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
