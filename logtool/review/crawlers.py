"""Forward-confirmed reverse DNS for claimed crawlers (``review --verify-crawlers-dns``).

The address's PTR name must end with one of the operator's ``domains`` and resolve back to the
same address; then the crawler is genuine, otherwise fake. A failed or timed-out look-up gives
no answer, and the ASN and published ranges decide (:mod:`logtool.detect.crawlers`). Off by
default: it sends the clients' addresses to the resolver. Each address is asked once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import lru_cache

from logtool.net import parse_ip

Resolver = Callable[[str], tuple[str, list[str]]]


def _system(ip: str) -> tuple[str, list[str]]:
    """(PTR name, addresses the name resolves to) from the system resolver."""
    name = socket.gethostbyaddr(ip)[0]
    return name, sorted({a[4][0] for a in socket.getaddrinfo(name, None)})


def dns_verifier(resolve: Resolver = _system, timeout: float = 3.0) -> Callable[[str, list[str]], bool | None]:
    """A verifier for :func:`logtool.detect.crawlers.fake_bots`; ``resolve`` is injectable."""

    @lru_cache(maxsize=65_536)
    def verify_addr(ip: str, domains: tuple[str, ...]) -> bool | None:
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            name, addrs = resolve(ip)
        except (OSError, UnicodeError):
            return None
        finally:
            socket.setdefaulttimeout(old)
        name = name.lower().rstrip(".")
        if not any(name.endswith(d.lower()) for d in domains):
            return False
        return ip in addrs

    def verify(client: str, domains: list[str]) -> bool | None:
        addr = parse_ip(client)
        if addr is None or not domains:  # a network (anonymised stage) cannot be asked
            return None
        return verify_addr(str(addr), tuple(domains))

    return verify
