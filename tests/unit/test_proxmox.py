"""Proxmox VE as a broker, against a local HTTPS stand-in for its API (tests/rig/proxmox):
logins with a password or an API token, the VM list, SPICE tickets, and every refusal
given as one line. (The whole path to a real QEMU is in tests/integration/test_proxmox.)"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from evdev import ecodes as e

from spicebox.config.proxmox import Proxmox, Vm, resolve
from spicebox.config.settings import Profile, section_from
from spicebox.config.store import ConfigPaths, ConfigStore
from spicebox.config.target import ConfigError
from spicebox.net.tls import TlsVerificationFailed
from spicebox.spice.errors import AccessDenied
from spicebox.ui.pages.profiles import ProfilePage, TrustPage, VmPage
from tests.rig.certs import SERVER_SUBJECT, make_x509_dir
from tests.rig.proxmox import SPICE_PORT, ProxmoxStub
from tests.rig.ui import UiDriver, field


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxmoxStub]:
    x509 = tmp_path_factory.mktemp("x509")
    make_x509_dir(x509)
    with ProxmoxStub(x509, lambda _: None, spice_tls_port=1) as running:
        yield running


def profile(stub: ProxmoxStub, **values: object) -> Profile:
    doc = {"proxmox-url": stub.url, "proxmox-user": "alice", "proxmox-realm": "pve",
           "proxmox-password": "alice-pw", "proxmox-vmid": 100,
           "ca": (stub.x509 / "ca-cert.pem").read_text(), **values}
    found: Profile = section_from(Profile, {k: v for k, v in doc.items() if v is not None},
                                  "profiles.pve")
    found.check("profiles.pve")
    return found


def test_a_password_login_lists_the_vms_and_gets_a_fresh_ticket(stub: ProxmoxStub) -> None:
    stub.calls.clear()
    client = Proxmox(profile(stub))
    assert asyncio.run(client.vms()) == [Vm(100, "desk", "pve1", "running")]
    first = asyncio.run(resolve(profile(stub)))
    second = asyncio.run(resolve(profile(stub)))
    assert first.host.startswith("pvespiceproxy:") and ":100:pve1:" in first.host
    assert first.tls_port == SPICE_PORT and first.port is None
    assert first.proxy is not None and first.proxy.startswith("http://localhost:")
    assert first.host_subject == SERVER_SUBJECT and first.ca_pem is not None
    assert first.ca_pem.startswith("-----BEGIN CERTIFICATE-----\n")
    assert first.title == "VM 100 - desk"
    assert first.password != second.password  # a new one-time ticket each connect
    assert stub.calls.count("POST /api2/json/access/ticket") == 3
    assert stub.calls.count("POST /api2/json/nodes/pve1/qemu/100/spiceproxy") == 2


def test_an_api_token_needs_no_login_and_the_node_can_be_given(stub: ProxmoxStub) -> None:
    stub.calls.clear()
    target = asyncio.run(resolve(profile(stub, **{
        "proxmox-password": None, "proxmox-token": "kiosk=t0k3n", "proxmox-node": "pve1"})))
    assert target.tls_port == SPICE_PORT
    assert stub.calls == ["POST /api2/json/nodes/pve1/qemu/100/spiceproxy"]


@pytest.mark.parametrize(("values", "error", "words"), [
    ({"proxmox-password": "wrong"}, AccessDenied, "refused alice@pve: check the user, the "
                                                  "realm and the password"),
    ({"proxmox-realm": "pam"}, AccessDenied, "refused alice@pam"),
    ({"proxmox-password": None, "proxmox-token": "kiosk=nope"}, AccessDenied,
     "the account or its token is not accepted"),
    ({"proxmox-vmid": 9000}, ConfigError, "has no VM 9000 that alice@pve may see"),
    ({"proxmox-vmid": 200}, ConfigError, "has no VM 200"),  # a container
    ({"ca": None}, TlsVerificationFailed, "is not trusted"),
])
def test_refusals_are_one_clear_line(stub: ProxmoxStub, values: dict[str, object],
                                     error: type[Exception], words: str) -> None:
    with pytest.raises(error) as caught:
        asyncio.run(resolve(profile(stub, **values)))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_user_without_the_console_privilege_is_told_which(stub: ProxmoxStub) -> None:
    stub.no_console.add("alice@pve")
    try:
        with pytest.raises(AccessDenied, match=r"needs the VM\.Console privilege"):
            asyncio.run(resolve(profile(stub)))
    finally:
        stub.no_console.clear()


@pytest.mark.parametrize(("key", "value", "words"), [
    ("proxmox-url", "http://pve:8006", "https://HOST[:PORT] is expected"),
    ("proxmox-url", "https://pve:8006/api2/json", "https://HOST[:PORT] is expected"),
    ("proxmox-user", "alice@pve", "without spaces, @"),
    ("proxmox-token", "kiosk", "TOKENID=SECRET is expected"),
    ("proxmox-vmid", "12", "from 100 to 999999999"),
])
def test_bad_proxmox_settings(stub: ProxmoxStub, key: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        profile(stub, **{key: value})


def test_a_proxmox_profile_needs_an_account_and_a_vm(stub: ProxmoxStub) -> None:
    base = profile(stub)
    for change, words in (({"proxmox_vmid": None}, "proxmox-vmid is not set"),
                          ({"proxmox_password": None}, "neither proxmox-password nor "
                                                       "proxmox-token")):
        with pytest.raises(ConfigError, match=words):
            dataclasses.replace(base, **change).check("profiles.pve")  # type: ignore[arg-type]
    assert base.describe() == f"VM 100 on {stub.url}"
    assert section_from(Profile, {"proxmox-url": "pve.lan"}, "p").proxmox_url == \
        "https://pve.lan:8006"


def test_the_ticket_password_is_never_stored(stub: ProxmoxStub, tmp_path: Path) -> None:
    store = ConfigStore(ConfigPaths.under(tmp_path))
    store.save_profile("pve", profile(stub), default=True)
    asyncio.run(resolve(store.load().profile()))
    files = tmp_path.glob("*.toml")
    assert not any(stub.tickets[-1] in f.read_text() for f in files)


def test_a_proxmox_profile_set_up_in_the_ui(stub: ProxmoxStub, tmp_path: Path) -> None:
    """Kind Proxmox VE, the API's certificate trusted on first use, the VM picked from
    the list: what the saved profile then connects to."""
    ui = UiDriver(tmp_path / "config")
    ui.open(ProfilePage(ui.app, None))
    ui.focus_by_keys("Kind")
    ui.key(e.KEY_RIGHT)
    assert "Proxmox VE" in ui.texts() and "Server" not in ui.texts()
    for label, text in (("Name", "pve"), ("Proxmox VE", stub.url.removeprefix("https://")),
                        ("Realm", "pve"), ("User", "alice"), ("Password", "alice-pw")):
        field(ui.page, label).text = text
    ui.tap("Pick a VM…")
    ui.settle()  # refused: the API's certificate is not trusted yet
    assert "is not trusted" in ui.page.status
    ui.tap("Trust the API's certificate…")
    ui.settle()
    assert isinstance(ui.page, TrustPage)
    ui.tap("Trust")
    ui.tap("Pick a VM…")
    ui.settle()
    assert isinstance(ui.page, VmPage) and ui.texts() == ["100  desk", "Back"]
    ui.tap("100  desk")
    assert field(ui.page, "VM id").text == "100" and field(ui.page, "Node").text == "pve1"
    ui.tap("Save")
    profile_saved = ui.store.load().profile("pve")
    assert profile_saved.proxmox_url == stub.url and profile_saved.title == "desk"
    assert profile_saved.fingerprint is not None
    target = asyncio.run(resolve(profile_saved))
    assert target.tls_port == SPICE_PORT and target.title == "VM 100 - desk"
