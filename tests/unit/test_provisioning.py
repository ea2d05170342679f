"""Provisioning: a site signed with spicebox-admin, fetched by the device agent over HTTP
(a server thread on loopback), verified and applied; every refusal leaves the
configuration as it was."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from spicebox.admin import main as admin
from spicebox.config.store import ConfigPaths, ConfigStore
from spicebox.config.target import ConfigError
from spicebox.provisioning.agent import provision_once, state_path
from spicebox.provisioning.site import Refused, fingerprint

DEVICE_KEY = "ed25519:" + "A" * 43 + "="
DEVICE = fingerprint(DEVICE_KEY)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on loopback, and its URL."""
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def profiles(tmp_path: Path) -> Path:
    docs = tmp_path / "profiles"
    (docs / "groups").mkdir(parents=True)
    (docs / "devices").mkdir()
    (docs / "default.toml").write_text(
        'default-profile = "office"\n[profiles.office]\nhost = "vdi.example.org"\n'
        'port = 5900\npassword = "s3cret"\n[display]\ncompression = "lz4"\n')
    (docs / "groups/lab.toml").write_text('[display]\nrotation = "90"\n')
    (docs / f"devices/{DEVICE}.toml").write_text('[display]\nblank-after = 3\n')
    (docs / "enrollment.toml").write_text(f'[devices]\n"{DEVICE}" = "lab"\n')
    return docs


def signed(tmp_path: Path, site_dir: Path) -> str:
    keys = tmp_path / "keys"
    assert admin(["keygen", "--out", str(keys)]) == 0
    assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles",
                  str(profiles(tmp_path)), "--out", str(site_dir)]) == 0
    return (keys / "signing.pub").read_text().strip()


def store_in(tmp_path: Path) -> ConfigStore:
    return ConfigStore(ConfigPaths.under(tmp_path / "config"))


def test_a_device_applies_default_group_and_its_own_document(
        tmp_path: Path, site: tuple[Path, str]) -> None:
    site_dir, url = site
    trust = signed(tmp_path, site_dir)
    store = store_in(tmp_path)
    store.set("display.compression", "off")  # the box's own: provisioning wins
    applied = provision_once(store, url, trust, [DEVICE, "52-54-00-12-34-56"])
    assert applied.documents == ["default", "groups/lab", f"devices/{DEVICE}"]
    config = store.load()
    assert config.profile().host == "vdi.example.org"
    assert config.profile().password == "s3cret"
    assert (config.display.compression, config.display.rotation,
            config.display.blank_after) == ("lz4", "90", 3)
    assert oct(store.paths.provisioned.stat().st_mode & 0o777) == "0o600"
    # The key is remembered: later runs need no --trust.
    again = provision_once(store, url, None, [DEVICE])
    assert (again.version, again.changed) == (applied.version, False)


def test_every_publish_raises_the_version(tmp_path: Path, site: tuple[Path, str]) -> None:
    site_dir, _ = site
    signed(tmp_path, site_dir)
    first = json.loads((site_dir / "index.json").read_text())["version"]
    assert admin(["publish", "--key", str(tmp_path / "keys/signing.key"), "--profiles",
                  str(tmp_path / "profiles"), "--out", str(site_dir)]) == 0
    assert json.loads((site_dir / "index.json").read_text())["version"] == first + 1


def refused(store: ConfigStore, url: str, trust: str | None, message: str) -> None:
    before = store.paths.provisioned.read_bytes() if store.paths.provisioned.exists() else None
    with pytest.raises(ConfigError, match=message):
        provision_once(store, url, trust, [DEVICE])
    after = store.paths.provisioned.read_bytes() if store.paths.provisioned.exists() else None
    assert after == before  # nothing changed


