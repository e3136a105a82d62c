"""Evidence bundles: the rows of an incident hold, the hold record and a SHA-256 manifest.

``logtool hold export ID -o DIR`` writes ``rows.parquet``, ``rows.csv``, ``hold.json`` and
``manifest.json`` (and ``conversations.parquet`` and ``.csv`` when the hold keeps chat-bot or
call-bot records); ``logtool hold verify-bundle DIR`` recomputes every checksum and reports a
changed, missing or extra file. The folder is owner-only (0700) and every file is created
0600 whatever the umask; the CSV files cannot start a spreadsheet formula (values as in the
Parquet files otherwise).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from logtool import __version__
from logtool.errors import ConfigError, InputError, OutputError
from logtool.escape import csv_safe_frame
from logtool.governance.holds import held_evidence
from logtool.schema import iso_times
from logtool.store import Store
from logtool.store.files import file_sha256

MANIFEST = "manifest.json"


def export_bundle(store: Store, hold_id: str, out_dir: Path, now: datetime) -> dict[str, object]:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} is not empty: choose a new folder for the evidence bundle")
    h, rows, conv = held_evidence(store, hold_id, now, "hold-export", bundle=out_dir.name)
    tables = [("rows", rows)] + ([("conversations", conv)] if conv.height else [])
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(out_dir, 0o700)
        for name, df in tables:
            with _private(out_dir / f"{name}.parquet") as f:
                df.write_parquet(f)
            with _private(out_dir / f"{name}.csv") as f:
                csv_safe_frame(iso_times(df)).write_csv(f)
        with _private(out_dir / "hold.json") as f:
            f.write((json.dumps(h.to_dict(now), indent=2) + "\n").encode())
    except OSError as e:
        raise OutputError(f"cannot write the evidence bundle {out_dir}: {e.strerror or e}") from None
    files = {p.name: file_sha256(p) for p in sorted(out_dir.iterdir()) if p.name != MANIFEST}
    manifest = {
        "hold": h.id,
        "created_at": now.isoformat(),
        "rows": rows.height,
        "conversation_records": conv.height,
        "logtool": __version__,
        "sha256": files,
    }
    with _private(out_dir / MANIFEST) as f:
        f.write((json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _private(path: Path) -> BinaryIO:
    """A new file, owner-only from its creation (never world-readable, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


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
