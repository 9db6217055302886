"""Hostile feed content through a whole cycle into the digest: the 745 feeds of
feedparser's ``sanitize/`` corpus plus hand-written hostile entries (script,
styles, javascript: and data: links, Markdown injection) are stored and written
into the day's digest. The HTML digest is checked tag by tag with html.parser,
the Markdown digest by parsing its links, the JSON by its URLs. One cycle for
the module; one test per format.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from conftest import write_config
from cycle_support import run_in_process, write_digest_now
from faultserver import FaultServer
from newsweb import rss

SANITIZE = Path(__file__).parent / "fixtures" / "feedparser" / "wellformed" / "sanitize"


def sanitize_payloads() -> list[tuple[str, str]]:
    """(title, html) of every entry of feedparser's sanitize corpus, as the feed
    author wrote them (feedparser's own sanitizer switched off to read them)."""
    out = []
    for path in sorted(SANITIZE.glob("*.xml")):
        doc = feedparser.parse(path.read_bytes(), sanitize_html=False,
                               resolve_relative_uris=False)
        for e in doc.entries or [doc.feed]:
            html = (e.get("content") or [{}])[0].get("value") or e.get("summary", "") \
                or e.get("subtitle", "") or e.get("title", "")
            if html or e.get("title"):
                out.append((e.get("title", ""), html))
    return out


HOSTILE_ITEMS = """
<item><title><![CDATA[<script>alert(1)</script>Syria headline with tag]]></title>
  <link>{base}/h/1</link><description>Syria detainees</description></item>
<item><title>&amp;lt;script&amp;gt;alert(2)&amp;lt;/script&amp;gt; Syria literal markup</title>
  <link>{base}/h/2</link><description>&amp;lt;img src=http://evil.example/t.png onerror=alert(4)&amp;gt; Syria</description></item>
<item><title>Syria [x](javascript:alert(1)) ![](http://evil.example/pixel.png) md</title>
  <link>{base}/h/3</link><description>Syria &lt;a href="javascript:alert(7)"&gt;click&lt;/a&gt; [y](data:text/html,boom)</description></item>
<item><title>Syria comment</title><link>{base}/h/4</link>
  <description><![CDATA[Syria <!-- <script>alert(3)</script> --> comment <style>body{{background:url(http://evil.example/s.png)}}</style><div style="background:url(http://evil.example/bg.png)">css</div><iframe src="http://evil.example/f"></iframe><object data="x.swf"></object><embed src="x.swf"><link rel=stylesheet href="http://evil.example/c.css">]]></description></item>
<item><title>Syria javascript link</title><link>javascript:alert(5)</link><guid isPermaLink="false">j1</guid></item>
<item><title>Syria data link</title><link>data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==</link><guid isPermaLink="false">d1</guid></item>
<item><title>Syria quote break-out</title><link>{base}/h/7?x="&gt;&lt;script&gt;alert(8)&lt;/script&gt;</link></item>
<item><title>Syria paren break-out</title><link>{base}/h/8(1)?q=a)](javascript:alert(9))</link></item>
<item><title>Syria
# Heading injected
&lt;h1&gt;big&lt;/h1&gt; | table | `code` *em* _u_ ~~s~~</title><link>{base}/h/9</link></item>
"""


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style_text.append(data)


def _unescaped(md: str, ch: str) -> list[int]:
    out, i = [], 0
    while i < len(md):
        if md[i] == "\\":
            i += 2
            continue
        if md[i] == ch:
            out.append(i)
        i += 1
    return out


def markdown_links(md: str) -> list[str]:
    """Targets of every inline link/image ``[text](target)`` a renderer would see."""
    targets = []
    for pos in _unescaped(md, "]"):
        if md[pos + 1:pos + 2] == "(":
            end = md.find(")", pos + 2)
            targets.append(md[pos + 2:end if end > 0 else None])
    return targets


@pytest.fixture(scope="module")
def digest_docs(tmp_path_factory) -> dict[str, str]:
    """The day's digest (html, md, json) after one cycle over both hostile feeds."""
    tmp = tmp_path_factory.mktemp("hostile-digest")
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'data' / 'newswatch.db'}",
           "NEWSWATCH_OUTPUT_DIR": str(tmp / "output")}
    payloads = sanitize_payloads()
    assert len(payloads) >= 650
    # titles told apart by a letter code, not a number: "Syria 2" would make the
    # hand-written "alert(2) … Syria" item a follower of its story (shown by source only)
    code = lambda i: "".join("bcdfghjklm"[int(d)] for d in f"{i:03d}")  # noqa: E731
    with FaultServer() as srv:
        items = [{"title": f"{t} Syria {code(i)}", "link": srv.url(f"/gone/{i}"),
                  "description": h} for i, (t, h) in enumerate(payloads)]
        srv.static("/sanitize.xml", rss("Sanitize corpus", items).encode(), "application/rss+xml")
        hostile = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>'
                   + HOSTILE_ITEMS.format(base=srv.url("").rstrip("/")) + "</channel></rss>")
        srv.static("/hostile.xml", hostile.encode(), "application/rss+xml")
        cfg = write_config(tmp, [
            {"name": "Sanitize <b>corpus</b>", "url": srv.url("/sanitize.xml")},
            {"name": "Hostile [x](javascript:1)", "url": srv.url("/hostile.xml")}],
            topic={"any": ["Syria*"]},
            network={"max_new_articles_per_feed": 1000})   # all in one cycle
        settings, store, summary = run_in_process(cfg, env)
    assert summary.feeds_failed == 0
    assert summary.new >= 600, summary.line()            # they really reach the digest
    return write_digest_now(settings, store)


