"""Per-request signature detectors: one regex alternation per attack category, run vectorised
on distinct normalised request targets (path + query), referrers and user agents.

Categories: ``sqli``, ``xss``, ``traversal`` (path traversal / LFI), ``cmdi`` (command injection,
RCE), ``rfi``, ``log4shell``, ``shellshock``, ``sensitive_file`` (dotfiles, VCS, backups, admin
panels, web shells, CVE probe paths), ``scanner`` (attack-tool user agents). The rules aim at
attack *shapes*, not at one data set; ``bench/detect_eval.py`` measures them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import polars as pl

from logtool.detect.normalize import normalise
from logtool.net import parse_ip
from logtool.pipeline import LookupCache, join_back

_SQL_FN = r"(?:sleep|benchmark|pg_sleep|dbms_lock\.sleep|dbms_pipe\.receive_message|randomblob|extractvalue|updatexml|load_file|char|chr|concat|cast|convert|ascii|substring|substr|mid|ord|hex|unhex|count|version|user|database|iif|if|elt|make_set|row|generate_series|utl_inaddr\.get_host_address|ctxsys\.drithsx\.sn|xmltype|regexp_substring)"
SIGNATURES: dict[str, list[str]] = {
    "sqli": [
        r"\bunion\b.{0,60}\bselect\b",
        r"\bselect\b.{1,200}\bfrom\b",
        r"\b(?:or|and|xor|having|where)\b\s*\(*\s*['\"]?\s*-?\w+['\"]?\s*\)*\s*(?:=|<>|!=|<|>|\blike\b|\brlike\b|\bregexp\b|\bbetween\b|\bis\b)",
        r"['\"`)]\s*\)*\s*(?:\bor\b|\band\b|\|\||&&)",
        r"\b(?:or|and)\s+\d+\s*(?:=|<|>)",
        rf"\b{_SQL_FN}\s*\(",
        r"\bwaitfor\s+delay\b",
        r"\b(?:information_schema|sysobjects|syscolumns|pg_catalog|sqlite_master|xp_cmdshell|sp_executesql)\b",
        r"\binto\s+(?:out|dump)file\b",
        r";\s*(?:drop|insert|delete|update|exec|execute|declare|begin|shutdown|select|create|alter)\b",
        r"\border\s+by\s+\d+",
        r"\bgroup\s+by\b.{0,40}\bhaving\b",
        r"\bcase\s+when\b",
        r"['\"]\s*(?:--|#|;)",
        r"\bnull\s*,\s*null\b",
        r"\b(?:exec|execute)\s*(?:\(|\s+(?:master|xp_|sp_))",
        r"\bprocedure\s+analyse\b",
        r"@@\w+",
    ],
    "xss": [
        r"<\s*/?\s*(?:script|iframe|frame|object|embed|applet|svg|math|meta|link|style|base|form|isindex|xml|xss|body|html|img|image|video|audio|source|input|details|marquee|bgsound|layer|ilayer|table|td|div|a|p|b|span|br|title|textarea|keygen|button|select|option)\b",
        r"\bjavascript\s*:",
        r"\bvbscript\s*:",
        r"\blivescript\s*:",
        r"\bdata\s*:\s*text/html",
        r"\bon[a-z]{3,}\s*=",
        r"\b(?:alert|confirm|prompt|eval|settimeout|setinterval|fromcharcode|atob)\s*\(",
        r"\bdocument\s*\.\s*(?:cookie|location|write|domain)",
        r"\bwindow\s*\.\s*location",
        r"\bexpression\s*\(",
        r"\b(?:dyn|low)src\s*=",
        r"<!--.*-->",
        r"\]\]>",
        r"-->\s*<",
    ],
    "traversal": [
        r"\.\.(?:/|\\|0x5c|0x2f|;)",
        r"(?:/|\\)\.\.",
        r"\.{3,}",
        r"/etc/(?:passwd|shadow|group|hosts|issue|motd|crontab)",
        r"\b(?:boot|win|system)\.ini\b",
        r"web-inf",
        r"/proc/self/",
        r"c:(?:\\|/)",
        r"\{file\}",
        r"(?:/|\\){4,}",
    ],
    "cmdi": [
        r"(?:[;&|`]|\$\(|\|\|)\s*(?:/\w+/)*(?:id|whoami|uname|cat|ls|dir|wget|curl|nc|ncat|netcat|bash|sh|zsh|ping|sleep|echo|rm|chmod|python\d?|perl|php|ruby|nslookup|ifconfig|ipconfig|net|type|sysinfo|ps|kill|telnet|ver|systeminfo|time|powershell|cmd)\b",
        r"\$\([^)]*\)",
        r"`[^`]+`",
        r"/bin/(?:sh|bash|sleep|cat|ls|nc|busybox)\b",
        r"\b(?:cat|more|less|head|tail|type)\s+(?:/etc/|c:)",
        r"\b(?:cmd|powershell)(?:\.exe)?\s+/c\b",
        r"\|\s*(?:id|whoami|ls|dir|cat|uname)\b",
        r"(?:^|[\s;&|=(`'\"])/?(?:usr/(?:local/)?)?s?bin/[a-z][\w.-]*",  # absolute binaries: /usr/bin/id
        r"<!--\s*#\s*(?:exec|include|echo|config)\b",  # server-side includes
        r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|assert|create_function)\s*\(",
        r"\b(?:ping|ping6)(?:\.exe)?\s+-[a-z]+\s+\d+",
        r"(?:[;&|]|^)\s*(?:netstat|ifconfig|ipconfig|tasklist|taskkill|reg|wmic|certutil|bitsadmin)\b",
        r"\b(?:dir|type)\s+[a-z]:",
    ],
    "rfi": [
        r"(?:^|[?&=])(?:https?|ftps?)://[^?&]*\.(?:txt|php|sh|pl|py|jpg|gif)\?*$",
        r"(?:^|[?&=])(?:php|data|expect|zlib|phar|file|glob|input)://",
    ],
    "log4shell": [r"\$\{(?:[^}]*\$\{)*[^}]*(?:jndi|j\}?[:-]*n\}?[:-]*d\}?[:-]*i)", r"\$\{(?:lower|upper|env|sys|::-)"],
    "shellshock": [r"\(\s*\)\s*\{"],
    "sensitive_file": [
        r"/\.(?:env|git|svn|hg|bzr|aws|ssh|docker|kube|htpasswd|htaccess|ds_store|bash_history|npmrc|pypirc|vscode|idea)(?:/|$|\?)",
        # backups, dumps and keys; generic extensions (.conf, .tar.gz, .log) need the response
        # status to tell a probe from a download, so they are left to the review layer
        r"\.(?:bak|swp|swo|old|orig|save|sql|sqlite|sqlite3|mdb|pem|key|p12|pfx|kdbx)(?:$|\?)",
        r"/(?:backup|backups|site|www|web|db|database|dump|htdocs|public_html)\.(?:zip|tar|tgz|tar\.gz|rar|7z|gz)(?:$|\?)",
        r"/(?:database|secrets|credentials|parameters)\.(?:yml|yaml|json)(?:$|\?)",
        r"~$",
        r"/(?:wp-config\.php|config\.php\.bak|configuration\.php|settings\.py|local\.xml|web\.config|credentials)",
        r"/(?:phpmyadmin|pma|myadmin|adminer|manager/html|solr/admin|actuator|jmx-console|console|server-status|server-info|\.well-known/security\.txt\.php)",
        r"/(?:c99|r57|wso|b374k|shell|cmd|alfa|webshell|backdoor|up|upload)\.(?:php|asp|aspx|jsp)",
        r"/(?:cgi-bin/|vendor/phpunit/.*eval-stdin\.php|boaform/|hnap1|_ignition/execute-solution|owa/auth/|autodiscover/autodiscover\.xml)",
    ],
}

UA_SIGNATURES = {
    "scanner": r"sqlmap|nikto|nuclei|masscan|zgrab|wpscan|nmap|dirbuster|gobuster|ffuf|feroxbuster|acunetix|nessus|openvas|w3af|zmeu|l9explore|censysinspect|netsystemsresearch|jaeles|xray|arachni|skipfish|whatweb|hydra|dirb\b",
    "log4shell": SIGNATURES["log4shell"][0],
    "shellshock": SIGNATURES["shellshock"][0],
}

CATEGORIES = list(SIGNATURES) + ["scanner"]


def _alternation(patterns: list[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


_COMPILED = {cat: _alternation(p) for cat, p in SIGNATURES.items()}


def classify(values: pl.Series, ua: bool = False) -> pl.DataFrame:
    """Distinct ``values`` → one boolean column per category (request targets, or user agents)."""
    uniq = values.drop_nulls().unique()
    df = pl.DataFrame({"v": uniq}).with_columns(normalise(pl.col("v")).alias("n"))
    rules = {c: r for c, r in UA_SIGNATURES.items()} if ua else _COMPILED
    return df.select("v", *[pl.col("n").str.contains(r).alias(c) for c, r in rules.items()])


def categories(values: pl.Series, ua: bool = False) -> pl.DataFrame:
    """Per row of ``values``: the category columns (False where nothing matched)."""
    table = classify(values, ua)
    cats = [c for c in table.columns if c != "v"]
    out = pl.DataFrame({c: pl.repeat(False, values.len(), eager=True) for c in cats})
    hits = table.filter(pl.any_horizontal(cats))
    if hits.height == 0:
        return out
    # few rows are attacks: find them with one hash lookup, join only those
    idx = values.is_in(hits.get_column("v").implode()).fill_null(False).arg_true()
    sub = pl.DataFrame({"v": values.gather(idx)}).join(hits, on="v", how="left", maintain_order="left")
    return out.with_columns([out.get_column(c).scatter(idx, sub.get_column(c)) for c in cats])


#: Signature categories that also apply to the referrer (a URL the client chose to send).
REFERRER_CATEGORIES = ("sqli", "xss", "traversal", "cmdi", "log4shell", "shellshock")
#: Categories looked for in every other logged field (user, X-Forwarded-For, host).
HEADER_CATEGORIES = ("log4shell", "shellshock")
#: Every per-request category: signatures, attack-tool agents, protocol anomalies, fake bots.
REQUEST_CATEGORIES = [*CATEGORIES, "protocol", "fake_bot"]

_ABSOLUTE = r"^[A-Za-z][A-Za-z0-9+.-]*://"


def _col(df: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in df.columns else pl.lit(None, dtype=pl.String)


def protocol_anomalies(df: pl.DataFrame, rule: dict[str, Any]) -> pl.Series:
    """Requests that are not well-formed HTTP: TLS or binary junk instead of a request line,
    methods outside ``rule["methods"]``, a missing protocol, URLs longer than
    ``rule["max_url_length"]``, proxy attempts (``CONNECT``, absolute URIs).

    A missing protocol or an absolute URI only counts in files where most requests have a
    protocol and a relative target (proxies and load balancers log absolute URIs by design).
    """
    method, path, query, proto = (_col(df, c) for c in ("method", "path", "query", "protocol"))
    per_file = ["source_file"] if "source_file" in df.columns else []

    def usual(expr: pl.Expr) -> pl.Expr:  # true where the file mostly has ``expr``
        share = expr.cast(pl.Float64).mean()
        return (share.over(per_file) if per_file else share) >= 0.5

    absolute = path.str.contains(_ABSOLUTE).fill_null(False)
    has_proto = proto.is_not_null()
    url_len = path.str.len_bytes().fill_null(0) + query.str.len_bytes().fill_null(0)
    flags = (
        (method.is_null() & path.is_not_null())  # "\x16\x03\x01..." or other junk as request line
        | (method.is_not_null() & ~method.is_in(list(rule["methods"])))
        | (method == "CONNECT")
        | (absolute & usual(~absolute))
        | (method.is_not_null() & ~has_proto & usual(has_proto))
        | (url_len > int(rule["max_url_length"]))
    )
    return df.select(flags.fill_null(False).alias("protocol")).to_series()


def _in_any(text: str, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Is an address (raw stage) or a network (anonymised stage) inside one of ``nets``?"""
    try:
        value = ipaddress.ip_network(text, strict=False)
    except ValueError:
        addr = parse_ip(text)
        if addr is None:
            return False
        value = ipaddress.ip_network(addr)
    return any(value.version == n.version and value.subnet_of(n) for n in nets)  # type: ignore[arg-type]


