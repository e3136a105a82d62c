"""The retention and anonymisation policy: defaults, presets, TOML file, environment, flags.

Precedence: explicit overrides (CLI flags) > ``LOGTOOL_*`` environment > TOML file > defaults.
Every value is validated here, with an error that names where the bad value came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from logtool.errors import ConfigError

#: Parameters whose values are always redacted (glob patterns, case-insensitive).
DEFAULT_SENSITIVE_PARAMS: tuple[str, ...] = (
    "token",
    "*_token",
    "*-token",
    "key",
    "*_key",
    "*-key",
    "apikey",
    "password",
    "*_password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "*_secret",
    "session",
    "session_*",
    "sessionid",
    "sid",
    "*sessid",
    "auth",
    "auth_*",
    "authorization",
    "code",
    "email",
    "e-mail",
    "mail",
    "phone",
    "tel",
    "mobile",
    "user",
    "username",
    "*username",
    "*_user",
    "user_id",
    "userid",
    "uid",
    "login",
    "signature",
    "sig",
    "otp",
    "ssn",
    "iban",
    "card",
    "card_*",
    "cardnumber",
    "cc",
    "jwt",
    "hash",
    # where a visitor is, and which device: as identifying as an address
    "lat",
    "lon",
    "lng",
    "long",
    "latitude",
    "longitude",
    "*_lat",
    "*_lon",
    "*_lng",
    "geo",
    "geo_*",
    "geoloc*",
    "gps",
    "location",
    "coords",
    "position",
    "device_id",
    "deviceid",
    "device-id",
    "udid",
    "imei",
    "imsi",
    "msisdn",
    "idfa",
    "idfv",
    "gaid",
    "adid",
    "aaid",
    "advertising_id",
    "android_id",
    "mac",
)

#: Named IP truncation presets: (IPv4 prefix, IPv6 prefix).
IP_PRESETS: dict[str, tuple[int, int]] = {"default": (24, 48), "strict": (16, 32)}


@dataclass(frozen=True)
class Policy:
    """What logtool keeps, for how long, and how coarsely."""

    raw_days: int = 7
    anonymised_days: int = 90
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    query_allowlist: tuple[str, ...] = ("utm_*",)
    #: Parameters whose values are redacted in paths, queries and referrers (glob patterns).
    sensitive_params: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS
    #: Aggregate groups with fewer requests than this are folded into "(other)" in reports.
    min_group_size: int = 5
    #: Keys kept per day and dimension in the aggregates (paths, referrers, ...).
    top_n: int = 1000
    #: MaxMind-format country database; empty means the embedded public-domain one.
    geoip_db: str = ""
    #: A TOML file laid over the shipped review rules (thresholds, severities, crawler networks).
    review_rules: str = ""
    #: Days a conversation record (chat, call, transcript) keeps full detail.
    conversations_raw_days: int = 30
    #: Days an anonymised conversation record is kept, counted from its time.
    conversations_anonymised_days: int = 90
    #: What the anonymised stage keeps of transcripts and chat text: "redact" or "drop".
    conversation_text: str = "redact"
    #: Region (ISO 3166 code) for phone numbers written without a country code.
    phone_region: str = "DE"
    #: ``logtool anonymize``: query parameters kept in request targets and referrers (glob
    #: patterns); empty keeps every parameter (sensitive values redacted).
    anonymize_query_allowlist: tuple[str, ...] = ()

    def kept_days(self) -> dict[str, int]:
        """Stage → days its rows are kept, counted from their time (the quarantine follows the raw
        window; aggregates are kept for good)."""
        return {"raw": self.raw_days, "anonymised": self.anonymised_days, "quarantine": self.raw_days,
                "conv_raw": self.conversations_raw_days, "conv_anonymised": self.conversations_anonymised_days}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["query_allowlist"] = list(self.query_allowlist)
        d["sensitive_params"] = list(self.sensitive_params)
        d["anonymize_query_allowlist"] = list(self.anonymize_query_allowlist)
        return d


_DOCS = {
    "raw_days": "days a record keeps full detail (the security window)",
    "anonymised_days": "days an anonymised record is kept before deletion",
    "ipv4_prefix": "IPv4 prefix length kept after anonymisation",
    "ipv6_prefix": "IPv6 prefix length kept after anonymisation",
    "query_allowlist": "query parameters (glob patterns) kept after anonymisation",
    "sensitive_params": "parameters (glob patterns) whose values are always redacted",
    "min_group_size": "aggregate groups smaller than this are reported as (other)",
    "top_n": "keys kept per day and dimension in the aggregates",
    "geoip_db": "MaxMind-format country database (empty: embedded default)",
    "review_rules": "TOML file overriding the shipped review rules (empty: shipped rules only)",
    "conversations_raw_days": "days a conversation record (chat, call, transcript) keeps full detail",
    "conversations_anonymised_days": "days an anonymised conversation record is kept before deletion",
    "conversation_text": "anonymised transcripts and chat text: redact (personal data marked) or drop",
    "phone_region": "region of phone numbers written without a country code (ISO 3166, e.g. DE)",
    "anonymize_query_allowlist": "anonymize: query parameters (glob patterns) kept; empty keeps all",
}

#: Settings that take one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {"conversation_text": ("redact", "drop")}


def describe() -> dict[str, str]:
    """One line of documentation per policy key."""
    return dict(_DOCS)


def _coerce(name: str, value: Any, source: str) -> Any:
    f = {f.name: f for f in fields(Policy)}.get(name)
    if f is None:
        known = ", ".join(sorted(_DOCS))
        raise ConfigError(f"{source}: unknown setting {name!r} (known: {known})")
    default = f.default
    try:
        if isinstance(default, bool):
            raise TypeError
        if isinstance(default, int):
            if isinstance(value, str):
                value = int(value.strip())
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            return value
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(value)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise TypeError
            if name in CHOICES and value not in CHOICES[name]:
                raise ConfigError(f"{source}: {name} must be one of {', '.join(CHOICES[name])}, got {value!r}")
            if name == "phone_region" and not (len(value) == 2 and value.isalpha()):
                raise ConfigError(f"{source}: phone_region must be a two-letter region code, got {value!r}")
            return value.upper() if name == "phone_region" else value
    except (TypeError, ValueError):
        pass
    kind = type(default).__name__ if not isinstance(default, tuple) else "list of strings"
    raise ConfigError(f"{source}: {name} must be {kind}, got {value!r}")


#: Allowed ranges of the integer settings.
RANGES: dict[str, tuple[int, int]] = {
    "raw_days": (0, 36_500),
    "anonymised_days": (0, 36_500),
    "ipv4_prefix": (0, 32),
    "ipv6_prefix": (0, 128),
    "min_group_size": (1, 1_000_000),
    "top_n": (1, 1_000_000),
    "conversations_raw_days": (0, 36_500),
    "conversations_anonymised_days": (0, 36_500),
}
#: Other spellings accepted for a setting (American English).
ALIASES = {"anonymized_days": "anonymised_days"}
PRESET = "ip_preset"

#: Policy flags of the CLI: setting → (option names, type, help). Commands offer the ones they use.
POLICY_FLAGS: dict[str, tuple[tuple[str, ...], Any, str]] = {
    "raw_days": (("--raw-days",), int, "Days of full detail (default 7)."),
    "anonymised_days": (("--anonymised-days", "--anonymized-days"), int, "Days anonymised rows are kept (default 90)."),
    "ipv4_prefix": (("--ipv4-prefix",), int, "IPv4 prefix kept on anonymisation (default 24)."),
    "ipv6_prefix": (("--ipv6-prefix",), int, "IPv6 prefix kept on anonymisation (default 48)."),
    PRESET: (("--ip-preset",), None, "Prefix preset: default (/24, /48) or strict (/16, /32)."),
    "geoip_db": (("--geoip-db",), None, "MaxMind-format country database (GeoLite2, DB-IP)."),
    "conversations_raw_days": (("--conversations-raw-days",), int, "Days of full conversation detail (default 30)."),
    "conversations_anonymised_days": (
        ("--conversations-anonymised-days",),
        int,
        "Days anonymised conversation records are kept (default 90).",
    ),
    "conversation_text": (("--conversation-text",), None, "Anonymised conversation text: redact or drop."),
    "anonymize_query_allowlist": (
        ("--query-allowlist",),
        str,
        "Keep only these query parameters (comma-separated globs, e.g. 'utm_*,page').",
    ),
}


def _check_range(name: str, value: Any, source: str) -> None:
    lo, hi = RANGES.get(name, (None, None))
    if lo is not None and not lo <= value <= hi:  # type: ignore[operator]
        raise ConfigError(f"{source}: {name} must be between {lo:,} and {hi:,}, got {value}")


def read_toml(path: Path) -> dict[str, Any]:
    """Settings from a TOML file: top-level keys or a ``[policy]`` table."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    table = data.get("policy", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [policy] must be a table")
    return dict(table)


