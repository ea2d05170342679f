"""Where the configuration lives and how it changes without ever being lost.

Three TOML files, each optional:

* ``defaults``: read-only, from the image or the administrator (``/etc/spicebox``);
* ``state``: what was set on this device (``/var/lib/spicebox``);
* ``secrets``: passwords and tokens, the same layout as ``state``, mode 0600.

A setting in ``state`` or ``secrets`` overrides the same one in ``defaults``. Every change
is a read-modify-write under a lock, checked as a whole before anything is written, and
written atomically (temporary file, fsync, rename): a bad value or a crash leaves the
previous working configuration in force.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from .settings import (
    DEFAULT_PROFILE,
    MASK,
    PROFILES,
    SECTIONS,
    Config,
    Profile,
    fields_of,
    parse_value,
    section_from,
    section_to,
    toml_name,
)
from .target import ConfigError, Target, load_vv

log = logging.getLogger(__name__)

Document = dict[str, Any]
Edit = Callable[[Document, Document], None]  # (state, secrets), changed in place

_PROFILE_NAME = re.compile(r"[\w-]{1,64}")


@dataclass(frozen=True)
class ConfigPaths:
    defaults: Path
    state: Path
    secrets: Path
    # What provisioning applied (secrets and all, so 0600), over everything else: the
    # administrator's word wins over a setting changed on the box.
    provisioned: Path

    @classmethod
    def system(cls) -> ConfigPaths:
        return cls(Path("/etc/spicebox/spicebox.toml"), Path("/var/lib/spicebox/spicebox.toml"),
                   Path("/var/lib/spicebox/secrets.toml"),
                   Path("/var/lib/spicebox/provisioned.toml"))

    @classmethod
    def under(cls, directory: Path) -> ConfigPaths:
        """``--config-dir``: all the files in one directory."""
        return cls(directory / "defaults.toml", directory / "spicebox.toml",
                   directory / "secrets.toml", directory / "provisioned.toml")


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a
    part, even across a power cut. The file has ``mode`` from its first byte, so a secret
    is never readable by others, not even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself must reach the disk
    finally:
        os.close(directory)


def _unwritable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot write {path}: {exc.strerror or exc}: the configuration "
                       f"stays as it was (is the directory writable by this user?)")


def _read(path: Path) -> Document:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix it or remove it") from None


def merged(base: Mapping[str, Any], top: Mapping[str, Any]) -> Document:
    """``top`` over ``base``, table by table (later layers win key by key)."""
    result = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def check_document(doc: Mapping[str, Any], source: str) -> None:
    """ConfigError (naming ``source``) unless ``doc`` holds only valid settings."""
    try:
        _config_from(doc, complete=False)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _config_from(doc: Mapping[str, Any], complete: bool) -> Config:
    """Check a document; ``complete``: also that the default profile exists (it may be in
    another file). A profile may be incomplete while it is being set up, one setting at a
    time: it is checked when it is used (``Config.profile``)."""
    known = {DEFAULT_PROFILE, PROFILES, *SECTIONS}
    for key in doc:
        if key not in known:
            raise ConfigError(f"{key} is not a setting; settings: {', '.join(sorted(known))}")
    tables = doc.get(PROFILES, {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{PROFILES} must be a table of profiles")
    profiles = {}
    for name, table in tables.items():
        check_profile_name(name)
        profiles[name] = section_from(Profile, table, f"{PROFILES}.{name}")
    default = doc.get(DEFAULT_PROFILE)
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{DEFAULT_PROFILE} must be a profile's name")
    if complete and default is not None and default not in profiles:
        raise ConfigError(f"{DEFAULT_PROFILE} = {default!r}, but there is no such profile; "
                          f"profiles: {', '.join(profiles) or 'none'}")
    sections = {name: section_from(cls, doc.get(name, {}), name)
                for name, cls in SECTIONS.items()}
    return Config(profiles=profiles, default_profile=default, **sections)


def check_profile_name(name: str) -> None:
    if not _PROFILE_NAME.fullmatch(name):
        raise ConfigError(f"profile name {name!r} may hold only letters, digits, - and _ "
                          f"(at most 64)")


def _field(key: str) -> tuple[tuple[str, ...], dataclasses.Field[Any]]:
    """``display.backend`` or ``profiles.NAME.host`` -> (table path, field)."""
    parts = key.split(".")
    table: tuple[str, ...]
    if len(parts) == 3 and parts[0] == PROFILES:
        check_profile_name(parts[1])
        table, cls = (PROFILES, parts[1]), Profile
    elif len(parts) == 2 and parts[0] in SECTIONS:
        table, cls = (parts[0],), SECTIONS[parts[0]]
    else:
        raise ConfigError(f"{key!r} is not a setting; see 'spicebox config get' for them all")
    fields = fields_of(cls)
    if parts[-1] not in fields:
        raise ConfigError(f"{key!r} is not a setting; {'.'.join(table)} has: "
                          f"{', '.join(fields)}")
    return table, fields[parts[-1]]


def _provisioned(doc: Mapping[str, Any], key: str) -> bool:
    if key == DEFAULT_PROFILE:
        return DEFAULT_PROFILE in doc
    path, f = _field(key)
    table: Any = doc
    for name in path:
        table = table.get(name, {}) if isinstance(table, Mapping) else {}
    return isinstance(table, Mapping) and toml_name(f) in table


def _table(doc: Document, path: tuple[str, ...]) -> Document:
    for name in path:
        doc = doc.setdefault(name, {})
    return doc


def _layered(*docs: Mapping[str, Any]) -> Document:
    """The configuration's layers, later ones over earlier ones: the image's defaults,
    the device's settings, its secrets, then what provisioning applied."""
    whole: Document = {}
    for doc in docs:
        whole = merged(whole, doc)
    return whole


