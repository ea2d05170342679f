"""Preconfiguring a box without tools: an administrator puts ``spicebox.vv`` or
``spicebox.toml`` on the image's boot partition (FAT, writable from any PC); at boot it is
checked, stored, and removed, so the password it may hold does not linger there. A file
that is refused stays, renamed ``*.rejected``, with ``spicebox-error.txt`` saying why: what
the administrator sees when the card is back in their PC."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from .store import ConfigStore, import_vv_file
from .target import ConfigError

log = logging.getLogger(__name__)

NAMES = ("spicebox.toml", "spicebox.vv")  # in this order: the .vv's profile is the default
ERROR_FILE = "spicebox-error.txt"


def preconfigure(store: ConfigStore, directory: Path) -> list[str]:
    """Store what ``directory`` holds; returns the problems (empty: all stored)."""
    problems = []
    found = [directory / name for name in NAMES if (directory / name).is_file()]
    for path in found:
        try:
            if path.suffix == ".vv":
                profile = import_vv_file(store, path)
                log.info("preconfigured: %s imported as profile %r, now the default", path,
                         profile)
            else:
                store.merge_document(_toml(path), str(path))
                log.info("preconfigured: %s stored", path)
        except ConfigError as exc:
            problems.append(str(exc))
            log.error("%s refused: %s", path, exc)
            path.replace(path.with_name(path.name + ".rejected"))
            continue
        path.unlink(missing_ok=True)  # it may hold a password
    if problems:
        (directory / ERROR_FILE).write_text("\n".join(problems) + "\n")
    elif found:  # what an earlier file's error said is over
        (directory / ERROR_FILE).unlink(missing_ok=True)
    return problems


def _toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