def test_what_is_refused_changes_nothing(tmp_path: Path, site: tuple[Path, str]) -> None:
    site_dir, url = site
    trust = signed(tmp_path, site_dir)
    store = store_in(tmp_path)
    provision_once(store, url, trust, [DEVICE])
    index = json.loads((site_dir / "index.json").read_text())
    good_index = (site_dir / "index.json").read_bytes()

    # Another key signed it.
    assert admin(["keygen", "--out", str(tmp_path / "other")]) == 0
    other = (tmp_path / "other/signing.pub").read_text().strip()
    refused(store, url, other, "signature is not the trusted key's")
    # A document changed after signing.
    (site_dir / "groups/lab.toml").write_text('[display]\nrotation = "180"\n')
    refused(store, url, None, "groups/lab.toml is not the document the signed index names")
    # The index changed after signing.
    index["version"] += 5
    (site_dir / "index.json").write_text(json.dumps(index))
    refused(store, url, None, "signature is not the trusted key's")
    (site_dir / "index.json").write_bytes(good_index)
    # Truncated signature, or none.
    (site_dir / "index.json.sig").write_text("AAAA")
    refused(store, url, None, "signature is not the trusted key's")
    (site_dir / "index.json.sig").unlink()
    refused(store, url, None, "the server says 404")


def test_an_older_site_is_a_rollback(tmp_path: Path, site: tuple[Path, str]) -> None:
    site_dir, url = site
    trust = signed(tmp_path, site_dir)
    store = store_in(tmp_path)
    provision_once(store, url, trust, [DEVICE])
    state = json.loads(state_path(store).read_text())
    state["version"] += 10
    state_path(store).write_text(json.dumps(state))
    refused(store, url, None, "older than the .* applied: refused")
    with pytest.raises(Refused):
        provision_once(store, url, None, [DEVICE])


def test_documents_with_unknown_settings_are_not_published(tmp_path: Path) -> None:
    docs = profiles(tmp_path)
    (docs / "groups/lab.toml").write_text("[display]\ncolour = 'blue'\n")
    assert admin(["keygen", "--out", str(tmp_path / "keys")]) == 0
    assert admin(["publish", "--key", str(tmp_path / "keys/signing.key"), "--profiles",
                  str(docs), "--out", str(tmp_path / "site")]) == 2
    assert not (tmp_path / "site" / "index.json").exists()


