"""The news web the tests and the benchmarks share (newsweb.NewsWeb), serving
the benchmarks' generated feeds and article variants (benchweb): what the
pipeline benchmarks measure against must behave as they say it does."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request

import pytest

from benchweb import Site, mutate, start_benchweb
from newsweb import article_pages
from pipeline.feeds import parse_feed


@pytest.fixture
def bench_web():
    pages = article_pages()
    site = Site(n_feeds=4, per_feed=3, dup_share=0.0, ids=list(pages), pages=list(pages.values()))
    gen = start_benchweb(site, hosts=2, use_gzip=True)
    yield gen
    gen.web.close()


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:      # 304 and 404 come here
        return exc.code, dict(exc.headers), exc.read()


def control(gen, what: str) -> dict:
    return json.loads(get(gen.web.hosts[0] + "/_control/" + what)[2])


def test_feeds_parse_and_link_their_articles_on_the_feed_s_own_host(bench_web):
    site, hosts = bench_web.site, bench_web.web.hosts
    assert len(hosts) == 2 and hosts[0] != hosts[1]
    for f in range(site.n_feeds):
        status, headers, body = get(bench_web.feed_url(f))
        assert status == 200
        parsed = parse_feed(body, feed_name="bench", feed_url=bench_web.feed_url(f),
                            content_type=headers["Content-Type"].split(";")[0])
        assert len(parsed.entries) == site.per_feed
        assert all(e.link.startswith(hosts[f % 2] + "/news/") for e in parsed.entries)
        g = int(re.search(r"/(\d+)-story$", parsed.entries[0].link).group(1))
        assert get(parsed.entries[0].link)[2] == site.article_body(g)


def test_a_variant_changes_every_shingle_but_not_the_markup():
    page = next(iter(article_pages().values()))
    variant = mutate(page, 3)
    assert variant != page and b" zq3" in variant
    tags = re.compile(rb"<[a-zA-Z/][^>]*>")
    assert tags.findall(variant) == tags.findall(page)     # the page's structure is untouched


def test_gzip_when_asked_304_on_validators_and_every_request_counted(bench_web):
    url = bench_web.feed_url(0)
    status, headers, body = get(url, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    plain = get(url)[2]
    assert gzip.decompress(body) == plain
    assert get(url, **{"If-None-Match": headers["ETag"]})[0] == 304
    assert get(url, **{"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert get(bench_web.web.hosts[0] + "/news/0/99999-story")[0] == 404
    stats = control(bench_web, "stats")
    assert (stats["feed_200"], stats["feed_304"], stats["other"]) == (2, 2, 1)
    assert stats["requests"] == 5 and stats["bytes"] == len(body) + len(plain) + len(b"not found")
    assert control(bench_web, "reset") == {"ok": True}
    assert control(bench_web, "stats")["requests"] == 0      # control requests are not counted


def test_publish_changes_the_feeds_and_prepare_builds_every_linked_page(bench_web):
    url = bench_web.feed_url(1)
    etag = get(url)[1]["ETag"]
    assert control(bench_web, "publish?n=4") == {"published": 4, "total": 16}
    status, headers, _ = get(url, **{"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert control(bench_web, "prepare")["bodies"] == 12     # 4 feeds x 3 entries
    config = control(bench_web, "config")
    assert config["feeds"] == [bench_web.feed_url(f) for f in range(4)]
    assert config["articles"] == 16