def preset_values(name: str, source: str = "ip preset") -> dict[str, int]:
    if name not in IP_PRESETS:
        raise ConfigError(f"{source}: unknown IP preset {name!r} (known: {', '.join(IP_PRESETS)})")
    v4, v6 = IP_PRESETS[name]
    return {"ipv4_prefix": v4, "ipv6_prefix": v6}


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in [*_DOCS, *ALIASES, PRESET]:
        key = f"LOGTOOL_{name.upper()}"
        if key in env:
            out[name] = env[key]
    return out


@dataclass
class PolicySource:
    """The effective policy and where each value came from."""

    policy: Policy
    origins: dict[str, str] = field(default_factory=dict)


def _resolve(layer: dict[str, Any], source: str, env: bool) -> dict[str, tuple[Any, str]]:
    """One source's settings, aliases and the IP preset resolved: name → (value, label). Two
    keys of one source that set the same thing are an error naming both."""

    def label(key: str) -> str:
        if env:
            return f"LOGTOOL_{key.upper()}"
        return f"--{key.replace('_', '-')}" if source == "flag" else source

    out: dict[str, tuple[Any, str]] = {}
    spelled: dict[str, str] = {}
    for key, raw in layer.items():
        name = ALIASES.get(key, key)
        if name in spelled:
            raise ConfigError(f"{source}: {spelled[name]} and {key} both set {name}; keep one")
        spelled[name] = key
        if name == PRESET:
            continue
        out[name] = (_coerce(name, raw, label(key)), label(key))
    if PRESET in spelled:
        preset = str(layer[spelled[PRESET]])
        clash = [k for k in ("ipv4_prefix", "ipv6_prefix") if k in out]
        if clash:
            names = " and ".join(label(k) if env or source == "flag" else k for k in clash)
            raise ConfigError(f"{source}: {label(PRESET) if env or source == 'flag' else PRESET} and {names} "
                              "both set the prefixes; keep one")  # fmt: skip
        for name, value in preset_values(preset, label(PRESET)).items():
            out[name] = (value, label(PRESET))
    return out


def load_policy(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PolicySource:
    """Build the effective policy. ``overrides`` are CLI flags (None values are ignored)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    origins = {name: "default" for name in _DOCS}
    layers: list[tuple[str, dict[str, Any], bool]] = []
    if config_file is not None:
        layers.append((str(config_file), read_toml(config_file), False))
    layers.append(("environment", from_env(env), True))
    layers.append(("flag", {k: v for k, v in (overrides or {}).items() if v is not None}, False))
    for source, layer, is_env in layers:
        for name, (value, label) in _resolve(layer, source, is_env).items():
            _check_range(name, value, label)
            values[name] = value
            origins[name] = source
    return PolicySource(Policy(**values), origins)


def default_config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """``$LOGTOOL_CONFIG``, else ``./logtool.toml`` if it exists, else none."""
    env = os.environ if env is None else env
    if env.get("LOGTOOL_CONFIG"):
        return Path(env["LOGTOOL_CONFIG"])
    local = Path("logtool.toml")
    return local if local.is_file() else None
