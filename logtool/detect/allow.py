"""Allow-lists (fail2ban's ``ignoreip``): what a reviewer has decided not to be told about again.

``[allow]`` in the review rules: ``networks`` (clients whose findings are hidden), ``paths``
(glob patterns) and ``user_agents`` (case-insensitive regular expressions) whose requests are
left out of per-request findings and of the behavioural counts, and ``findings``
(``detector/category`` or ``category``) never reported. Hidden findings are counted, so the
output can say "n suppressed".
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from logtool.errors import ConfigError
from logtool.net import Network, inside_any


@dataclass(frozen=True)
class Allow:
    networks: tuple[Network, ...] = ()
    paths: str | None = None  # one regex for every glob
    user_agents: str | None = None
    findings: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.networks or self.paths or self.user_agents or self.findings)


def _strings(rule: dict[str, Any], key: str) -> list[str]:
    values = rule.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"review rules: [allow] {key} must be a list of strings")
    return values


def compile_allow(rule: dict[str, Any] | None) -> Allow:
    """The ``[allow]`` section, checked: a bad network or regular expression is a ConfigError."""
    rule = rule or {}
    nets = []
    for n in _strings(rule, "networks"):
        try:
            nets.append(ipaddress.ip_network(n.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"review rules: [allow] networks: {n!r} is not an address or network") from None
    paths = _strings(rule, "paths")
    agents = _strings(rule, "user_agents")
    ua_rx = None
    if agents:
        ua_rx = "(?i)" + "|".join(f"(?:{a})" for a in agents)
        try:
            pl.select(pl.lit("x").str.contains(ua_rx))
        except pl.exceptions.ComputeError as e:
            raise ConfigError(f"review rules: [allow] user_agents: not a valid regular expression: {e}") from None
    path_rx = "|".join(f"(?:{_glob(p)})" for p in paths)
    return Allow(tuple(nets), f"^(?:{path_rx})$" if paths else None, ua_rx, frozenset(_strings(rule, "findings")))


def _glob(pattern: str) -> str:
    """A glob as a regex fragment polars understands (``fnmatch`` without its ``(?s:…)\\Z`` frame)."""
    rx = fnmatch.translate(pattern)
    return rx.removeprefix("(?s:").removesuffix(")\\Z")


def allowed_rows(df: pl.DataFrame, allow: Allow) -> pl.Series:
    """Rows whose path or user agent the allow-list names."""
    mask = pl.repeat(False, df.height, eager=True)
    if allow.paths and "path" in df.columns:
        mask = mask | df.get_column("path").str.contains(allow.paths).fill_null(False)
    ua = "user_agent" if "user_agent" in df.columns else "ua_family"
    if allow.user_agents and ua in df.columns:
        mask = mask | df.get_column(ua).str.contains(allow.user_agents).fill_null(False)
    return mask


def client_allowed(client: str, allow: Allow) -> bool:
    """Is a finding's client (an address, a network, a vhost) inside an allowed network?"""
    return bool(allow.networks) and inside_any(client, allow.networks)


def finding_allowed(detector: str, category: str, client: str, allow: Allow) -> bool:
    return f"{detector}/{category}" in allow.findings or category in allow.findings or client_allowed(client, allow)
