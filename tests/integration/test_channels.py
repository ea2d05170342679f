"""The link handshake works for every channel type QEMU offers."""

from __future__ import annotations

import socket

from spicebox.config.target import parse_uri
from spicebox.spice.channel import COMMON_CAPS
from spicebox.spice.constants import ChannelType
from spicebox.spice.link import LinkHandshake
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import QemuServer

ALL_DEVICES = [
    "-vga", "qxl",
    "-audiodev", "spice,id=snd0", "-device", "ich9-intel-hda",
    "-device", "hda-duplex,audiodev=snd0",
    "-device", "qemu-xhci", "-chardev", "spicevmc,name=usbredir,id=ur0",
    "-device", "usb-redir,chardev=ur0",
    "-device", "virtio-serial", "-chardev", "spiceport,name=org.spicebox.test,id=port0",
    "-device", "virtserialport,chardev=port0,name=org.spicebox.test",
    "-chardev", "spicevmc,name=vdagent,id=vda", "-device", "virtserialport,chardev=vda,"
    "name=com.redhat.spice.0",
]


def link(port: int, channel_type: int, channel_id: int, session_id: int) -> frozenset[int]:
    handshake = LinkHandshake(ChannelType(channel_type), channel_id, session_id, "",
                              COMMON_CAPS, ())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(handshake.start())
        while not handshake.done:
            data = sock.recv(4096)
            assert data, "server closed during the link"
            sock.sendall(handshake.receive_data(data))
    assert handshake.result is not None
    return handshake.result.channel_caps


def test_every_offered_channel_links() -> None:
    with QemuServer(ALL_DEVICES) as qemu, ClientThread(parse_uri(qemu.uri())) as client:
        assert_shows_guest_screen(client, qemu)
        session_id = client.session.session_id
        assert session_id is not None
        offered = {c.type for c in client.session.channels}
        expected = {ChannelType.MAIN, ChannelType.DISPLAY, ChannelType.INPUTS,
                    ChannelType.CURSOR, ChannelType.PLAYBACK, ChannelType.RECORD,
                    ChannelType.USBREDIR, ChannelType.PORT}
        assert expected - {ChannelType.MAIN} <= offered
        for channel in client.session.channels:
            if channel.type != ChannelType.DISPLAY:  # the client holds display 0 already
                link(qemu.port, channel.type, channel.id, session_id)
