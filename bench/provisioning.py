"""`make bench`, part seven: a fleet polling one provisioning site on nginx.

AGENTS simulated boxes (asyncio, on loopback, keep-alive HTTP/1.1) poll a site published
with spicebox-admin the way `spicebox provision` does: the index with If-None-Match every
POLL_SECONDS (scaled down from the boxes' 300 s), give or take a fifth; on a new index,
its signature and the documents. Halfway through, a new version is published. Reported:
requests per second nginx served, bytes per box per day at the real 300 s interval, and
how long the new version took to reach 99 % of the fleet.

Plain HTTP, so that the simulator's own TLS does not swamp the 2-core machine; TLS adds
one handshake per keep-alive connection on the server, not per poll.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.desktop import cpu_seconds
from spicebox.admin import main as admin
from tests.rig.qemu import free_port

AGENTS = 1000
POLL_SECONDS = 10.0
RUN_SECONDS = 60.0
REAL_POLL_SECONDS = 300.0


def nginx_conf(site: Path, scratch: Path, port: int) -> Path:
    conf = scratch / "nginx.conf"
    conf.write_text(f"""user root;
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    types {{ application/json json; application/toml toml; }}
    server {{ listen 127.0.0.1:{port}; root {site}; }}
}}
""")
    return conf


class Fleet:
    def __init__(self, port: int, documents: list[str]) -> None:
        self.port, self.documents = port, documents
        self.requests = 0
        self.bytes = 0
        self.not_modified = 0
        self.not_modified_bytes = 0
        self.published_at = 0.0
        self.reached: list[float] = []  # when each box saw the new version
        self.new_version = 0

    async def agent(self, until: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        etag, version = "", 0
        await asyncio.sleep(random.uniform(0, POLL_SECONDS))
        while time.monotonic() < until:
            status, headers, body = await self.get(reader, writer, "/index.json", etag)
            if status == 200:
                etag = headers.get("etag", "")
                found = re.search(rb'"version": (\d+)', body)
                version = int(found[1]) if found else 0
                for path in ("/index.json.sig", *self.documents):
                    await self.get(reader, writer, path, "")
                if self.new_version and version >= self.new_version:
                    self.reached.append(time.monotonic() - self.published_at)
            await asyncio.sleep(POLL_SECONDS * random.uniform(0.8, 1.2))
        writer.close()

    async def get(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  path: str, etag: str) -> tuple[int, dict[str, str], bytes]:
        condition = f"If-None-Match: {etag}\r\n" if etag else ""
        writer.write(f"GET {path} HTTP/1.1\r\nHost: site\r\n{condition}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        size = len(head) + len(body) + len(path) + 40  # and the request line and headers
        self.requests += 1
        self.bytes += size
        if status == 304:
            self.not_modified += 1
            self.not_modified_bytes += size
        return status, headers, body


async def run(fleet: Fleet, publish: Callable[[], int]) -> float:
    start = time.monotonic()
    until = start + RUN_SECONDS
    agents = [asyncio.create_task(fleet.agent(until)) for _ in range(AGENTS)]
    await asyncio.sleep(RUN_SECONDS / 2)
    fleet.new_version = publish()
    fleet.published_at = time.monotonic()
    await asyncio.gather(*agents)
    return time.monotonic() - start


def nginx_cpu(master: int) -> float:
    """CPU seconds of nginx's master and its workers so far."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        if pid == master or int(fields[1]) == master:
            total += cpu_seconds(pid)
    return total


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        keys, docs, site = scratch / "keys", scratch / "profiles", scratch / "site"
        admin(["keygen", "--out", str(keys)])
        docs.mkdir()
        (docs / "default.toml").write_text(
            'default-profile = "vdi"\n[profiles.vdi]\nhost = "vdi.example.org"\n'
            'tls-port = 5901\n[display]\ncompression = "lz4"\n')

        def publish() -> int:
            admin(["publish", "--key", str(keys / "signing.key"), "--profiles", str(docs),
                   "--out", str(site)])
            found = re.search(r'"version": (\d+)', (site / "index.json").read_text())
            assert found
            return int(found[1])
        publish()
        port = free_port()
        nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", str(nginx_conf(site, scratch, port)),
                                  "-p", str(scratch), "-g", "daemon off;"])
        try:
            time.sleep(1)
            fleet = Fleet(port, ["/default.toml"])
            before = nginx_cpu(nginx.pid)
            elapsed = asyncio.run(run(fleet, publish))
            busy = (nginx_cpu(nginx.pid) - before) / elapsed
        finally:
            nginx.terminate()
            nginx.wait(10)
    polls_per_day = 86400 / REAL_POLL_SECONDS
    # An unchanged site answers 304; a change costs one full fetch more.
    poll_bytes = fleet.not_modified_bytes / max(fleet.not_modified, 1)
    reached = sorted(fleet.reached)
    p99 = reached[int(0.99 * AGENTS) - 1] if len(reached) >= 0.99 * AGENTS else float("nan")
    print(f"provisioning: {AGENTS} boxes polling every {POLL_SECONDS:.0f} s (±20 %) for "
          f"{elapsed:.0f} s, one new version halfway:")
    print(f"  nginx served {fleet.requests / elapsed:.0f} requests/s "
          f"({fleet.not_modified / max(fleet.requests, 1):.0%} of them 304)")
    change_kib = (fleet.bytes - fleet.not_modified_bytes) / max(len(fleet.reached), 1) / 1024
    print(f"  a box costs about {poll_bytes * polls_per_day / 1024:.0f} KiB a day at "
          f"{REAL_POLL_SECONDS:.0f} s polls ({poll_bytes:.0f} bytes an unchanged poll, plus "
          f"about {change_kib:.1f} KiB a change)")
    print(f"  nginx's CPU: {busy:.1%} of one core, so about "
          f"{fleet.requests / elapsed / max(busy, 1e-9):.0f} requests/s a core: "
          f"{fleet.requests / elapsed / max(busy, 1e-9) * REAL_POLL_SECONDS:.0f} boxes a core "
          f"at {REAL_POLL_SECONDS:.0f} s polls")
    print(f"  the new version reached 99 % of the boxes in {p99:.1f} s "
          f"(median {statistics.median(reached) if reached else float('nan'):.1f} s; "
          f"at {REAL_POLL_SECONDS:.0f} s polls, scale by {REAL_POLL_SECONDS / POLL_SECONDS:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
