"""A real nginx (Debian's nginx-light) serving a directory over HTTPS on loopback, in the
foreground, from a configuration written for it: the provisioning site's web server,
taking the boxes' status reports under reports/ (WebDAV PUT)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from .certs import make_x509_dir
from .qemu import free_port

NGINX = "/usr/sbin/nginx"


class Nginx:
    """``with Nginx(site, scratch) as web:`` serves ``site`` at ``web.url``; ``web.ca`` is
    the CA file that signed its certificate (for localhost)."""

    def __init__(self, site: Path, scratch: Path, tls: bool = True) -> None:
        """``tls=False``: plain HTTP, for a VM that cannot check the rig's certificate
        (what it fetches is signed)."""
        self.site, self.scratch = site, scratch
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://localhost:{self.port}"
        certs = scratch / "nginx-x509"
        self.ca = make_x509_dir(certs)
        listen = (f"listen 127.0.0.1:{self.port} ssl;\n"
                  f"        ssl_certificate {certs}/server-cert.pem;\n"
                  f"        ssl_certificate_key {certs}/server-key.pem;" if tls
                  else f"listen 127.0.0.1:{self.port};")
        (scratch / "nginx-logs").mkdir(parents=True, exist_ok=True)
        # Root runs the workers too when the tests do (pytest's directories are 0700).
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf = scratch / "nginx.conf"
        self.conf.write_text(f"""{user}
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-logs/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {scratch}/nginx-logs/access.log;
    client_body_temp_path {scratch}/nginx-body;
    proxy_temp_path {scratch}/nginx-proxy;
    fastcgi_temp_path {scratch}/nginx-fastcgi;
    uwsgi_temp_path {scratch}/nginx-uwsgi;
    scgi_temp_path {scratch}/nginx-scgi;
    types {{ application/json json; application/toml toml; }}
    server {{
        {listen}
        root {site};
        # Boxes PUT their status reports here (spicebox provision).
        location /reports/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 64k;
        }}
    }}
}}
""")
        self.process: subprocess.Popen[bytes] | None = None

    def access_log(self) -> str:
        return (self.scratch / "nginx-logs/access.log").read_text()

    def __enter__(self) -> Nginx:
        if not Path(NGINX).is_file():
            raise RuntimeError("nginx is missing: run `make setup` (it installs nginx-light)")
        self.process = subprocess.Popen([NGINX, "-c", str(self.conf), "-p", str(self.scratch),
                                         "-g", "daemon off;"], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not (self.scratch / "nginx.pid").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"nginx did not start: {error.strip()}")
            time.sleep(0.05)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.scratch / "nginx-body", ignore_errors=True)
