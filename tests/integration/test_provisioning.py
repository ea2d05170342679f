"""Provisioning end to end: an administrator signs a site with spicebox-admin, a real nginx
serves it over HTTPS on loopback, `spicebox provision --once` fetches, verifies and applies
it, and the kiosk then connects to the QEMU server the profile names. A tampered site is
refused by the command with one line, and the configuration stays as it was. A kiosk whose
profile provisioning changes reconnects with the new one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from spicebox.admin import main as admin
from spicebox.provisioning.dns import site_from_dns
from spicebox.provisioning.site import Refused
from spicebox.provisioning.ssh import keys_from_site
from tests.rig.cli import COMMAND, assert_kiosk_shows_bios, spicebox
from tests.rig.nginx import Nginx
from tests.rig.qemu import VGA_DEVICES, QemuServer, free_port


def test_a_published_profile_reaches_the_box_and_connects(tmp_path: Path) -> None:
    keys, docs, site, config = (tmp_path / name for name in
                                ("keys", "profiles", "site", "config"))
    assert admin(["keygen", "--out", str(keys)]) == 0
    docs.mkdir()
    with QemuServer(VGA_DEVICES["std"]) as qemu, Nginx(site, tmp_path / "web") as web:
        (docs / "default.toml").write_text(
            f'default-profile = "lab"\n[profiles.lab]\nhost = "127.0.0.1"\n'
            f'port = {qemu.port}\ntitle = "Lab desktop"\n')
        assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles",
                      str(docs), "--out", str(site)]) == 0
        device = tmp_path / "identity.key"
        assert spicebox("identity", "--create", "--key", str(device)).returncode == 0
        provision = ["provision", "--server", web.url, "--trust", str(keys / "signing.pub"),
                     "--ca-file", str(web.ca), "--identity", str(device), "--config-dir",
                     str(config), "--once"]
        done = spicebox(*provision)
        assert done.returncode == 0, done.stderr
        assert "provisioned version" in done.stderr
        assert_kiosk_shows_bios(config, tmp_path / "kiosk.png", qemu.screendump)

        # The box reported its status; the administrators see it, signed by its key.
        reports = list((site / "reports").glob("*.json"))
        assert len(reports) == 1
        listing = subprocess.run([*COMMAND[:-1], "spicebox.admin", "devices", "--site",
                                  str(site)], capture_output=True, text=True, check=True)
        assert f"{reports[0].stem}  group -  version " in listing.stdout
        assert listing.stdout.rstrip().endswith("ok"), listing.stdout

        # Polled again, unchanged: nginx answers 304 to the index's ETag, nothing is applied.
        done = spicebox(*provision)
        assert done.returncode == 0, done.stderr
        assert "provisioned" not in done.stderr
        assert '"GET /index.json HTTP/1.1" 304' in web.access_log()

        # The site altered behind the administrators' back: a box that fetches it (a new
        # one: the first keeps its copy while the signed index is unchanged) refuses it.
        (site / "default.toml").write_text('default-profile = "evil"\n')
        fresh = tmp_path / "fresh"
        done = spicebox(*provision[:-3], "--config-dir", str(fresh), "--once")
        assert done.returncode != 0
        assert done.stderr.strip().splitlines()[-1] == (
            "spicebox: error: default.toml is not the document the signed index names: "
            "nothing applied")
        assert not (fresh / "provisioned.toml").exists()


def test_a_running_kiosk_reconnects_when_provisioning_changes_its_profile(
        tmp_path: Path) -> None:
    keys, docs, site, config = (tmp_path / name for name in
                                ("keys", "profiles", "site", "config"))
    assert admin(["keygen", "--out", str(keys)]) == 0
    docs.mkdir()

    def publish(port: int) -> None:
        (docs / "default.toml").write_text(
            f'default-profile = "lab"\n[profiles.lab]\nhost = "127.0.0.1"\nport = {port}\n')
        assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles",
                      str(docs), "--out", str(site)]) == 0

    with QemuServer(VGA_DEVICES["std"]) as first, QemuServer(VGA_DEVICES["std"]) as second, \
            Nginx(site, tmp_path / "web") as web:
        provision = ["provision", "--server", web.url, "--trust", str(keys / "signing.pub"),
                     "--ca-file", str(web.ca), "--config-dir", str(config), "--once"]
        publish(first.port)
        assert spicebox(*provision).returncode == 0
        kiosk = subprocess.Popen([*COMMAND, "run", "--config-dir", str(config), "--backend",
                                  "headless", "--exit-after", "15"],
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(5)
        publish(second.port)
        done = spicebox(*provision)
        assert done.returncode == 0, done.stderr
        _, log = kiosk.communicate(timeout=60)
    assert kiosk.returncode == 0, log
    assert f"connected to 127.0.0.1:{first.port}" in log
    assert "the connection profile changed: reconnecting" in log
    assert f"connected to 127.0.0.1:{second.port}" in log


def test_a_kiosk_showing_setup_connects_once_provisioning_gives_it_a_profile(
        tmp_path: Path) -> None:
    """A box switched on before its provisioning site named a desktop shows setup; once
    the agent applies a profile, the kiosk leaves setup by itself and connects."""
    keys, docs, site, config = (tmp_path / name for name in
                                ("keys", "profiles", "site", "config"))
    assert admin(["keygen", "--out", str(keys)]) == 0
    docs.mkdir()
    with QemuServer(VGA_DEVICES["std"]) as qemu, Nginx(site, tmp_path / "web") as web:
        kiosk = subprocess.Popen([*COMMAND, "run", "--config-dir", str(config), "--backend",
                                  "headless", "--exit-after", "20"],
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(5)  # setup is on the screen
        (docs / "default.toml").write_text(
            f'default-profile = "lab"\n[profiles.lab]\nhost = "127.0.0.1"\n'
            f'port = {qemu.port}\n')
        assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles",
                      str(docs), "--out", str(site)]) == 0
        done = spicebox("provision", "--server", web.url, "--trust",
                        str(keys / "signing.pub"), "--ca-file", str(web.ca), "--config-dir",
                        str(config), "--once")
        assert done.returncode == 0, done.stderr
        _, log = kiosk.communicate(timeout=60)
    assert kiosk.returncode == 0, log
    assert "provisioning set a connection profile: connecting" in log
    assert f"connected to 127.0.0.1:{qemu.port}" in log


def test_a_box_finds_the_site_by_its_dns_srv_record(tmp_path: Path) -> None:
    """A real DNS server (dnsmasq) holds _spicebox._tcp in the box's search domain; the
    box finds nginx's address there and provisions from it."""
    keys, docs, site, config = (tmp_path / name for name in
                                ("keys", "profiles", "site", "config"))
    assert admin(["keygen", "--out", str(keys)]) == 0
    docs.mkdir()
    (docs / "default.toml").write_text('default-profile = "lab"\n[profiles.lab]\n'
                                       'host = "127.0.0.1"\nport = 5900\n')
    assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles", str(docs),
                  "--out", str(site)]) == 0
    dns_port = free_port()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\nsearch nowhere.test example.test\n")
    with Nginx(site, tmp_path / "web") as web, subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", f"--port={dns_port}",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
             "--conf-file=/dev/null", "--pid-file", f"--log-facility={tmp_path}/dns.log",
             f"--srv-host=_spicebox._tcp.example.test,localhost,{web.port},10,5"]) as dns:
        try:
            deadline = time.monotonic() + 10
            while (found := site_from_dns(resolv, dns_port)) is None:
                assert time.monotonic() < deadline, "dnsmasq never answered"
                time.sleep(0.2)
            assert found == f"https://localhost:{web.port}"
            done = spicebox("provision", "--server", found, "--trust",
                            str(keys / "signing.pub"), "--ca-file", str(web.ca),
                            "--config-dir", str(config), "--once")
            assert done.returncode == 0, done.stderr
        finally:
            dns.terminate()