def test_html_digest_holds_no_markup_from_the_feeds(digest_docs):
    html = digest_docs["html"]
    parser = TagCollector()
    parser.feed(html)
    tags = parser.tags
    names = [t for t, _ in tags]
    for bad in ("script", "iframe", "object", "embed", "img", "link", "form", "base",
                "frame", "svg", "math", "video", "audio", "source", "input", "button"):
        assert bad not in names, f"<{bad}> in the HTML digest"
    assert names.count("style") == 1 and names.count("meta") == 4   # the template's own
    assert "url(" not in "".join(parser.style_text) and "@import" not in "".join(parser.style_text)
    hrefs = []
    for tag, attrs in tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name not in ("src", "srcset", "style", "formaction", "xlink:href",
                                "background", "poster", "data"), (tag, name)
        if "href" in attrs:
            hrefs.append(attrs["href"])
    assert len(hrefs) >= 600
    for href in hrefs:
        assert re.match(r"https?://[^\s\"'<>]+$", href), href
    # the hostile text is there, as text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_html_digest_content_security_policy_forbids_everything_it_does_not_need(digest_docs):
    parser = TagCollector()
    parser.feed(digest_docs["html"])
    csp = next(a["content"] for t, a in parser.tags if t == "meta"
               and a.get("http-equiv", "").lower() == "content-security-policy")
    directives = dict((d.split() + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'" and directives["img-src"] == "'none'"
    assert "script-src" not in directives and "unsafe-eval" not in csp


def test_markdown_digest_has_no_raw_html_and_only_http_links(digest_docs):
    md = digest_docs["md"]
    assert _unescaped(md, "<") == [], "raw '<' in the Markdown digest"
    targets = markdown_links(md)
    assert len(targets) >= 600
    for target in targets:
        assert re.match(r"https?://[^\s()<>]+$", target), target
    for pos in _unescaped(md, "!"):
        assert md[pos + 1:pos + 2] != "[", "an image in the Markdown digest"
    assert "\\<script\\>alert\\(2\\)" in md
    assert not re.search(r"^#+ Heading injected", md, re.M)


def test_json_digest_has_only_http_urls(digest_docs):
    doc = json.loads(digest_docs["json"])
    for story in doc["stories"]:
        for item in [story, *story["reports"]]:
            assert item["url"] is None or re.match(r"https?://", item["url"])
