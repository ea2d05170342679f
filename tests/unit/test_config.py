"""The configuration: typed settings, layered TOML files, atomic writes, secrets, .vv import."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spicebox.cli import EXIT_USAGE, main
from spicebox.config.preconfigure import preconfigure
from spicebox.config.settings import MASK, Profile, pin_matches
from spicebox.config.store import ConfigPaths, ConfigStore, describe, get, write_atomic
from spicebox.config.target import ConfigError, load_vv

VV_DIR = Path(__file__).parent / "data" / "vv"


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    return ConfigStore(ConfigPaths.under(tmp_path))


def files(store: ConfigStore) -> dict[str, bytes | None]:
    paths = store.paths
    return {p.name: p.read_bytes() if p.exists() else None
            for p in (paths.defaults, paths.state, paths.secrets)}


def test_nothing_configured_means_the_defaults(store: ConfigStore) -> None:
    config = store.load()
    assert config.profiles == {} and config.default_profile is None
    assert (config.display.backend, config.display.resolution, config.input.source) == (
        "auto", None, "auto")
    with pytest.raises(ConfigError, match="spicebox config import"):
        config.profile()


def test_set_get_and_unset(store: ConfigStore) -> None:
    store.set("display.resolution", "1920x1080, 1280X1024")
    config = store.load()
    assert config.display.resolution == ((1920, 1080), (1280, 1024))
    assert get(config, "display.resolution") == "1920x1080,1280x1024"
    store.set("display.resolution", "")
    assert store.load().display.resolution is None
    assert "resolution" not in store.paths.state.read_text()


def test_secrets_go_to_their_own_file_readable_only_by_the_owner(store: ConfigStore) -> None:
    store.save_profile("office", Profile(host="10.0.0.5", port=5900, password="hunter2"),
                       default=True)
    assert "hunter2" not in store.paths.state.read_text()
    assert "hunter2" in store.paths.secrets.read_text()
    assert stat.S_IMODE(store.paths.secrets.stat().st_mode) == 0o600
    config = store.load()
    assert config.profile().password == "hunter2"
    assert get(config, "profiles.office.password") == MASK
    assert describe(config)["profiles"]["office"]["password"] == MASK
    store.set("profiles.office.password", "")
    assert store.load().profile().password is None


@pytest.mark.parametrize(("key", "value", "words"), [
    ("display.backend", "vga", "display.backend = 'vga' is not valid: one of auto"),
    ("display.resolution", "big", "sizes like 1920x1080"),
    ("display.resolution", "100x100", "200 to 8192"),
    ("input.source", "mouse", "one of auto, evdev, none"),
    ("hotkeys.setup", "ctrl+nosuchkey", "hotkeys.setup"),
    ("display.colour", "blue", "display has: backend, resolution, compression"),
    ("sound.volume", "3", "not a setting"),
    ("profiles.office.port", "99999", "port number from 1 to 65535"),
    ("profiles.office.ca", "not a pem", "PEM certificate"),
    ("profiles.office.host-subject", "nonsense", "host-subject"),
    ("profiles.office.proxy", "socks5://p:1080", "http://HOST:PORT"),
    ("profiles.office.password", "x" * 61, "at most 60 bytes"),
    ("profiles.my.office.host", "h", "not a setting"),
    ("profiles.off ice.host", "h", "letters, digits"),
    ("default-profile", "nosuch", "no such profile"),
])
def test_a_bad_value_is_refused_and_nothing_changes(store: ConfigStore, key: str, value: str,
                                                    words: str) -> None:
    store.save_profile("office", Profile(host="h", tls_port=5901), default=True)
    before = files(store)
    with pytest.raises(ConfigError) as refused:
        store.set(key, value)
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)
    assert files(store) == before


def test_secret_values_never_appear_in_errors(store: ConfigStore) -> None:
    with pytest.raises(ConfigError) as refused:
        store.set("profiles.office.password", "p" * 70)
    assert "ppp" not in str(refused.value)


def test_device_state_overrides_the_read_only_defaults(store: ConfigStore) -> None:
    store.paths.defaults.write_text(textwrap.dedent("""\
        default-profile = "hq"
        [display]
        backend = "kmsdrm"
        compression = "lz4"
        [profiles.hq]
        host = "vdi.example.com"
        tls-port = 5901
    """))
    store.set("display.compression", "off")
    store.set("profiles.hq.password", "pw")  # completes the administrator's profile
    config = store.load()
    assert (config.display.backend, config.display.compression) == ("kmsdrm", "off")
    assert config.profile() == Profile(host="vdi.example.com", tls_port=5901, password="pw")
    assert "vdi.example.com" not in store.paths.state.read_text()


@pytest.mark.parametrize(("text", "words"), [
    ("[display\nbackend = 1", "is not valid TOML"),
    ("[display]\nbackend = 3\n", "display.backend = 3 is not valid"),
    ("colour = 'blue'\n", "colour is not a setting"),
    ("profiles = 3\n", "profiles must be a table"),
])
def test_a_broken_file_is_named_in_one_line(store: ConfigStore, text: str, words: str) -> None:
    store.paths.state.write_text(text)
    with pytest.raises(ConfigError) as refused:
        store.load()
    message = str(refused.value)
    assert words in message and "\n" not in message
    assert str(store.paths.state) in message


def test_a_profile_is_set_up_one_setting_at_a_time_and_checked_when_used(
        store: ConfigStore) -> None:
    store.set("profiles.lab.host", "10.1.2.3")
    store.set("default-profile", "lab")
    with pytest.raises(ConfigError, match=r"profiles\.lab has neither port nor tls-port"):
        store.load().profile()
    store.set("profiles.lab.tls-port", "5901")
    assert store.load().profile().tls_port == 5901


def test_an_interrupted_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "spicebox.toml"
    path.write_text("old = true\n")
    # A process killed half way through writing (the power cut of a thin client).
    crash = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from spicebox.config import store
        real_fsync = os.fsync
        def die(fd):
            os._exit(9)
        os.fsync = die
        store.write_atomic(Path({str(path)!r}), b"new = true\\n" * 100000, 0o644)
    """)
    done = subprocess.run([sys.executable, "-c", crash], check=False)
    assert done.returncode == 9
    assert path.read_text() == "old = true\n"
    write_atomic(path, b"new = true\n", 0o644)
    assert path.read_text() == "new = true\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_atomic_leaves_no_temporary_file_when_it_fails(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "f.toml", "not bytes", 0o644)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


