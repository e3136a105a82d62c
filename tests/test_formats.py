"""User format strings (Apache LogFormat, nginx log_format) and auto-detection."""

from __future__ import annotations

import polars as pl
import pytest

from logtool.errors import InputError
from logtool.parsers import REGISTRY, custom_format, detect


def parse(fmt, *lines: str) -> pl.DataFrame:
    batch = pl.DataFrame({"line_no": list(range(1, len(lines) + 1)), "line": list(lines)})
    rec, rej = fmt.parse(batch)
    assert rej.height == 0, rej.to_dicts()
    return rec


def test_apache_format_with_timings_xff_and_vhost() -> None:
    fmt = custom_format(log_format='%v %a %l %u %t "%r" %>s %B "%{Referer}i" "%{User-Agent}i" %D "%{X-Forwarded-For}i"')
    rec = parse(
        fmt,
        'shop.example.org 203.0.113.5 - - [24/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 99 "-" "UA" 1500 "198.51.100.1, 10.0.0.2"',
    )
    r = rec.row(0, named=True)
    assert (r["vhost"], r["client_ip"], r["bytes"], r["request_time_s"], r["xff"]) == (
        "shop.example.org",
        "203.0.113.5",
        99,
        0.0015,
        "198.51.100.1, 10.0.0.2",
    )


@pytest.mark.parametrize(
    "directive,value,seconds", [("%T", "2", 2.0), ("%{ms}T", "250", 0.25), ("%{us}T", "1000", 0.001)]
)
def test_apache_time_taken_units(directive: str, value: str, seconds: float) -> None:
    fmt = custom_format(log_format=f'%h %l %u %t "%r" %>s %b {directive}')
    rec = parse(fmt, f'203.0.113.5 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 {value}')
    assert rec.get_column("request_time_s").to_list() == [seconds]


def test_nginx_format_with_request_and_upstream_time() -> None:
    fmt = custom_format(
        nginx_format='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $host $request_time $upstream_response_time'
    )
    rec = parse(
        fmt,
        '2001:db8::7 - - [24/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 5 "-" "UA" www.example.org 0.004 0.003, 0.001',
        '203.0.113.5 - - [24/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 502 5 "-" "UA" www.example.org - -',
    )
    assert rec.get_column("vhost").to_list() == ["www.example.org"] * 2
    assert rec.get_column("request_time_s").to_list() == [0.004, None]


def test_nginx_upstream_time_used_when_request_time_missing() -> None:
    fmt = custom_format(nginx_format='$remote_addr [$time_local] "$request" $status $upstream_response_time')
    rec = parse(fmt, '203.0.113.5 [24/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 0.120, 0.030')
    assert rec.get_column("request_time_s").to_list() == [0.12]


def test_nginx_iso_time_and_http_x_forwarded_for() -> None:
    fmt = custom_format(nginx_format='$remote_addr $time_iso8601 "$request" $status "$http_x_forwarded_for"')
    rec = parse(fmt, '203.0.113.5 2026-11-24T10:00:00+01:00 "GET / HTTP/1.1" 200 "198.51.100.9"')
    r = rec.row(0, named=True)
    assert r["ts"].isoformat() == "2026-11-24T09:00:00+00:00" and r["tz_offset_min"] == 60
    assert r["xff"] == "198.51.100.9"


def test_unknown_directives_still_parse() -> None:
    fmt = custom_format(log_format='%h %{X-Custom}i %t "%r" %>s %b %{cookie}n %k')
    rec = parse(fmt, '203.0.113.5 abc [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 sess=1 0')
    assert rec.height == 1


def test_format_without_directives_is_a_config_error() -> None:
    from logtool.errors import ConfigError

    with pytest.raises(ConfigError, match="no % directives"):
        custom_format(log_format="plain text")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_preset_detects_its_own_sample(name: str) -> None:
    lines = REGISTRY[name].sample.split("\n")  # W3C samples carry their #Fields header
    fmt, rate = detect(pl.Series(lines[:1] + lines[1:] * 5 if len(lines) > 1 else lines * 5))
    assert fmt.name == name and rate == 1.0


