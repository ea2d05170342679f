"""``spicebox-admin``: the administrators' side of provisioning, on their own machine.

    spicebox-admin keygen --out KEYDIR
    spicebox-admin profile new --from FILE.vv --out PROFILE.toml
    spicebox-admin profile validate PROFILE.toml
    spicebox-admin publish --key KEYDIR/signing.key --profiles DIR --out SITE
"""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import tomli_w

from .config.settings import Profile, section_to
from .config.store import check_document
from .config.target import ConfigError, load_vv
from .provisioning.site import keygen, load_signing_key, publish

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
    check = what.add_parser("validate", help="check a document against the settings")
    check.add_argument("document", type=Path)
    pub = commands.add_parser("publish", help="sign the documents into a static site, its "
                              "version raised")
    pub.add_argument("--key", type=Path, required=True, metavar="KEYDIR/signing.key")
    pub.add_argument("--profiles", type=Path, required=True, metavar="DIR",
                     help="default.toml, groups/NAME.toml, devices/ID.toml, enrollment.toml")
    pub.add_argument("--out", type=Path, required=True, metavar="SITE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="spicebox-admin: %(message)s")
    try:
        if args.command == "keygen":
            print(keygen(args.out))
        elif args.command == "publish":
            version = publish(load_signing_key(args.key), args.profiles, args.out)
            log.info("published %s as version %d", args.out, version)
        elif args.what == "new":
            target = load_vv(args.source)
            profile = Profile.of(target, f"{args.source}")
            doc = {"default-profile": args.name, "profiles": {
                args.name: {**section_to(profile, False), **section_to(profile, True)}}}
            args.out.write_text(tomli_w.dumps(doc))
            log.info("wrote %s (profile %r, the default)", args.out, args.name)
        else:
            try:
                doc = tomllib.loads(args.document.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{args.document} cannot be read as TOML: {exc}") from None
            check_document(doc, str(args.document))
            log.info("%s is valid", args.document)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
