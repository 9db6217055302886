"""Google News links: decoded offline (old-style ids), resolved through a local
Google News (new-style ids), capped per cycle, remembered, and never shown; and
one article reached through two feeds stored once with both feeds as sources."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import storage
from conftest import ROOT, write_config
from cycle_support import export_rows, run_once, write_digest_now
from faultserver import FaultServer
from googlenewsweb import GoogleNewsWeb, article_page, google_feed, old_id, plain_feed
from pipeline.config import load_settings
from pipeline.errors import FetchError
from pipeline.feeds import googlenews, parse_feed
from pipeline.fetch import Fetcher
from pipeline.guards import Grace
from pipeline.web import views
from test_postgres import postgres_url  # noqa: F401  (the throw-away cluster)
from pipeline.links import Links

FIXTURES = Path(__file__).parent / "fixtures" / "googlenews"
BBC_ID = ("CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampqbnhkdjE4OG_SATJodHRwczovL3d3"
          "dy5iYmMuY29tL25ld3MvYXJ0aWNsZXMvY2pqam54ZHYxODhvLmFtcA")


def _entries(name: str, feed_url: str = "https://news.google.com/rss/search?q=x"):
    return parse_feed((FIXTURES / name).read_bytes(), feed_name="GN", feed_url=feed_url).entries


def test_old_style_ids_decode_offline_and_new_ones_need_a_request():
    assert old_id("https://www.bbc.com/news/articles/cjjjnxdv188o",
                  "https://www.bbc.com/news/articles/cjjjnxdv188o.amp") == BBC_ID
    entries = _entries("search-en.xml")
    decoded = [googlenews.decode_offline(googlenews.article_id(e.link)) for e in entries]
    assert [d.url for d in decoded[:3]] == [
        "https://www.bbc.com/news/articles/cjjjnxdv188o",       # the AMP URL after it ignored
        "https://www.theguardian.com/world/2024/dec/09/inside-sednaya-prison-syria-assad",
        "https://www.aljazeera.com/news/2024/12/10/syrians-search-for-missing-relatives-at-"
        "sednaya-prison-after-the-fall-of-assad-thousands-remain-unaccounted-for"]
    assert all(d.needs_request and d.url is None for d in decoded[3:])
    assert urlsplit(entries[5].link).path.startswith("/read/")    # the /read/ form too
    assert (entries[0].source_url, entries[0].source_title) == ("https://www.bbc.com", "BBC")


def test_every_form_of_an_article_link_is_one_alias():
    forms = [f"https://news.google.com/rss/articles/{BBC_ID}?oc=5",
             f"https://news.google.com/articles/{BBC_ID}?hl=en-GB",
             f"https://news.google.com/read/{BBC_ID}",
             f"https://news.google.com/__i/rss/rd/articles/{BBC_ID}?oc=5",
             f"http://127.0.0.1:8080/rss/articles/{BBC_ID}"]
    assert {googlenews.alias_key(googlenews.article_id(f)) for f in forms} == {
        f"/rss/articles/{BBC_ID}"}


@pytest.mark.parametrize("link", ["https://example.org/articles/abcdefghijk",
                                  "https://news.google.com/rss/search?q=x",
                                  "https://news.google.com/rss/articles/short"])
def test_links_that_are_no_article_id(link):
    settings = load_settings(ROOT / "config" / "watch.yaml", env={})
    links = Links(settings.google_news, 10, None, None, None, None)
    assert links.article_of(link) is None


def test_malformed_ids_and_answers_give_clear_errors():
    assert googlenews.decode_offline("!!!notbase64").needs_request
    older = old_id("https://example.org/2019/a").replace("CBMi", "CAIi", 1)   # field 1 = 2
    assert googlenews.decode_offline(older).url == "https://example.org/2019/a"
    assert googlenews.decode_offline(old_id("javascript:alert(1)")).needs_request
    with pytest.raises(googlenews.GoogleNewsError, match="no signature"):
        googlenews.decoding_params(b"<html><body><c-wiz><div></div></c-wiz></body></html>")
    with pytest.raises(googlenews.GoogleNewsError, match="holds no URL"):
        googlenews.url_from_batch(b")]}'\n\n[[\"er\",null]]")
    with pytest.raises(googlenews.GoogleNewsError, match="no http"):
        googlenews.url_from_batch(b")]}'\n\n" + b'[["wrb.fr","Fbv4je","[\\"garturlresp\\",'
                                  b'\\"javascript:x\\",1]"]]')


def _no_dns(host, port):
    raise AssertionError(f"a request was attempted to {host}")


def test_default_config_google_feeds_decode_old_ids_with_no_network(tmp_path):
    settings = load_settings(ROOT / "config" / "watch.yaml",
                             env={"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"})
    google = [f for f in settings.feeds if urlsplit(f.url).hostname == "news.google.com"]
    assert len(google) == 2
    cfg = dataclasses.replace(settings.google_news, max_resolutions_per_cycle=0)
    store = storage.open_store(settings.database_url)

    async def resolve(entries):
        async with Fetcher(settings.network, resolver=_no_dns) as fetcher:
            links = Links(cfg, 200, store, fetcher, Grace(threading.Event()), None)
            return await links.resolve(entries), links.stats

    for feed, sample in zip(google, ("search-en.xml", "search-ar.xml")):
        entries = _entries(sample, feed.url)
        (out, waiting), stats = asyncio.run(resolve(entries))
        old = [e for e in entries if googlenews.decode_offline(
            googlenews.article_id(e.link)).url]
        assert stats.requests == 0 and stats.offline == len(old) >= 2
        assert waiting and len(out) == len(old)        # the new-style ones wait
        assert all(urlsplit(e.link).hostname != "news.google.com" for e in out)
    store.close()


@pytest.fixture
def gnews():
    with FaultServer() as srv:
        yield srv, GoogleNewsWeb(srv)


def _publish(srv, n: int) -> str:
    path = f"/pub/story-{n}.html"
    srv.static(path, article_page(f"Sednaya survivors speak, report {n}", n), "text/html")
    return srv.url(path)


def _settings(tmp_path, env, srv, feeds, **google):
    cfg = write_config(tmp_path, feeds, google_news={"base_url": srv.url(""), **google})
    return load_settings(cfg, env=env)


def test_new_ids_resolved_through_batchexecute_once_then_from_the_cache(gnews, env, tmp_path):
    srv, gn = gnews
    urls = [_publish(srv, n) for n in range(4)]
    links = [gn.link(gn.new_id(u)) for u in urls[:3]]
    first = next(iter(gn.targets))
    gn.unsigned.add(first)                        # its /articles/ page has the signature
    links.append(f"https://news.google.com/rss/articles/{old_id(urls[3])}?oc=5")
    links.append(srv.url(f"/articles/{first}?hl=en-GB"))     # the same id, another form
    srv.static("/gn.xml", google_feed([(f"Report {n}", link, srv.url("/"), "Pub")
                                       for n, link in enumerate(links)]), "application/rss+xml")
    settings = _settings(tmp_path, env, srv, [{"name": "GN", "url": srv.url("/gn.xml")}])
    summary, store = run_once(settings)
    rows = export_rows(store)
    assert sorted(r["url"] for r in rows) == sorted(urls)
    assert gn.resolutions == 3 and gn.requests_to_google() == 7      # page + POST each,
    assert srv.hits[f"/articles/{next(iter(gn.targets))}"] == 1      # one page twice
    assert all(srv.hits[urlsplit(u).path] == 1 for u in urls)
    srv.reset_counts()
    summary, store = run_once(settings)                 # the same feed again
    assert gn.requests_to_google() == 0 and summary.new == 0
    assert all(srv.hits[urlsplit(u).path] == 0 for u in urls)   # never fetched twice
    assert len(export_rows(store)) == 4


def test_resolutions_are_capped_per_cycle_and_the_rest_wait(gnews, env, tmp_path):
    srv, gn = gnews
    urls = [_publish(srv, n) for n in range(5)]
    links = [gn.link(gn.new_id(u)) for u in urls]
    srv.static("/gn.xml", google_feed([(f"Report {n}", link, "", "Pub")
                                       for n, link in enumerate(links)]),
               "application/rss+xml", etag='"v1"')    # 304 if validators were kept
    settings = _settings(tmp_path, env, srv, [{"name": "GN", "url": srv.url("/gn.xml")}],
                         max_resolutions_per_cycle=2)
    counts = []
    for _ in range(4):
        srv.reset_counts()
        _, store = run_once(settings)
        counts.append((srv.hits["/_/DotsSplashUi/data/batchexecute"], len(export_rows(store))))
    assert counts == [(2, 2), (2, 4), (1, 5), (0, 5)]
    # the newest entries first (the feed dates them 10:00, 11:00, ... 14:00)
    assert set(urls[3:]) <= {r["url"] for r in export_rows(store)[:2]}


def test_a_link_that_cannot_be_resolved_shows_the_publisher_and_says_so(gnews, env, tmp_path):
    srv, gn = gnews
    article, nameless = gn.new_id(_publish(srv, 1)), gn.new_id(_publish(srv, 2))
    gn.broken |= {article, nameless}
    srv.static("/home", b"<html>the publisher's home page</html>", "text/html")
    srv.static("/gn.xml", google_feed([("Sednaya prison families wait", gn.link(article),
                                        srv.url("/home"), "Example Wire"),
                                       ("Syria prison report", gn.link(nameless), "", "Anon")]),
               "application/rss+xml")
    settings = _settings(tmp_path, env, srv, [{"name": "GN", "url": srv.url("/gn.xml")}],
                         max_attempts=2)
    _, store = run_once(settings)
    assert export_rows(store) == [] and gn.srv.hits["/_/DotsSplashUi/data/batchexecute"] == 2
    _, store = run_once(settings)                   # the second try fails too: stand-in
    row, other = sorted(export_rows(store), key=lambda r: r["url"])
    assert row["url"].startswith(srv.url("/home") + "#") and row["extraction"] == "entry"
    assert other["url"].startswith("urn:newswatch:publisher-unknown#")   # no link to show
    assert srv.hits["/home"] == 0                   # the stand-in is never fetched
    pages = write_digest_now(settings, store)
    for text in (*pages.values(), str(row), str(other)):
        assert "/rss/articles/" not in text and "news.google.com" not in text
    assert "google news: the link could not be decoded" in pages["md"]
    assert srv.url("/home") in pages["md"] and 'href="urn:' not in pages["html"]
    srv.reset_counts()
    run_once(settings)                              # remembered: no third try
    assert gn.requests_to_google() == 0


def test_failures_of_google_itself_are_counted_not_fatal(env, tmp_path):
    with FaultServer() as srv:
        gn = GoogleNewsWeb(srv)
        url = _publish(srv, 7)
        article = gn.new_id(url)
        srv.respond(f"/rss/articles/{article}", 429, b"slow down")
        second = gn.new_id(_publish(srv, 8))
        old = f"https://news.google.com/rss/articles/{old_id(_publish(srv, 9))}"
        srv.static("/gn.xml", google_feed([("b", gn.link(second), "", "P"),
                                           ("a", gn.link(article), "", "P"),   # the newest
                                           ("c", old, "", "P")]), "application/rss+xml")
        settings = _settings(tmp_path, env, srv, [{"name": "GN", "url": srv.url("/gn.xml")}])
        summary, store = run_once(settings)
        # the 429 stops resolving for this cycle; the old-style id needs no request
        assert [r["url"] for r in export_rows(store)] == [srv.url("/pub/story-9.html")]
        assert summary.feeds_failed == 0 and gn.resolutions == 0


def test_one_article_through_two_feeds_is_one_item_with_both_sources(gnews, env, tmp_path):
    srv, gn = gnews
    shared, own = _publish(srv, 1), _publish(srv, 2)
    srv.static("/pub.xml", plain_feed([("Sednaya report 1", shared), ("Sednaya report 2", own)]),
               "application/rss+xml")
    srv.static("/also.xml", plain_feed([("Sednaya report 1", shared)]), "application/rss+xml")
    gid = gn.new_id(shared)
    srv.static("/gn.xml", google_feed([("Sednaya report 1", gn.link(gid), "", "Pub")]),
               "application/rss+xml")
    feeds = [{"name": "Publisher", "url": srv.url("/pub.xml")},
             {"name": "Aggregator", "url": srv.url("/also.xml")},
             {"name": "Google News", "url": srv.url("/gn.xml")}]
    settings = _settings(tmp_path, env, srv, feeds)
    _, store = run_once(settings)
    rows = export_rows(store)
    [item] = [r for r in rows if r["url"] == shared]
    assert len(rows) == 2 and srv.hits["/pub/story-1.html"] == 1
    assert sorted([item["source"], *item["also_in"]]) == ["Aggregator", "Google News",
                                                           "Publisher"]
    md = write_digest_now(settings, store)["md"]
    assert md.count("**[Sednaya survivors speak, report 1]") == 1     # one report
    # the three feeds are polled at once: whichever stored the item first is its source
    outlets = {"Publisher", "Aggregator", "Google News"}
    [line] = [ln for ln in md.splitlines() if "3 outlets: " in ln]
    assert set(line.split("3 outlets: ")[1].split(" · ")[0].split(", ")) == outlets, line
    page = views.story_page(settings, store, storage.item_by_url(store, shared).id)
    assert set(page["reports"][0]["source"].split(", ")) == outlets
    assert page["reports"][0]["source"].startswith(item["source"])


def test_a_feed_added_later_becomes_one_more_source(gnews, env, tmp_path):
    srv, _ = gnews
    shared = _publish(srv, 3)
    srv.static("/a.xml", plain_feed([("Sednaya report 3", shared)]), "application/rss+xml")
    srv.static("/b.xml", plain_feed([("Sednaya report 3", shared)]), "application/rss+xml")
    first = [{"name": "A", "url": srv.url("/a.xml")}]
    run_once(_settings(tmp_path, env, srv, first))
    both = first + [{"name": "B", "url": srv.url("/b.xml")}]
    for _ in range(2):                               # a second look adds nothing
        _, store = run_once(_settings(tmp_path, env, srv, both))
    [row] = export_rows(store)
    assert (row["source"], row["also_in"]) == ("A", ["B"])
    assert srv.hits["/pub/story-3.html"] == 1


def test_fetch_client_posts_a_form(gnews):
    srv, _ = gnews
    seen = []

    @srv.route("/echo")
    def echo(req, reply):
        seen.append((req.method, req.headers.get("content-type"), req.body))
        reply.send(200, b"ok", {"Content-Type": "text/plain"})

    settings = load_settings(ROOT / "config" / "watch.yaml", env={})

    async def post():
        net = dataclasses.replace(settings.network, allow_private_addresses=True)
        async with Fetcher(net) as fetcher:
            return await fetcher.fetch(srv.url("/echo"), form=b"f.req=1")

    assert asyncio.run(post()).body == b"ok"
    assert seen[0][0] == "POST" and seen[0][2] == b"f.req=1"
    assert seen[0][1].startswith("application/x-www-form-urlencoded")

    async def refused():
        async with Fetcher(settings.network) as fetcher:   # private addresses refused
            return await fetcher.fetch(srv.url("/echo").replace("127.0.0.1", "localhost"),
                                       form=b"x=1")

    with pytest.raises(FetchError):
        asyncio.run(refused())


def test_aliases_and_sources_on_postgres(postgres_url, gnews, tmp_path):
    srv, gn = gnews
    shared = _publish(srv, 5)
    srv.static("/a.xml", plain_feed([("Sednaya report 5", shared)]), "application/rss+xml")
    srv.static("/gn.xml", google_feed([("Sednaya report 5", gn.link(gn.new_id(shared)), "",
                                        "Pub")]), "application/rss+xml")
    env = {"DATABASE_URL": postgres_url, "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "out")}
    feeds = [{"name": "A", "url": srv.url("/a.xml")}, {"name": "GN", "url": srv.url("/gn.xml")}]
    for _ in range(2):
        _, store = run_once(_settings(tmp_path, env, srv, feeds))
    assert store.engine.dialect.name == "postgresql"
    [row] = [r for r in export_rows(store) if r["url"] == shared]
    assert sorted([row["source"], *row["also_in"]]) == ["A", "GN"] and gn.resolutions == 1
    alias = next(iter(storage.link_aliases(store, [
        googlenews.alias_key(a) for a in gn.targets]).values()))
    storage.save_link_aliases(store, [dataclasses.replace(alias, attempts=2)])   # an upsert
    assert storage.link_aliases(store, [alias.alias])[alias.alias].attempts == 2


def test_a_decoded_url_is_checked_like_any_link_from_outside(gnews, env, tmp_path):
    srv, gn = gnews
    inside = _publish(srv, 6)              # on loopback: refused unless the config allows it
    srv.static("/gn.xml", google_feed([
        ("Sednaya report 6", f"https://news.google.com/rss/articles/{old_id(inside)}", "", "P"),
        ("Sednaya report 7", gn.link(gn.new_id(_publish(srv, 8))), "",
         "P")]), "application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "GN", "url": srv.url("/gn.xml")}],
                       network={"allow_private_addresses": False},
                       google_news={"base_url": srv.url("")})   # the config's own: trusted
    _, store = run_once(load_settings(cfg, env=env))
    rows = export_rows(store)
    assert gn.resolutions == 1 and len(rows) == 2
    assert all(r["status"] == "failed" and "refused" in r["error"] for r in rows)
    assert srv.hits["/pub/story-6.html"] == srv.hits["/pub/story-8.html"] == 0


@pytest.mark.parametrize("base", ["ftp://news.example", "news.google.com", "http://",
                                  "https://x.example/\nHost: y"])
def test_a_base_url_that_is_no_http_url_is_a_config_error(tmp_path, base):
    from pipeline.errors import ConfigError
    cfg = write_config(tmp_path, [], google_news={"base_url": base})
    with pytest.raises(ConfigError, match="google_news.base_url.*not an http"):
        load_settings(cfg, env={})