# --- .vv files, as virt-viewer, oVirt and Proxmox VE write them -------------------------

def test_proxmox_vv_file() -> None:
    target = load_vv(VV_DIR / "proxmox.vv")
    assert target.host.startswith("pvespiceproxy:6A1B2C3D:100:pve1::")
    assert (target.port, target.tls_port) == (None, 61000)
    assert target.proxy == "http://192.0.2.10:3128"
    assert target.host_subject == ("OU=PVE Cluster Node,O=Proxmox Virtual Environment,"
                                   "CN=pve1.example.com")
    assert target.ca_pem is not None and target.ca_pem.count("\n") > 5
    assert target.title == "VM 100 - win11"
    assert target.delete_file == VV_DIR / "proxmox.vv"


def test_ovirt_vv_file() -> None:
    target = load_vv(VV_DIR / "ovirt.vv")
    assert (target.host, target.port, target.tls_port) == ("192.0.2.20", 5900, 5901)
    assert target.password == "Ck3Y9zQw1pLm"
    assert target.host_subject == "O=example.com,CN=host20.example.com"
    assert target.proxy is None
    assert target.usb_auto_filter == "-1,-1,-1,-1,0"  # oVirt: nothing goes by itself


def test_usb_filters_are_checked_when_set(store: ConfigStore) -> None:
    store.set("usb.auto-redirect-filter", "0x08,-1,-1,-1,1|-1,-1,-1,-1,0")
    with pytest.raises(ConfigError, match=r"usb.redirect-filter = .* rule 1 \('0x08'\)"):
        store.set("usb.redirect-filter", "0x08")
    assert store.load().usb.auto_redirect_filter == "0x08,-1,-1,-1,1|-1,-1,-1,-1,0"


@pytest.mark.parametrize(("name", "expected"), [
    ("proxmox.vv", "VM-100-win11"),
    ("ovirt.vv", "desktop01-Press-SHIFT-F12-to-Release-Cursor"),
    ("virt-viewer.vv", "Office-desktop"),
])
def test_import_makes_the_file_the_default_profile(store: ConfigStore, name: str,
                                                   expected: str) -> None:
    profile_name, config = store.import_target(load_vv(VV_DIR / name))
    assert profile_name == expected and config.default_profile == expected
    reloaded = store.load()
    target = reloaded.profile().target()
    original = load_vv(VV_DIR / name)
    assert (target.host, target.port, target.tls_port, target.password, target.ca_pem,
            target.host_subject, target.proxy) == (
        original.host, original.port, original.tls_port, original.password,
        original.ca_pem, original.host_subject, original.proxy)


@pytest.mark.parametrize(("name", "words"), [
    ("broken-ca.vv", "profiles.192-0-2-40.ca = '-----BEGIN"),
    ("truncated.vv", "not a valid .vv file"),
    ("vnc.vv", "only spice"),
])
def test_broken_vv_files_are_refused_and_nothing_changes(store: ConfigStore, name: str,
                                                         words: str) -> None:
    store.save_profile("office", Profile(host="h", port=1), default=True)
    before = files(store)
    with pytest.raises(ConfigError) as refused:
        store.import_target(load_vv(VV_DIR / name))
    assert words in str(refused.value)
    assert files(store) == before


