"""`make test-image`: a box told where its provisioning site is (on its kernel's command
line, as an administrator's boot entry or DHCP-booted image would) configures itself
from the signed site, connects to the desktop the profile names, lets the
administrators' SSH key in as root (sshd is off until then), installs the newer
firmware the site names for its update channel into its other slot, restarts into it
(system.update-reboot = "now") and keeps it."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from spicebox.admin import main as admin
from spicebox.system.update import MANIFEST
from tests.guests import console
from tests.image.test_boot import BOOT_TIMEOUT, thin_client
from tests.rig.image import (
    IMAGE,
    OUT,
    copy_of_image,
    esp,
    loader_entries,
    power_off,
    wait_for_server_screen,
)
from tests.rig.nginx import Nginx
from tests.rig.qemu import VGA_DEVICES, QemuServer, free_port

pytestmark = [pytest.mark.skipif(not IMAGE.is_file(),
                                 reason="run `make test-image` (it builds the image first)"),
              pytest.mark.timeout(6 * BOOT_TIMEOUT + 1800)]

INSTALL_TIMEOUT = 1800  # downloading and writing a 1.3 GB root in an emulated CPU
SSH_TIMEOUT = 300
HOST = "10.0.2.2"  # this machine, from the box's QEMU network


def newer_bundle(out: Path, target: Path) -> dict[str, object]:
    """The image's own update bundle, its manifest a build later (the files, and so their
    hashes, stay): what the next `make image` would publish."""
    with (out / "update.tar").open("rb") as source, \
            tarfile.open(fileobj=source, mode="r|") as tar, \
            tarfile.open(target, "w") as new:
        for member in tar:
            data = tar.extractfile(member)
            assert data is not None
            if member.name == MANIFEST:
                manifest: dict[str, object] = json.loads(data.read())
                manifest["build"] = int(str(manifest["build"])) + 1
                manifest["version"] = f"{manifest['version']}-next"
                body = json.dumps(manifest).encode()
                member.size = len(body)
                new.addfile(member, io.BytesIO(body))
            else:
                new.addfile(member, data)
    return manifest


def provisioned_from(disk: Path, url: str, key: str, scratch: Path) -> None:
    """The boot entry of slot A with the site and its key on the kernel's command line."""
    entry = scratch / "spicebox-a.conf"
    subprocess.run(["mcopy", "-o", "-i", esp(disk), "::/loader/entries/spicebox-a.conf",
                    str(entry)], check=True)
    text = entry.read_text().replace(
        "\noptions ", f"\noptions spicebox.provision={url} spicebox.provision-key={key} ", 1)
    assert "spicebox.provision=" in text
    entry.write_text(text)
    subprocess.run(["mcopy", "-o", "-i", esp(disk), str(entry),
                    "::/loader/entries/spicebox-a.conf"], check=True)


def ssh_in(port: int, identity: Path, command: str) -> str:
    """``command`` run on the box as root over SSH (QEMU forwards ``port`` to it), once
    sshd lets the key in."""
    started = time.monotonic()
    while True:
        done = subprocess.run(
            ["ssh", "-q", "-p", str(port), "-i", str(identity), "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=10", "root@127.0.0.1", command],
            capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return done.stdout
        assert time.monotonic() - started < SSH_TIMEOUT, f"no SSH: {done.stderr}"
        time.sleep(5)


def test_a_box_provisions_itself_and_takes_its_channels_firmware(tmp_path: Path) -> None:
    guest = console.build(console.default_cache_dir())
    keys, docs, site = tmp_path / "keys", tmp_path / "profiles", tmp_path / "site"
    assert admin(["keygen", "--out", str(keys)]) == 0
    key = (keys / "signing.pub").read_text().strip()
    docs.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ops", "-f",
                    str(tmp_path / "ops")], check=True)
    ops = (tmp_path / "ops.pub").read_text().strip()
    manifest = newer_bundle(OUT, tmp_path / "next.tar")
    ssh_port = free_port()
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args(), serial=True) as server, \
            console.SerialConsole(str(server.serial_path)) as serial, \
            Nginx(site, tmp_path / "web", tls=False) as web:
        serial.wait_for(console.READY, 120)  # (said once, as soon as it is up)
        (docs / "default.toml").write_text(
            f'default-profile = "lab"\n[profiles.lab]\nhost = "{HOST}"\n'
            f'port = {server.port}\n[system]\nupdate-reboot = "now"\nssh-keys = ["{ops}"]\n')
        assert admin(["publish", "--key", str(keys / "signing.key"), "--profiles",
                      str(docs), "--out", str(site), "--firmware",
                      f"stable={tmp_path / 'next.tar'}"]) == 0
        disk = copy_of_image(tmp_path)
        provisioned_from(disk, f"http://{HOST}:{web.port}", key, tmp_path)
        with QemuServer(thin_client(tmp_path, disk, snapshot=False), serial=True,
                        memory=1024, nic=f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:"
                                         f"{ssh_port}-:22") as box:
            wait_for_server_screen(box, server, BOOT_TIMEOUT, "the provisioned desktop")
            started = time.monotonic()
            # The administrators' key, and only over SSH's own key exchange: root's shell.
            assert ssh_in(ssh_port, tmp_path / "ops", "id -u").strip() == "0"
            print(f"SSH let the provisioned key in {time.monotonic() - started:.0f} s after "
                  f"the desktop was on the screen")
            bundle = f"GET /firmware/{manifest['board']}-{manifest['version']}.tar"
            while bundle not in web.access_log():
                assert time.monotonic() - started < INSTALL_TIMEOUT, "no download"
                time.sleep(5)
            # Restarting into the new slot: the desktop leaves the screen, then returns.
            desktop = server.screendump()
            while np.array_equal(box.screendump()[:desktop.shape[0],
                                                  :desktop.shape[1]], desktop):
                assert time.monotonic() - started < INSTALL_TIMEOUT, "no restart"
                time.sleep(2)
            installed = time.monotonic() - started
            wait_for_server_screen(box, server, 2 * BOOT_TIMEOUT, "the desktop again")
            time.sleep(10)  # systemd-bless-boot, right after the kiosk's screen
            power_off(box)
    # Slot B booted and was kept; slot A is still there to come back to.
    assert loader_entries(disk) == ["spicebox-a.conf", "spicebox-b.conf"]
    print(f"firmware from the site installed and restarted into: {installed:.0f} s (TCG)")