def test_ssh_keys_come_only_from_the_signed_site_and_never_go_back(tmp_path: Path) -> None:
    """Root's own reading of the site (spicebox ssh from-site): the keys the signed
    configuration gives the box; none once the administrators take them away; and an
    older signed index served again (keys since taken away) is refused."""
    keys, docs, site = (tmp_path / name for name in ("keys", "profiles", "site"))
    assert admin(["keygen", "--out", str(keys)]) == 0
    docs.mkdir()
    ops = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHMnHFZuVa7jDwu/5qFN+X/fpQuHGdCAf+EGRvS/2irG ops"
    trust = (keys / "signing.pub").read_text().strip()
    state = tmp_path / "ssh-state.json"

    def publish(text: str) -> None:
        (docs / "default.toml").write_text(text)
        assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles",
                      str(docs), "--out", str(site)]) == 0

    with Nginx(site, tmp_path / "web") as web:
        publish(f'[system]\nssh-keys = ["{ops}"]\n')
        old = {p.name: p.read_bytes() for p in site.iterdir() if p.is_file()}
        assert keys_from_site(web.url, trust, [], state, str(web.ca)) == (ops,)
        publish('[system]\ntime-zone = "Europe/Berlin"\n')
        assert keys_from_site(web.url, trust, [], state, str(web.ca)) == ()
        for name, data in old.items():
            (site / name).write_bytes(data)
        with pytest.raises(Refused, match=r"older than the \d+ applied: refused \(a rollback\), "
                                          r"SSH left as it is"):
            keys_from_site(web.url, trust, [], state, str(web.ca))
