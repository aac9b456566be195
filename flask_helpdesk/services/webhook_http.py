"""One HTTP POST to a webhook receiver, guarded: no redirects followed, and no requests to
private, loopback, link-local or otherwise internal addresses unless the config allows them
(``HELPDESK_WEBHOOK_ALLOW_PRIVATE``), so an endpoint URL cannot make the server probe its own
network (SSRF). The connection goes to the address that was checked, not to a second lookup.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

READ_LIMIT = 64 * 1024  # of the receiver's answer; the log keeps less


@dataclass
class Result:
    status: int | None
    body: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Refused(Exception):
    pass


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to; :class:`Refused` for an internal one (when not allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"cannot resolve {host}: {error}") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        internal = [a for a in addresses if not _public(a)]
        if internal:
            raise Refused(f"{host} resolves to a non-public address ({internal[0]})")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the host name for SNI and certificate checks."""

    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> Result:
    """POST *body* to *url*; a 3xx is a failure like any non-2xx (never followed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Result(None, error="not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve(parts.hostname, port, allow_private)
    except Refused as error:
        return Result(None, error=str(error))
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(address, parts.hostname, port, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(READ_LIMIT).decode("utf-8", "replace")
        return Result(response.status, text)
    except (OSError, http.client.HTTPException) as error:
        return Result(None, error=f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()
