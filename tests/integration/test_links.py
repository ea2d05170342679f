"""The kernel's rtnetlink, for real: in a network namespace of the test's own (there is no
cable to pull here), the kiosk's watcher wakes when an interface gets a global address,
and counts an address that is already there when asked to."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

IN_NAMESPACE = textwrap.dedent("""
    import asyncio, subprocess
    from spicebox.net.links import network_back

    def ip(*args):
        subprocess.run(["ip", *args], check=True)

    async def main():
        ip("link", "set", "lo", "up")  # 127.0.0.1 and ::1: host scope, not a network
        # A cable between two interfaces of the namespace's own.
        ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
        for name in ("v0", "v1"):
            ip("link", "set", name, "up")
        waiting = asyncio.create_task(network_back())
        await asyncio.sleep(0.5)
        assert not waiting.done(), "woke without a network"
        ip("addr", "add", "10.9.9.9/24", "dev", "v0")
        await asyncio.wait_for(waiting, 10)
        # Up now: the kiosk's first connection does not wait for another address.
        await asyncio.wait_for(network_back(up_now_counts=True), 10)
        print("back")

    asyncio.run(main())
""")


def test_the_watcher_wakes_when_an_address_is_added() -> None:
    if subprocess.run(["unshare", "-n", "true"], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("cannot make a network namespace here (unshare -n needs root)")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", IN_NAMESPACE],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "back"
