"""A held incident's addresses as firewall input: plain lines, ipset commands, an nftables set."""

from __future__ import annotations

import enum
from typing import assert_never

from logtool.net import Network


class BlocklistStyle(enum.StrEnum):
    nftables = "nftables"
    ipset = "ipset"
    plain = "plain"


def render_blocklist(nets: list[Network], style: BlocklistStyle) -> str:
    def text(n: Network) -> str:
        return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)

    v4 = [text(n) for n in nets if n.version == 4]
    v6 = [text(n) for n in nets if n.version == 6]
    if style is BlocklistStyle.plain:
        return "".join(f"{a}\n" for a in v4 + v6)
    if style is BlocklistStyle.ipset:
        lines = [
            "create logtool-block hash:net family inet -exist",
            "create logtool-block6 hash:net family inet6 -exist",
        ]
        lines += [f"add logtool-block {a} -exist" for a in v4] + [f"add logtool-block6 {a} -exist" for a in v6]
        return "\n".join(lines) + "\n"
    if style is BlocklistStyle.nftables:
        out = [
            "table inet logtool {",
            "  set block4 { type ipv4_addr; flags interval; }",
            "  set block6 { type ipv6_addr; flags interval; }",
            "}",
        ]
        if v4:
            out.append(f"add element inet logtool block4 {{ {', '.join(v4)} }}")
        if v6:
            out.append(f"add element inet logtool block6 {{ {', '.join(v6)} }}")
        return "\n".join(out) + "\n"
    assert_never(style)