def fake_bots(
    df: pl.DataFrame, rules: dict[str, Any], client: str = "client_ip", memo: SignatureMemo | None = None
) -> pl.Series:
    """Requests whose user agent claims a search-engine crawler (``rules[name]["user_agent"]``)
    from outside that crawler's published networks (``rules[name]["networks"]``)."""
    ua = _agent_column(df)
    out = pl.repeat(False, df.height, eager=True)
    if client not in df.columns or ua not in df.columns:
        return out.alias("fake_bot")
    agents = df.get_column(ua).drop_nulls().unique()  # regexes run on distinct user agents only
    for name, bot in rules.items():
        claiming = agents.filter(agents.str.contains(f"(?i){bot['user_agent']}"))
        if claiming.len() == 0:
            continue
        claims = df.get_column(ua).is_in(claiming.implode()).fill_null(False)
        clients = df.get_column(client).filter(claims).drop_nulls().unique()
        if memo is None:
            nets = [ipaddress.ip_network(n) for n in bot["networks"]]
            genuine = {c for c in clients.to_list() if _in_any(c, nets)}
        else:
            genuine = memo.genuine(name, bot["networks"], clients.to_list())
        out = out | (claims & ~df.get_column(client).is_in(list(genuine)).fill_null(False))
    return out.alias("fake_bot")