def test_unknown_format_error_suggests_the_flags() -> None:
    lines = pl.Series(['{"json": "not supported yet"}'] * 10)
    with pytest.raises(InputError) as e:
        detect(lines, "app.log")
    msg = str(e.value)
    assert "app.log: cannot detect the log format" in msg
    assert "--format" in msg and "--log-format" in msg and "--nginx-format" in msg


def test_a_tie_between_formats_is_an_ambiguity_error() -> None:
    # both Traefik's and nginx's signature keys: neither JSON format can be told from the other
    line = '{"ClientHost":"203.0.113.1","RequestMethod":"GET","remote_addr":"203.0.113.1","request":"GET / HTTP/1.1"}'
    with pytest.raises(InputError) as e:
        detect(pl.Series([line] * 5), "mixed.log")
    msg = str(e.value)
    assert "mixed.log: the log format is ambiguous (traefik_json and nginx_json each parse 100%" in msg
    assert "--format" in msg and "--json-map" in msg


def test_detect_command_reports_every_file(tmp_path) -> None:
    from click.testing import CliRunner

    from logtool.cli import cli

    good, bad = tmp_path / "access.log", tmp_path / "notes.txt"
    good.write_text(REGISTRY["combined"].sample + "\n")
    bad.write_text("dear diary\n")
    r = CliRunner().invoke(cli, ["detect", str(bad), str(good)])
    assert r.exit_code == 3
    assert "access.log: combined (100% of 1 sampled line parsed)" in r.stdout  # after the failure
    assert "logtool: error: notes.txt: cannot detect the log format" in r.stderr


def test_detection_tolerates_a_minority_of_bad_lines() -> None:
    lines = pl.Series([REGISTRY["combined"].sample] * 8 + ["garbage"] * 2)
    fmt, rate = detect(lines)
    assert fmt.name == "combined" and rate == 0.8


def test_json_map_through_the_cli(tmp_path) -> None:
    from click.testing import CliRunner

    from logtool.cli import cli

    log = tmp_path / "app.jsonl"
    log.write_text(
        '{"when":"2026-11-24T10:00:00Z","ip":"203.0.113.1","verb":"GET","url":"/a?b=1","code":200,"agent":"curl/8"}\n'
        '{"when":"2026-11-24T10:00:01Z","ip":"2001:db8::1","verb":"POST","url":"/b","code":500}\n'
    )
    run = CliRunner()
    r = run.invoke(cli, ["--store", str(tmp_path / "s"), "ingest", str(log)])
    assert r.exit_code == 3 and "--json-map ts=KEY,client_ip=KEY" in r.stderr  # unknown JSON: says how
    spec = "ts=when,client_ip=ip,method=verb,uri=url,status=code,user_agent=agent"
    r = run.invoke(cli, ["--store", str(tmp_path / "s"), "ingest", str(log), "--json-map", spec])
    assert r.exit_code == 0 and "2 lines as json-map, 2 stored" in r.stderr
    r = run.invoke(cli, ["--store", str(tmp_path / "s"), "ingest", str(log), "--json-map", "ts=when"])
    assert r.exit_code == 2 and "needs a time" in r.stderr


def test_json_and_clf_formats_never_claim_each_other() -> None:
    from logtool.parsers.jsonl import FORMATS as JSON_FORMATS

    for jf in JSON_FORMATS:
        assert REGISTRY["combined"].match_rate(pl.Series([jf.sample])) == 0.0
        assert jf.match_rate(pl.Series([REGISTRY["combined"].sample])) == 0.0


def test_a_null_line_in_a_callers_frame_is_quarantined_as_blank() -> None:
    """``iter_batches`` never yields a null line, but a frame built by a caller may hold one."""
    line = '203.0.113.9 - - [24/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 5 "-" "ua"'
    batch = pl.DataFrame({"line_no": [1, 2], "line": [line, None]}, schema={"line_no": pl.Int64, "line": pl.String})
    records, rejects = REGISTRY["combined"].parser().parse(batch)[:2]
    assert records.height == 1
    assert rejects.get_column("reason").to_list() == ["blank line"]
