"""Review rules: the shipped ``rules.toml`` (thresholds, severities, crawler networks), with a
user's file laid over it."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from logtool.detect.validate import validate
from logtool.errors import ConfigError

SEVERITIES = ("low", "medium", "high")
_MERGED_SECTIONS = ("fake_bot",)  # sections whose entries users add to rather than replace


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped rules, with a user's rules file laid over them (same sections and keys)."""
    rules = tomllib.loads(resources.files("logtool.detect").joinpath("rules.toml").read_text())
    if not path:
        return rules
    try:
        user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"review rules {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"review rules {path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"review rules {path}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"review rules {path}: nested too deeply to be a rules file") from None
    for section, values in user.items():
        if section not in rules or not isinstance(values, dict):
            raise ConfigError(f"review rules {path}: unknown section [{section}] (known: {', '.join(rules)})")
        if section not in _MERGED_SECTIONS:
            unknown = set(values) - set(rules[section])
            if unknown:
                known = ", ".join(rules[section])
                raise ConfigError(
                    f"review rules {path}: unknown key(s) {sorted(unknown)} in [{section}] (known: {known})"
                )
            for key, value in values.items():
                if type(value) is not type(rules[section][key]) and not (
                    isinstance(value, int | float) and isinstance(rules[section][key], int | float)
                ):
                    raise ConfigError(f"review rules {path}: [{section}] {key} must be like {rules[section][key]!r}")
                if section == "severity" and value not in SEVERITIES:
                    raise ConfigError(f"review rules {path}: [severity] {key} must be one of {', '.join(SEVERITIES)}")
        rules[section] = {**rules[section], **values}
    validate(rules, str(path))
    return rules
