"""The egress policy of server-side HTTP (polling sensors, notification channels, the builder's
``http_fetch`` and ``webhook_post`` nodes): a URL whose host resolves to a loopback, private,
link-local (cloud metadata: 169.254.169.254), shared, reserved or multicast address is refused,
unless ``DAGY_EGRESS_ALLOW`` names it (addresses or CIDR ranges, comma-separated).

Every address the host resolves to is checked, and the connection is made to a checked address
(no second lookup a DNS answer could change in between). Redirects go through the same opener,
so a redirect into a refused range is refused too. A refusal is an ``EgressRefused`` (an
``OSError``), which urllib reports as a ``URLError`` like any connection failure. Standard library
only: ``dagy --help`` imports nothing heavy.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from typing import Any

from dagy.config import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(OSError):
    """The host is in a range the policy refuses."""


def allow_list(raw: str | None = None) -> list[Network]:
    text = settings.EGRESS_ALLOW.get() if raw is None else raw
    nets: list[Network] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            from dagy.errors import ConfigError

            raise ConfigError(
                f"DAGY_EGRESS_ALLOW must list addresses or CIDR ranges, got {part!r}"
            ) from None
    return nets


def allowed(address: str, nets: list[Network] | None = None) -> bool:
    """True when the policy lets a connection reach ``address`` (an IP literal)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in (allow_list() if nets is None else nets)):
        return True
    return ip.is_global and not ip.is_multicast


def check_host(host: str, port: int | None = None) -> list[tuple[Any, ...]]:
    """The addresses of ``host`` (getaddrinfo entries), all of them allowed; else EgressRefused."""
    try:
        infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
    nets = allow_list()
    for info in infos:
        address = str(info[4][0])
        if not allowed(address, nets):
            raise EgressRefused(
                f"{host} resolves to {address}, a private, loopback or link-local address: "
                "refused by the egress policy (DAGY_EGRESS_ALLOW names allowed ones)"
            )
    return infos


def _connect(address: tuple[str, int], timeout: Any = None, source_address: Any = None) -> Any:
    host, port = address
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in check_host(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot connect to {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


_OPENER: urllib.request.OpenerDirector | None = None


def urlopen(request: urllib.request.Request | str, timeout: float) -> Any:
    """``urllib.request.urlopen`` under the policy (redirects included)."""
    global _OPENER
    if _OPENER is None:
        _OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)
    return _OPENER.open(request, timeout=timeout)