def request_target() -> pl.Expr:
    """``path?query`` (or the path alone) of canonical records."""
    return (
        pl.when(pl.col("query").is_null()).then(pl.col("path")).otherwise(pl.concat_str(["path", pl.lit("?"), "query"]))
    )


def _agent_column(df: pl.DataFrame) -> str:
    """The user agent in the raw stage, its family in the anonymised stage."""
    return "user_agent" if "user_agent" in df.columns else "ua_family"


class SignatureMemo:
    """What the signatures found in distinct values, kept across the batches of one input
    (ingest): each distinct request target, user agent, referrer or header value is classified
    once, each client claiming a crawler checked once. Bounded: a table that would outgrow
    ``max_values`` starts again."""

    def __init__(self, max_values: int = 200_000) -> None:
        self._tables = {ua: LookupCache("v", lambda s, ua=ua: classify(s, ua), max_values) for ua in (False, True)}
        self._genuine: dict[str, dict[str, bool]] = {}
        self._max = max_values

    def classify(self, values: pl.Series, ua: bool = False) -> pl.DataFrame:
        """:func:`classify` of the distinct ``values`` (and of values seen before)."""
        return self._tables[ua].update(values)

    def genuine(self, bot: str, networks: list[str], clients: list[str]) -> set[str]:
        """The ``clients`` inside the crawler's ``networks``."""
        known = self._genuine.setdefault(bot, {})
        if len(known) + len(clients) > self._max:
            known.clear()
        new = [c for c in clients if c not in known]
        if new:
            nets = [ipaddress.ip_network(n) for n in networks]
            known.update((c, _in_any(c, nets)) for c in new)
        return {c for c in clients if known[c]}