# --- spicebox config get/set -------------------------------------------------------------

def test_config_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         caplog: pytest.LogCaptureFixture) -> None:
    def spicebox(*args: str) -> int:
        return main([*args, "--config-dir", str(tmp_path)])

    assert spicebox("config", "set", "profiles.office.host", "10.0.0.5") == 0
    assert spicebox("config", "set", "profiles.office.password", "hunter2") == 0
    assert spicebox("config", "get", "profiles.office.host") == 0
    assert capsys.readouterr().out == "10.0.0.5\n"
    assert spicebox("config", "get") == 0
    whole = capsys.readouterr().out
    assert "hunter2" not in whole and MASK in whole and '[display]\nbackend = "auto"' in whole
    before = files(ConfigStore(ConfigPaths.under(tmp_path)))
    assert spicebox("config", "set", "display.backend", "vga") == EXIT_USAGE
    assert [r.getMessage() for r in caplog.records] == [
        "error: display.backend = 'vga' is not valid: one of auto, kmsdrm, fbdev, x11, "
        "headless is expected"]
    assert files(ConfigStore(ConfigPaths.under(tmp_path))) == before


def test_several_settings_change_together_or_not_at_all(store: ConfigStore) -> None:
    store.set_many({"display.backend": "x11", "display.compression": "lz4"})
    with pytest.raises(ConfigError, match=r"display\.resolution"):
        store.set_many({"display.backend": "fbdev", "display.resolution": "tiny"})
    assert store.load().display.backend == "x11"  # the good half was not written either


def test_a_profile_renamed_keeps_its_secret_and_its_default(store: ConfigStore) -> None:
    store.set_many({"profiles.a.host": "h", "profiles.a.port": "1",
                    "profiles.a.password": "pw", "default-profile": "a"})
    profile = store.load().profiles["a"]
    store.save_profile("b", profile, default=None, replaces="a")
    config = store.load()
    assert list(config.profiles) == ["b"] and config.default_profile == "b"
    assert config.profiles["b"].password == "pw"
    assert "pw" not in store.paths.state.read_text()
    store.delete_profile("b")
    assert store.load() == store.load().__class__()  # nothing left
    assert "pw" not in store.paths.secrets.read_text()


def test_the_admin_pin_is_stored_hashed(store: ConfigStore) -> None:
    store.set("system.admin-pin", "123456")
    stored = store.load().system.admin_pin
    assert stored is not None and stored.startswith("pbkdf2-sha256$")
    assert "123456" not in store.paths.secrets.read_text()
    assert pin_matches(stored, "123456") and not pin_matches(stored, "123457")
    store.set("display.backend", "x11")  # rewriting the files keeps the same hash
    assert store.load().system.admin_pin == stored
    assert get(store.load(), "system.admin-pin") == MASK
    for bad in ("12", "12ab", "1234567890123"):
        with pytest.raises(ConfigError, match="4 to 12 digits"):
            store.set("system.admin-pin", bad)
    store.set("system.ui-locked", "yes")
    assert store.load().system.ui_locked is True


def test_preconfiguring_from_a_boot_partition(store: ConfigStore, tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "spicebox.toml").write_text(textwrap.dedent("""
        [display]
        rotation = "180"
        [profiles.office]
        host = "vdi.example.org"
        tls-port = 5901
        password = "from-the-admin"
    """))
    (boot / "spicebox.vv").write_text("[virt-viewer]\ntype=spice\nhost=10.0.2.2\n"
                                      "port=5900\ntitle=lab\n")  # no delete-this-file
    assert preconfigure(store, boot) == []
    config = store.load()
    assert config.display.rotation == "180"
    assert config.profiles["office"].password == "from-the-admin"
    assert config.default_profile == "lab"  # the .vv comes last: it is the default
    assert "from-the-admin" not in store.paths.state.read_text()
    assert list(boot.iterdir()) == []  # nothing lingers, passwords least of all


def test_a_refused_preconfiguration_is_left_with_why(store: ConfigStore, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "spicebox.toml").write_text("[display]\nbackend = \"vga\"\n")
    assert main(["config", "preconfigure", str(boot), "--config-dir",
                 str(tmp_path / "config")]) == EXIT_USAGE
    assert not (boot / "spicebox.toml").exists()
    assert (boot / "spicebox.toml.rejected").exists()
    assert "display.backend = 'vga' is not valid" in (boot / "spicebox-error.txt").read_text()
    assert store.load().display.backend == "auto"