def test_without_a_trusted_key_nothing_is_fetched(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no provisioning key is trusted yet"):
        provision_once(store_in(tmp_path), "http://127.0.0.1:9/", None, [DEVICE])


def test_profile_new_from_a_vv_file(tmp_path: Path) -> None:
    out = tmp_path / "default.toml"
    vv = Path(__file__).parent / "data" / "vv" / "ovirt.vv"
    assert admin(["profile", "new", "--from", str(vv), "--out", str(out)]) == 0
    assert admin(["profile", "validate", str(out)]) == 0
    assert 'default-profile = "desktop"' in out.read_text()


def test_the_server_comes_from_the_kernel_command_line_then_the_network_then_setup() -> None:
    from spicebox.provisioning.agent import discover  # noqa: PLC0415

    line = "quiet spicebox.provision=https://cfg.example.org/site spicebox.provision-key=KEY"
    srv = lambda: "https://sites.example.org:8443"  # noqa: E731
    dhcp = lambda: "https://dhcp.example.org"  # noqa: E731
    assert discover("https://setup.example.org", line, [dhcp, srv]) == (
        "https://cfg.example.org/site", "KEY")
    assert discover("https://setup.example.org", "quiet ro", [dhcp, srv]) == (
        "https://dhcp.example.org", None)
    assert discover("https://setup.example.org", "quiet ro", [lambda: None, srv]) == (
        "https://sites.example.org:8443", None)
    assert discover("https://setup.example.org", "quiet ro", [lambda: None]) == (
        "https://setup.example.org", None)
    assert discover("https://setup.example.org", "quiet ro") == ("https://setup.example.org",
                                                                 None)
    assert discover(None, "") == (None, None)


def test_a_signed_index_that_is_not_an_index_is_refused(tmp_path: Path) -> None:
    import base64  # noqa: PLC0415

    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    from spicebox.provisioning.site import verify_index  # noqa: PLC0415

    key = Ed25519PrivateKey.generate()
    for body in (b'{"format": "spicebox-provisioning 1", "version": 3, "groups": [1], '
                 b'"documents": {}}', b"[]", b"not json"):
        with pytest.raises(Refused, match="signed but not a spicebox-provisioning 1 index"):
            verify_index(body, base64.b64encode(key.sign(body)), key.public_key())


def test_a_provisioned_setting_cannot_be_changed_on_the_box(
        tmp_path: Path, site: tuple[Path, str]) -> None:
    site_dir, url = site
    trust = signed(tmp_path, site_dir)
    store = store_in(tmp_path)
    provision_once(store, url, trust, [DEVICE])
    with pytest.raises(ConfigError, match=r"display\.compression is set by provisioning"):
        store.set("display.compression", "off")
    with pytest.raises(ConfigError, match="default-profile is set by provisioning"):
        store.set_many({"display.backend": "fbdev", "default-profile": "other"})
    assert store.load().display.backend == "auto"  # all or nothing
    store.set("display.backend", "fbdev")  # not provisioned: the box's to choose
    assert store.load().display.backend == "fbdev"


def test_enroll_puts_a_device_in_a_group_by_key_or_mac(tmp_path: Path) -> None:
    docs = profiles(tmp_path)
    assert admin(["enroll", "--profiles", str(docs), DEVICE_KEY, "kiosks"]) == 0
    assert admin(["enroll", "--profiles", str(docs), "52:54:00:AB:CD:EF", "lab"]) == 0
    text = (docs / "enrollment.toml").read_text()
    assert f'{DEVICE} = "kiosks"' in text and '52-54-00-ab-cd-ef = "lab"' in text
    assert admin(["enroll", "--profiles", str(docs), DEVICE_KEY, "no/such"]) == 2


def test_reports_are_signed_by_the_key_they_name(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    from spicebox.identity import public_text  # noqa: PLC0415
    from spicebox.provisioning.site import read_report, signed_report  # noqa: PLC0415

    key = Ed25519PrivateKey.generate()
    name = fingerprint(public_text(key.public_key()))
    good = tmp_path / f"{name}.json"
    good.write_bytes(signed_report({"version": 7, "error": ""}, key))
    assert read_report(good)[0]["version"] == 7 and read_report(good)[1] == ""
    forged = tmp_path / "forged" / f"{name}.json"
    forged.parent.mkdir()
    forged.write_bytes(good.read_bytes().replace(b'"version": 7', b'"version": 8'))
    assert read_report(forged)[1] == "unreadable, or not signed by the key it names"
    misfiled = tmp_path / "0123456789abcdef.json"
    misfiled.write_bytes(good.read_bytes())
    assert read_report(misfiled)[1] == f"signed by {name}, filed as 0123456789abcdef"


def test_profile_edit_replaces_the_document_only_once_it_is_valid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = tmp_path / "default.toml"
    document.write_text('default-profile = "desktop"\n')
    editor = tmp_path / "editor"
    editor.write_text('#!/bin/sh\ncat "$(dirname "$0")/typed" > "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("VISUAL", str(editor))
    (tmp_path / "typed").write_text("[display]\nno-such-setting = 1\n")
    assert admin(["profile", "edit", str(document)]) == 2  # (no terminal to ask again)
    assert document.read_text() == 'default-profile = "desktop"\n'
    draft = tmp_path / "default.toml.draft"
    assert draft.read_text() == "[display]\nno-such-setting = 1\n"  # nothing typed is lost
    (tmp_path / "typed").write_text('default-profile = "lab"\n')
    assert admin(["profile", "edit", str(document)]) == 0
    assert document.read_text() == 'default-profile = "lab"\n' and not draft.exists()
    monkeypatch.setenv("VISUAL", str(tmp_path / "no-such-editor"))
    assert admin(["profile", "edit", str(document)]) == 2


def test_setup_shows_the_trusted_keys_fingerprint_and_can_forget_it(tmp_path: Path) -> None:
    from spicebox.ui.pages.system import SystemPage  # noqa: PLC0415
    from tests.rig.ui import UiDriver  # noqa: PLC0415

    ui = UiDriver(tmp_path / "config")
    page = SystemPage(ui.app)
    assert page.trust.text == "No provisioning key trusted yet: the first site's will be"
    state = state_path(ui.store)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"trusted": DEVICE_KEY, "version": 5}))
    page = SystemPage(ui.app)
    assert page.trust.text == f"Trusted provisioning key: {fingerprint(DEVICE_KEY)}"
    page._forget()
    assert not state.exists() and page.trust.text.startswith("No provisioning key")