def _prune(doc: Document) -> Document:
    """Without empty tables: an unset profile leaves nothing behind."""
    pruned = {}
    for key, value in doc.items():
        kept = _prune(value) if isinstance(value, dict) else value
        if kept != {}:
            pruned[key] = kept
    return pruned


class ConfigStore:
    def __init__(self, paths: ConfigPaths) -> None:
        self.paths = paths

    def load(self) -> Config:
        """The configuration in force; ConfigError (naming the file) if a file is bad."""
        return self._load()[0]

    def _load(self) -> tuple[Config, Document, Document]:
        layers = [(path, _read(path)) for path in
                  (self.paths.defaults, self.paths.state, self.paths.secrets,
                   self.paths.provisioned)]
        for path, doc in layers:
            try:
                _config_from(doc, complete=False)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
        whole = _layered(*(doc for _, doc in layers))
        return _config_from(whole, complete=True), layers[1][1], layers[2][1]

    def apply_provisioned(self, doc: Mapping[str, Any], source: str) -> Config:
        """Replace what provisioning applied before with ``doc``, all or nothing: the
        configuration it makes is checked as a whole first."""
        check_document(doc, source)
        with self._locked():
            whole = _layered(*(_read(p) for p in (self.paths.defaults, self.paths.state,
                                                  self.paths.secrets)), doc)
            try:
                config = _config_from(whole, complete=True)
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}") from None
            try:
                write_atomic(self.paths.provisioned, tomli_w.dumps(dict(doc)).encode(), 0o600)
            except OSError as exc:
                raise _unwritable(self.paths.provisioned, exc) from None
            return config

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (the setup UI and the command line may both write)."""
        lock_path = self.paths.state.with_name(".spicebox.lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = lock_path.open("a")
        except OSError as exc:
            raise _unwritable(lock_path.parent, exc) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _change(self, edit: Edit) -> Config:
        """Apply ``edit(state, secrets)`` to copies, check the result, then write."""
        with self._locked():
            _, state, secrets = self._load()
            new_state, new_secrets = _copy(state), _copy(secrets)
            edit(new_state, new_secrets)
            new_state, new_secrets = _prune(new_state), _prune(new_secrets)
            whole = _layered(_read(self.paths.defaults), new_state, new_secrets,
                             _read(self.paths.provisioned))
            config = _config_from(whole, complete=True)
            for path, new, old, mode in ((self.paths.secrets, new_secrets, secrets, 0o600),
                                         (self.paths.state, new_state, state, 0o644)):
                if new != old:
                    try:
                        write_atomic(path, tomli_w.dumps(new).encode(), mode)
                    except OSError as exc:
                        raise _unwritable(path, exc) from None
            return config

    def set(self, key: str, text: str) -> Config:
        """Set one setting from text; empty text unsets it (back to the default)."""
        return self.set_many({key: text})

    def set_many(self, changes: Mapping[str, str]) -> Config:
        """Several settings at once, all or none (a page of the setup UI saved). A setting
        provisioning sets is the administrators': changing it here is refused, as it
        would change nothing."""
        provisioned = _read(self.paths.provisioned)
        for key in changes:
            if _provisioned(provisioned, key):
                raise ConfigError(f"{key} is set by provisioning: change it on the "
                                  f"provisioning server")
        edits: list[Edit] = []
        for key, text in changes.items():
            edits.append(_default_edit(text) if key == DEFAULT_PROFILE
                         else _setting_edit(key, text))

        def edit(state: Document, secrets: Document) -> None:
            for one in edits:
                one(state, secrets)
        return self._change(edit)

    def save_profile(self, name: str, profile: Profile, default: bool | None,
                     replaces: str | None = None) -> Config:
        """Add or replace a whole profile; ``default``: make it the one ``run`` uses (True),
        or no longer (False), or leave that as it is (None); ``replaces``: the profile's
        old name, when it is being renamed."""
        check_profile_name(name)

        def edit(state: Document, secrets: Document) -> None:
            if replaces is not None and replaces != name:
                _remove_profile(state, secrets, replaces)
                if state.get(DEFAULT_PROFILE) == replaces:
                    state[DEFAULT_PROFILE] = name
            for doc, secret in ((state, False), (secrets, True)):
                doc.setdefault(PROFILES, {})[name] = section_to(profile, secret)
            if default:
                state[DEFAULT_PROFILE] = name
            elif default is False and state.get(DEFAULT_PROFILE) == name:
                del state[DEFAULT_PROFILE]
        return self._change(edit)

    def delete_profile(self, name: str) -> Config:
        """Forget a profile (and that it was the default)."""
        def edit(state: Document, secrets: Document) -> None:
            _remove_profile(state, secrets, name)
            if state.get(DEFAULT_PROFILE) == name:
                del state[DEFAULT_PROFILE]
        return self._change(edit)

    def merge_document(self, doc: Mapping[str, Any], source: str) -> Config:
        """A whole TOML document of settings (an administrator's file) over the device's,
        each secret into the secrets file; checked as a whole first."""
        try:
            _config_from(doc, complete=False)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        public, secret = _split(doc)

        def edit(state: Document, secrets: Document) -> None:
            state.update(merged(state, public))
            secrets.update(merged(secrets, secret))
        return self._change(edit)

    def import_target(self, target: Target, name: str | None = None) -> tuple[str, Config]:
        """A ``.vv`` file's connection as the default profile, named ``name`` or after
        its title or host."""
        if name is None:
            # virt-viewer titles may hold %d, the monitor's number.
            title = (target.title or "").replace("%d", "") or target.host
            name = re.sub(r"\W+", "-", title).strip("-")[:64]
            name = name or "imported"
        profile = Profile.of(target, f"{PROFILES}.{name}")
        return name, self.save_profile(name, profile, default=True)


def import_vv_file(store: ConfigStore, path: Path, name: str | None = None) -> str:
    """A .vv file as the default profile; returns its name. The file is deleted when it
    asks to be (as virt-viewer does: it may hold a one-time password)."""
    target = load_vv(path)
    name, _ = store.import_target(target, name)
    if target.delete_file is not None:
        try:
            target.delete_file.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not delete %s as it asks: %s", path, exc.strerror)
    return name


def _split(doc: Mapping[str, Any]) -> tuple[Document, Document]:
    """A settings document's non-secret and secret values, each in the same layout."""
    public: Document = {}
    secret: Document = {}
    for key, value in doc.items():
        if key == PROFILES:
            tables = {f"{PROFILES}.{name}": table for name, table in value.items()}
        elif key in SECTIONS:
            tables = {key: value}
        else:
            public[key] = value
            continue
        for prefix, table in tables.items():
            for name, field_value in table.items():
                path, f = _field(f"{prefix}.{name}")
                _table(secret if f.metadata["secret"] else public, path)[name] = field_value
    return public, secret


def _default_edit(name: str) -> Edit:
    def edit(state: Document, _: Document) -> None:
        if name:
            state[DEFAULT_PROFILE] = name
        else:
            state.pop(DEFAULT_PROFILE, None)
    return edit


def _setting_edit(key: str, text: str) -> Edit:
    path, f = _field(key)
    value = parse_value(f, text, key)

    def edit(state: Document, secrets: Document) -> None:
        for doc in (state, secrets):
            _table(doc, path).pop(toml_name(f), None)
        if value is not None:
            target = secrets if f.metadata["secret"] else state
            _table(target, path)[toml_name(f)] = f.metadata["to_toml"](value)
    return edit


def _remove_profile(state: Document, secrets: Document, name: str) -> None:
    for doc in (state, secrets):
        doc.get(PROFILES, {}).pop(name, None)


def _copy(doc: Document) -> Document:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in doc.items()}