def request_flags(df: pl.DataFrame, rules: dict[str, Any], memo: SignatureMemo | None = None) -> pl.DataFrame:
    """Per row of a raw- or anonymised-stage frame, one boolean column per
    :data:`REQUEST_CATEGORIES`: signatures over path + query, referrer and user agent (the
    family in the anonymised stage), Log4Shell and Shellshock also in the user, X-Forwarded-For
    and host fields, protocol anomalies and fake crawlers.

    The regexes run on distinct values only (and, with a ``memo``, on values not seen in earlier
    batches); each row then needs one hash lookup per source, and only the rows found are
    classified per category."""
    memo = memo or SignatureMemo()
    ua = _agent_column(df)
    sources: list[tuple[pl.Series, bool, tuple[str, ...]]] = [
        (df.select(request_target()).to_series(), False, tuple(SIGNATURES))
    ]
    if ua in df.columns:
        sources.append((df.get_column(ua), True, tuple(UA_SIGNATURES)))
    if "referrer" in df.columns:
        sources.append((df.get_column("referrer"), False, REFERRER_CATEGORIES))
    for other in ("remote_user", "xff", "vhost"):  # Log4Shell and Shellshock hide in any logged header
        if other in df.columns and df.get_column(other).null_count() < df.height:
            sources.append((df.get_column(other), False, HEADER_CATEGORIES))
    # rows whose value in some source is a known hit (few): only they are classified per category
    hits: list[tuple[pl.Series, pl.DataFrame]] = []
    candidate = pl.repeat(False, df.height, eager=True)
    for source, is_ua, cats in sources:
        table = memo.classify(source, is_ua).select("v", *cats)
        table = table.filter(pl.any_horizontal(cats))
        if table.height:
            hits.append((source, table))
            candidate = candidate | source.is_in(table.get_column("v").implode()).fill_null(False)
    cols = pl.DataFrame({c: pl.repeat(False, df.height, eager=True) for c in CATEGORIES})
    if hits:
        rows = candidate.arg_true()
        found = pl.DataFrame({c: pl.repeat(False, rows.len(), eager=True) for c in CATEGORIES})
        for source, table in hits:
            sub = join_back(pl.DataFrame({"v": source.gather(rows)}), table).fill_null(False)
            found = found.with_columns((pl.col(c) | sub.get_column(c)).alias(c) for c in sub.columns)
        cols = cols.with_columns(cols.get_column(c).scatter(rows, found.get_column(c)) for c in CATEGORIES)
    client = "client_ip" if "client_ip" in df.columns else "client_net"
    return cols.with_columns(protocol_anomalies(df, rules["protocol"]), fake_bots(df, rules["fake_bot"], client, memo))
