"""Which webhook URLs Paystate will call: http or https, and - unless private targets are allowed
(``TEST_MODE`` or ``WEBHOOK_ALLOW_PRIVATE``) - only hosts that resolve to public addresses.

The check runs twice: when a merchant saves the URL (``check_webhook_url``, a clear 400) and on
every connection the sender opens (``GuardedResolver`` and ``check_literal_host``), so a name that
later resolves to a private address (DNS rebinding) is refused at send time too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ...machines.errors import ValidationError

MAX_URL_LENGTH = 2048
PRIVATE_REFUSAL = ("webhook url must not point to a loopback, private or link-local address"
                   " (WEBHOOK_ALLOW_PRIVATE=true allows it, for a receiver on your own machine)")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_webhook_url(url: Any) -> SplitResult:
    """Syntax only: an absolute http(s) URL with a host and no credentials."""
    if not isinstance(url, str):
        raise ValidationError("url must be a string", param="url")
    if not url or len(url) > MAX_URL_LENGTH or url != url.strip():
        raise ValidationError(f"url must be 1 to {MAX_URL_LENGTH} characters without spaces",
                              param="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
        host = parts.hostname
    except ValueError:
        # "http://[::1", "http://[zz]/", "http://h:99999/": urllib refuses them while parsing.
        raise ValidationError("url is not a valid URL", param="url") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("url must be an http or https URL", param="url")
    if not host:
        raise ValidationError("url must name a host", param="url")
    if literal_address(host) is None and not _valid_hostname(host):
        raise ValidationError("url must name a valid host", param="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("url must not contain credentials", param="url")
    if any(ch.isspace() for ch in url):
        raise ValidationError("url must not contain spaces", param="url")
    return parts


_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.ASCII)


def _valid_hostname(host: str) -> bool:
    """A DNS name (internationalised names through IDNA), or an IP literal."""
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def is_forbidden(address: Address) -> bool:
    """Loopback, private, link-local, unspecified, multicast, reserved or otherwise not
    globally routable (an IPv4 address mapped into IPv6 is judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_unspecified or address.is_reserved
            or not address.is_global)


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_literal_host(host: str) -> None:
    """Refuse a URL whose host is a forbidden IP literal (resolvers never see literals)."""
    address = literal_address(host)
    if address is not None and is_forbidden(address):
        raise ValidationError(PRIVATE_REFUSAL, param="url")


async def check_webhook_url(url: Any, allow_private: bool, timeout: float = 3.0) -> str:
    """The URL to store, or ``ValidationError``. Resolves the host on the running loop when
    private targets are not allowed; a host that does not resolve is refused."""
    parts = parse_webhook_url(url)
    if allow_private:
        return str(url)
    host = parts.hostname or ""
    if literal_address(host) is not None:
        check_literal_host(host)
        return str(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                             type=socket.SOCK_STREAM), timeout)
    except (TimeoutError, OSError, UnicodeError):
        raise ValidationError("webhook url host cannot be resolved", param="url") from None
    if not infos or any(is_forbidden(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
                        for info in infos):
        raise ValidationError(PRIVATE_REFUSAL, param="url")
    return str(url)


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses names resolving to any forbidden address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if is_forbidden(ipaddress.ip_address(result["host"].split("%")[0])):
                raise OSError(PRIVATE_REFUSAL)
        return results

    async def close(self) -> None:
        await self._inner.close()