def describe(config: Config) -> Document:
    """The whole configuration as a TOML document, secrets masked, defaults included."""
    doc: Document = {}
    if config.default_profile is not None:
        doc[DEFAULT_PROFILE] = config.default_profile
    for name in SECTIONS:
        doc[name] = _shown(getattr(config, name))
    doc[PROFILES] = {name: _shown(profile) for name, profile in config.profiles.items()}
    return doc


def _shown(instance: Any) -> Document:
    return {toml_name(f): _shown_value(f, getattr(instance, f.name))
            for f in dataclasses.fields(instance) if getattr(instance, f.name) is not None}


def _shown_value(f: dataclasses.Field[Any], value: object) -> object:
    return MASK if f.metadata["secret"] else f.metadata["to_toml"](value)


def get(config: Config, key: str) -> str:
    """One setting's value as text (secrets masked; empty when unset)."""
    if key == DEFAULT_PROFILE:
        return config.default_profile or ""
    path, f = _field(key)
    if path[0] == PROFILES and path[1] not in config.profiles:
        raise ConfigError(f"there is no profile {path[1]!r}; profiles: "
                          f"{', '.join(config.profiles) or 'none'}")
    instance = config.profiles[path[1]] if path[0] == PROFILES else getattr(config, path[0])
    value = getattr(instance, f.name)
    return "" if value is None else str(_shown_value(f, value))
