"""Evidence bundles: the rows of an incident hold, the hold record and a SHA-256 manifest.

``logtool hold export ID -o DIR`` writes ``rows.parquet``, ``rows.csv``, ``hold.json`` and
``manifest.json``; ``logtool hold verify-bundle DIR`` recomputes every checksum and reports a
changed, missing or extra file.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from logtool import __version__
from logtool.errors import ConfigError, InputError
from logtool.governance.holds import held_rows
from logtool.schema import iso_times
from logtool.store import Store
from logtool.store.files import file_sha256

MANIFEST = "manifest.json"


def export_bundle(store: Store, hold_id: str, out_dir: Path, now: datetime) -> dict[str, object]:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} is not empty: choose a new folder for the evidence bundle")
    h, rows = held_rows(store, hold_id, now, "hold-export", bundle=out_dir.name)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    rows.write_parquet(out_dir / "rows.parquet")
    iso_times(rows).write_csv(out_dir / "rows.csv")
    (out_dir / "hold.json").write_text(json.dumps(h.to_dict(now), indent=2) + "\n")
    files = {p.name: file_sha256(p) for p in sorted(out_dir.iterdir()) if p.name != MANIFEST}
    manifest = {
        "hold": h.id,
        "created_at": now.isoformat(),
        "rows": rows.height,
        "logtool": __version__,
        "sha256": files,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    for p in out_dir.iterdir():
        p.chmod(0o600)
    return manifest


def verify_bundle(out_dir: Path) -> list[str]:
    """Problems found in a bundle; an empty list means every file is as exported."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
        expected: dict[str, str] = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{out_dir}: no readable {MANIFEST}: {e}") from None
    problems = []
    for name, digest in sorted(expected.items()):
        path = out_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif file_sha256(path) != digest:
            problems.append(f"{name}: content changed (SHA-256 differs from the manifest)")
    present = {p.name for p in out_dir.iterdir()} - {MANIFEST}
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(expected))]
    return problems
