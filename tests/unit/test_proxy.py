"""HTTP CONNECT: the request the client sends and what it makes of the proxy's answer."""

from __future__ import annotations

import pytest

from spicebox.config.target import ConfigError
from spicebox.net.proxy import Proxy, ProxyRefused, check_reply


def test_request_names_the_tunnel_target_even_with_colons_in_it() -> None:
    proxy = Proxy.parse("http://192.0.2.10:3128")
    assert (proxy.host, proxy.port, proxy.credentials) == ("192.0.2.10", 3128, None)
    # Proxmox's tunnel target holds a ticket, colons and all; spiceproxy reads it whole.
    assert proxy.request("pvespiceproxy:6A:100:pve1::ab", 61000) == (
        b"CONNECT pvespiceproxy:6A:100:pve1::ab:61000 HTTP/1.1\r\n"
        b"Host: pvespiceproxy:6A:100:pve1::ab:61000\r\n\r\n")
    assert proxy.request("::1", 5900).startswith(b"CONNECT [::1]:5900 HTTP/1.1\r\n")


def test_basic_credentials_from_the_url() -> None:
    proxy = Proxy.parse("http://me:p%40ss@proxy:8080")
    assert proxy.credentials == "me:p@ss"
    assert b"Proxy-Authorization: Basic bWU6cEBzcw==\r\n" in proxy.request("h", 1)


@pytest.mark.parametrize("url", ["socks5://p:1080", "http://p", "http://:1", "p:1"])
def test_only_http_proxies_with_a_port(url: str) -> None:
    with pytest.raises(ConfigError, match="http://HOST:PORT"):
        Proxy.parse(url)


def test_a_2xx_reply_opens_the_tunnel() -> None:
    check_reply(b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n")
    check_reply(b"HTTP/1.0 200 OK\r\n\r\n")


@pytest.mark.parametrize(("head", "words"), [
    (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "407 Proxy Authentication "
                                                           "Required: it wants credentials"),
    (b"HTTP/1.1 403 Forbidden\r\n\r\n", "does not allow this server"),
    (b"HTTP/1.1 502 Bad Gateway\r\n\r\n", "refused the tunnel: 502 Bad Gateway"),
    (b"REDQ\x00\x00\x00\x02\r\n\r\n", "is it an HTTP proxy?"),
])
def test_anything_else_is_refused_with_the_reason(head: bytes, words: str) -> None:
    with pytest.raises(ProxyRefused, match=words):
        check_reply(head)


def test_a_refused_url_is_shown_without_its_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        Proxy.parse("https://kiosk:s3cret@proxy.lan:3128")
    assert "s3cret" not in str(caught.value) and "proxy.lan:3128" in str(caught.value)
