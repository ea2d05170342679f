"""Firmware through provisioning: spicebox-admin names bundles per update channel in the
signed index; a box installs its channel's newer bundle into its other slot (files stand
in for the slots, as in test_update; the integration suite does it over nginx)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spicebox.admin import main as admin
from spicebox.config.store import ConfigPaths, ConfigStore
from spicebox.provisioning.firmware import trusted_key, update_from_site
from spicebox.provisioning.site import FIRMWARE, INDEX
from spicebox.system import slots
from spicebox.system.errors import UpdateError

from .test_provisioning import profiles, site  # noqa: F401 - a fixture
from .test_update import Box, make_bundle


def published(tmp_path: Path, site_dir: Path, *firmware: str) -> str:
    keys = tmp_path / "keys"
    if not keys.exists():
        assert admin(["keygen", "--out", str(keys)]) == 0
    docs = tmp_path / "profiles"
    if not docs.exists():
        profiles(tmp_path)
    options = [f"--firmware={item}" for item in firmware]
    assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles", str(docs),
                  "--out", str(site_dir), *options]) == 0
    return (keys / "signing.pub").read_text().strip()


def bundle_file(tmp_path: Path, name: str, build: int, board: str = "qemu-x86_64") -> Path:
    data, _ = make_bundle(tmp_path / f"{name}-parts", build=build, board=board)
    path = tmp_path / f"{name}.tar"
    path.write_bytes(data)
    return path


def test_publish_names_each_channels_bundle_and_keeps_what_it_named(
        tmp_path: Path, site: tuple[Path, str]) -> None:  # noqa: F811
    root, _ = site
    published(tmp_path, root, f"stable={bundle_file(tmp_path, 's', 200)}",
              f"beta={bundle_file(tmp_path, 'b', 300)}")
    published(tmp_path, root)  # profiles only: the firmware stays named
    firmware = json.loads((root / INDEX).read_bytes())[FIRMWARE]
    assert firmware["stable"]["qemu-x86_64"]["build"] == 200
    assert firmware["beta"]["qemu-x86_64"]["path"] == "firmware/qemu-x86_64-0.2.0-300.tar"
    assert (root / "firmware/qemu-x86_64-0.2.0-300.tar").is_file()
    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("hello")
    publish = ["publish", "--key", str(tmp_path / "keys/signing.key"), "--profiles",
               str(tmp_path / "profiles"), "--out", str(root)]
    for bad in (f"stable={not_a_bundle}", f"bad/name={not_a_bundle}"):
        assert admin([*publish, "--firmware", bad]) == 2
    with pytest.raises(SystemExit):
        admin([*publish, "--firmware", "no equals sign"])


def test_a_box_installs_its_channels_newer_firmware_once(
        tmp_path: Path, site: tuple[Path, str]) -> None:  # noqa: F811
    root, url = site
    trust = published(tmp_path, root, f"stable={bundle_file(tmp_path, 's', 200)}",
                      f"beta={bundle_file(tmp_path, 'b', 300)}")
    store = ConfigStore(ConfigPaths.under(tmp_path / "config"))
    state = tmp_path / "firmware.json"
    box = Box(tmp_path / "box", build=100)
    outcome = update_from_site(store, box.device, url, trust, state)
    assert outcome.installed is not None and outcome.installed.version == "0.2.0-200"
    assert (box.device.boot / slots.ENTRIES / "spicebox-b+3.conf").is_file()
    # Again (the box came back from it, or has not restarted yet): not installed again.
    again = update_from_site(store, box.device, url, trust, state)
    assert again.installed is None and "installed before" in again.said
    store.set_many({"system.update-channel": "beta"})
    assert update_from_site(store, box.device, url, trust, state).installed is not None
    store.set_many({"system.update-channel": "nightly"})
    assert "no firmware for qemu-x86_64 on channel 'nightly'" in update_from_site(
        store, box.device, url, trust, state).said
    newer = Box(tmp_path / "newer", build=500)
    store.set_many({"system.update-channel": "stable"})
    assert "is the newest" in update_from_site(store, newer.device, url, trust, state).said


def test_a_bundle_changed_on_the_site_is_not_installed(
        tmp_path: Path, site: tuple[Path, str]) -> None:  # noqa: F811
    root, url = site
    trust = published(tmp_path, root, f"stable={bundle_file(tmp_path, 's', 200)}")
    other = bundle_file(tmp_path, "other", 201)  # a whole, valid bundle: not the one named
    (root / "firmware/qemu-x86_64-0.2.0-200.tar").write_bytes(other.read_bytes())
    box = Box(tmp_path / "box")
    with pytest.raises(UpdateError, match="not the one the signed site names"):
        update_from_site(ConfigStore(ConfigPaths.under(tmp_path / "config")), box.device,
                         url, trust, tmp_path / "firmware.json")
    assert not list((box.device.boot / slots.ENTRIES).glob("spicebox-b*"))
    assert not (tmp_path / "firmware.json").exists()  # tried again next time


def test_root_trusts_the_given_key_else_its_own_else_the_agents_first(
        tmp_path: Path) -> None:
    mine, agents = tmp_path / "root.json", tmp_path / "provisioning.json"
    assert trusted_key(None, mine, agents) is None
    agents.write_text(json.dumps({"trusted": "ed25519:first"}))
    assert trusted_key(None, mine, agents) == "ed25519:first"
    agents.write_text(json.dumps({"trusted": "ed25519:swapped"}))
    assert trusted_key(None, mine, agents) == "ed25519:first"  # the kiosk user cannot change it
    assert trusted_key("ed25519:baked", mine, agents) == "ed25519:baked"


def test_a_signed_bundle_off_the_site_is_installed_only_as_signed(tmp_path: Path) -> None:
    """spicebox-admin sign makes BUNDLE.sig; `update install --trust` checks it."""
    from spicebox.provisioning.site import Refused, parse_public, signed_digest  # noqa: PLC0415
    from spicebox.system.update import install  # noqa: PLC0415

    bundle = bundle_file(tmp_path, "stick", 200)
    assert admin(["keygen", "--out", str(tmp_path / "keys")]) == 0
    assert admin(["keygen", "--out", str(tmp_path / "other")]) == 0
    assert admin(["sign", "--key", str(tmp_path / "keys/signing.key"), str(bundle)]) == 0
    trusted = parse_public((tmp_path / "keys/signing.pub").read_text(), "key")
    other = parse_public((tmp_path / "other/signing.pub").read_text(), "key")
    signature = bundle.with_name("stick.tar.sig")
    with pytest.raises(Refused, match="not a signature by the trusted key"):
        signed_digest(signature, other)
    box = Box(tmp_path / "box")
    with bundle.open("rb") as stream:
        assert install(stream, box.device, sha256=signed_digest(signature, trusted)).slot == "b"
    doc = json.loads(signature.read_text())
    signature.write_text(json.dumps({**doc, "sha256": "0" * 64}))  # another file's digest
    with pytest.raises(Refused):
        signed_digest(signature, trusted)
    assert admin(["sign", "--key", str(tmp_path / "keys/signing.key"),
                  str(tmp_path / "missing.tar")]) == 2
