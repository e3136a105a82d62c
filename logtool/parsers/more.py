"""More single-regex formats: Traefik CLF, Squid native, AWS classic ELB, AWS ALB, S3 access logs.

Each regex is written from the format's documentation and uses the group vocabulary of
:mod:`logtool.parsers.clf` (``client``, ``time``/``time_iso``/``msec``, ``request`` or
``method_s``+``target_s``, ``status``, ``bytes``, ``referrer``, ``ua``, ``vhost``, ``rt_*``);
unnamed fields are matched and ignored. They have no rewrite template, so ``logtool anonymize``
masks their lines fail-closed (every IP-looking token).
"""

from __future__ import annotations

from logtool.parsers.clf import RegexFormat
from logtool.parsers.formatstr import QUOTED, TIME_CLF, TOKEN, CompiledFormat

T, Q = TOKEN, QUOTED
NUM = r"-?[0-9]+(?:\.[0-9]+)?"
ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z"


def _fmt(name: str, regex: str, description: str, sample: str, client_port: bool = False) -> RegexFormat:
    import re

    fields = frozenset(re.findall(r"\(\?P<(\w+)>", regex))
    return RegexFormat(name, CompiledFormat(name, regex, fields), description, sample, probe="client",
                       client_port=client_port)  # fmt: skip


TRAEFIK_CLF = _fmt(
    "traefik_clf",
    rf'^(?P<client>{T}) {T} (?P<user>{T}) \[(?P<time>{TIME_CLF})\] "(?P<request>{Q})" (?P<status>[0-9]{{3}}|-) '
    rf'(?P<bytes>[0-9]+|-) "(?P<referrer>{Q})" "(?P<ua>{Q})" [0-9]+ "{Q}" "{Q}" (?P<rt_ms>[0-9]+)ms[ \t]*$',
    "Traefik access log, common format (CLF + request count, router, server, duration)",
    '203.0.113.7 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.5.0" 42 "web@docker" "http://172.18.0.3:80" 3ms',
)

SQUID = _fmt(
    "squid",
    rf"^(?P<msec>[0-9]+\.[0-9]+) +(?P<rt_ms>[0-9]+) (?P<client>{T}) [A-Z_]+/(?P<status>[0-9]{{3}}) "
    rf"(?P<bytes>[0-9]+) (?P<method_s>{T}) (?P<target_s>{T}) (?P<user>{T}) {T} {T}[ \t]*$",
    "Squid native access log",
    "1764000000.779    180 203.0.113.7 TCP_MISS/200 411 GET http://www.example.org/ - HIER_DIRECT/198.51.100.9 text/html",
)

AWS_ELB = _fmt(
    "aws_elb",
    rf"^(?P<time_iso>{ISO}) {T} (?P<client>{T}) {T} {NUM} (?P<rt_s>{NUM}) {NUM} (?P<status>[0-9]{{3}}|-) "
    rf'(?:[0-9]{{1,3}}|-) (?:[0-9]+|-) (?P<bytes>[0-9]+|-) "(?P<request>{Q})" "(?P<ua>{Q})" {T} {T}[ \t]*$',
    "AWS Classic Load Balancer access log (HTTP and TCP listeners)",
    "2026-11-24T10:00:00.945958Z my-lb 203.0.113.7:2817 10.0.0.1:80 0.000086 0.001048 0.000057 200 200 0 29 "
    '"GET http://www.example.org:80/ HTTP/1.1" "curl/8.5.0" - -',
    client_port=True,
)

AWS_ALB = _fmt(
    "aws_alb",
    rf"^(?:http|https|h2|grpcs|ws|wss) (?P<time_iso>{ISO}) {T} (?P<client>{T}) {T} {NUM} (?P<rt_s>{NUM}) {NUM} "
    rf'(?P<status>[0-9]{{3}}|-) (?:[0-9]{{1,3}}|-) (?:[0-9]+|-) (?P<bytes>[0-9]+|-) "(?P<request>{Q})" "(?P<ua>{Q})" '
    rf'{T} {T} {T} "{Q}" "(?P<vhost>{Q})"(?: |$)',
    "AWS Application Load Balancer access log",
    "https 2026-11-24T10:00:00.186641Z app/my-lb/50dc6c495c0c9188 203.0.113.7:46532 10.0.0.1:80 0.000 0.001 0.000 "
    '200 200 34 366 "GET https://www.example.org:443/ HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337262-36d228ad5d99923122bbe354" "www.example.org" "arn:aws:acm:us-east-2:123456789012:certificate/'
    '12345678-1234-1234-1234-123456789012" 0 2026-11-24T09:59:59.999000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1',
    client_port=True,
)

S3 = _fmt(
    "aws_s3",
    rf'^{T} (?P<bucket>{T}) \[(?P<time>{TIME_CLF})\] (?P<client>{T}) (?P<user>{T}) {T} {T} {T} "(?P<request>{Q})" '
    rf'(?P<status>[0-9]{{3}}|-) {T} (?P<bytes>[0-9]+|-) {T} (?P<rt_ms>[0-9]+|-) {T} "(?P<referrer>{Q})" "(?P<ua>{Q})" {T}'
    # the optional trailing fields nest, so every blank has one reading (a one-pass regex: fast captures)
    rf"(?: {T}(?: {T}(?: {T}(?: {T}(?: (?P<vhost>{T})(?: .*)?)?)?)?)?)?$",
    "Amazon S3 server access log",
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be example-bucket [24/Nov/2026:10:00:00 +0000] "
    "203.0.113.7 arn:aws:iam::123456789012:user/jane 3E57427F3EXAMPLE REST.GET.OBJECT photos/a.jpg "
    '"GET /example-bucket/photos/a.jpg HTTP/1.1" 200 - 2662992 3462992 70 10 "-" "aws-cli/2.15" - '
    "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 "
    "AuthHeader example-bucket.s3.us-west-1.amazonaws.com TLSv1.2 - -",
)

HAPROXY = _fmt(
    "haproxy",
    rf"^(?:.*? )?haproxy\[[0-9]+\]: (?P<client>{T}) "
    rf"\[(?P<time_naive_ms>[0-9]{{2}}/[A-Za-z]{{3}}/[0-9]{{4}}:[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}\.[0-9]{{3}})\] "
    rf"{T} {T} -?[0-9]+/-?[0-9]+/-?[0-9]+/-?[0-9]+/\+?(?P<rt_ms>-?[0-9]+) (?:(?P<status>[0-9]{{3}})|-1) "
    rf'\+?(?P<bytes>[0-9]+) {T} {T} {T} {T} {T}(?: \{{[^}}]*\}})?(?: \{{[^}}]*\}})? "(?P<request>{Q})"[ \t]*$',
    "HAProxy HTTP log (option httplog), with or without a syslog prefix; time taken as UTC",
    "Nov 24 10:00:00 lb1 haproxy[14389]: 203.0.113.7:33317 [24/Nov/2026:10:00:00.655] http-in static/srv1 "
    '10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {example.org} {} "GET /index.html HTTP/1.1"',
    client_port=True,
)

FORMATS = (TRAEFIK_CLF, SQUID, AWS_ELB, AWS_ALB, S3, HAPROXY)
