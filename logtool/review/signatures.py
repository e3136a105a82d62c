"""Per-request signature detectors: one regex alternation per attack category, run vectorised
on distinct normalised request targets (path + query), referrers and user agents.

Categories: ``sqli``, ``xss``, ``traversal`` (path traversal / LFI), ``cmdi`` (command injection,
RCE), ``rfi``, ``log4shell``, ``shellshock``, ``sensitive_file`` (dotfiles, VCS, backups, admin
panels, web shells, CVE probe paths), ``scanner`` (attack-tool user agents). The rules aim at
attack *shapes*, not at one data set; ``bench/detect_eval.py`` measures them.
"""

from __future__ import annotations

import polars as pl

from logtool.review.normalize import normalise

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
    out = pl.DataFrame({"v": values}).join(table, on="v", how="left", maintain_order="left").drop("v")
    return out.fill_null(False)
