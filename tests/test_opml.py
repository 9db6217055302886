"""OPML: ``newswatch feeds import`` and ``feeds export``.

* Import reads nested outlines, reports outlines without an http(s) ``xmlUrl``,
  skips feeds already configured (canonical URL, either scheme) and is a dry run
  unless ``--apply``; applied, the config file keeps every line, comment and its
  order, gains only the new feed lines, and loads; when the result would not load,
  nothing is written.
* Hostile files (billion laughs, XXE to a file and to a local server, not XML,
  not OPML, too large) are refused with one clear line, exit 2, nothing written.
* Export prints OPML 2.0 that imports back as the same feeds; secrets redacted.
* The CLI runs as a subprocess, with its exit codes.
"""

from __future__ import annotations

import json

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET

from faultserver import FaultServer
from pipeline.config import FeedSpec, load_settings
from pipeline.errors import ConfigError, OpmlError
from pipeline.subscriptions import (MAX_OPML_BYTES, add_feeds_to_text, apply_import,
                                    export_opml, plan_import, read_opml)

ROOT = Path(__file__).resolve().parent.parent
WATCH = ROOT / "config" / "watch.yaml"

SUBS = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>From another reader</title></head><body>
  <outline text="News" title="News">
    <outline text="Arabic">
      <outline type="rss" text="BBC Arabic (copy)" xmlUrl="http://feeds.bbci.co.uk/arabic/rss.xml?utm_source=reader"/>
      <outline type="rss" text="Asharq Al-Awsat" title="الشرق الأوسط" xmlUrl="https://aawsat.com/feed"/>
    </outline>
    <outline type="rss" text="Reuters World" xmlUrl=" https://www.reutersagency.com/feed/ "/>
    <outline type="link" text="A web page" url="https://example.org/page"/>
  </outline>
  <outline type="rss" text="Script" xmlUrl="javascript:alert(1)"/>
  <outline type="rss" text="Reuters World" xmlUrl="HTTPS://WWW.reutersagency.com/feed"/>
  <outline type="rss" text="BBC Arabic" xmlUrl="https://example.net/other-bbc-arabic.xml"/>
</body></opml>
"""


def run(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DATABASE_URL":
                               f"sqlite:///{cwd / 'nw.db'}", "NEWSWATCH_OUTPUT_DIR": str(cwd)})


@pytest.fixture
def watch(tmp_path) -> Path:
    """A copy of the shipped config (comments, flow and block feed items, Arabic)."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    path = tmp_path / "watch.yaml"
    shutil.copy(WATCH, path)
    return path


def test_nested_outlines_duplicates_and_problems_are_planned(watch):
    outlines, problems, seen = read_opml(SUBS.encode(), "subs.opml")
    assert seen == 9
    assert [o.folder for o in outlines[:3]] == ["News / Arabic", "News / Arabic", "News"]
    plan = plan_import(outlines, problems, seen, load_settings(watch).feeds)
    assert plan.added == [FeedSpec("الشرق الأوسط", "https://aawsat.com/feed"),
                          FeedSpec("Reuters World", "https://www.reutersagency.com/feed/"),
                          FeedSpec("BBC Arabic (2)", "https://example.net/other-bbc-arabic.xml")]
    # http:// against https://, a tracking parameter, host case and a trailing slash
    assert [(f.name, twin) for f, twin in plan.duplicates] == [
        ("BBC Arabic (copy)", "BBC Arabic"), ("Reuters World", "Reuters World")]
    assert plan.problems == [
        "outline 'A web page' (in News) has no xmlUrl: skipped",
        "outline 'Script': xmlUrl 'javascript:alert(1)' is not an http(s) URL: skipped"]


def test_dry_run_changes_nothing_and_says_what_would(watch, tmp_path):
    (tmp_path / "subs.opml").write_text(SUBS, encoding="utf-8")
    before = watch.read_bytes()
    done = run("feeds", "import", "subs.opml", "--config", str(watch), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert watch.read_bytes() == before
    out = done.stdout
    assert "3 feeds to add, 2 already configured, 2 skipped" in out
    assert "+ الشرق الأوسط <https://aawsat.com/feed>" in out
    assert "already configured as 'BBC Arabic'" in out and "dry run: nothing written" in out


def test_apply_keeps_every_line_comment_and_order(watch, tmp_path):
    (tmp_path / "subs.opml").write_text(SUBS, encoding="utf-8")
    before = watch.read_text("utf-8").splitlines()
    watch.chmod(0o640)
    old_feeds = load_settings(watch).feeds
    done = run("feeds", "import", "subs.opml", "--apply", "--config", str(watch), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    after = watch.read_text("utf-8").splitlines()
    added = [line for line in after if line not in before]
    assert len(after) == len(before) + 4 and len(added) == 4
    # the old lines, every comment included, in their order; the new ones in one place
    at = after.index(added[0])
    assert after[:at] + after[at + 4:] == before
    assert added[0].startswith("  # imported from subs.opml on ")
    assert added[1] == '  - {name: "الشرق الأوسط", url: "https://aawsat.com/feed"}'
    settings = load_settings(watch)
    assert settings.feeds[:len(old_feeds)] == old_feeds and len(settings.feeds) == 27
    assert (watch.stat().st_mode & 0o777) == 0o640      # replaced, with the file's mode
    # the same file again: nothing to add, nothing written
    text = watch.read_bytes()
    again = run("feeds", "import", "subs.opml", "--apply", "--config", str(watch), cwd=tmp_path)
    assert again.returncode == 0 and "nothing to add" in again.stdout
    assert watch.read_bytes() == text and sorted(p.name for p in tmp_path.glob(".watch*")) == []


@pytest.mark.parametrize("text", [
    # block items, a comment heading the next section, no newline at the end
    "feeds:\n  - name: a\n    url: https://a.example/feed  # the first\n\n# rules\ntopic:\n"
    "  any: [x]\nalerts: []",
    # an indentless list, CRLF line ends
    "topic: {any: [x]}\r\nfeeds:\r\n- name: a\r\n  url: \"https://a.example/feed\"\r\n",
    # the list is the end of the file, without a final newline
    "topic: {any: [x]}\nfeeds:\n    - {name: a, url: 'https://a.example/feed'}",
])
def test_text_edit_inserts_after_the_last_feed_in_its_indent(tmp_path, text):
    new = add_feeds_to_text(text, [FeedSpec('b: "#x"', "https://b.example/f?a=1#y")], "note")
    path = tmp_path / "w.yaml"
    path.write_bytes(new.encode())
    feeds = load_settings(path).feeds
    assert [(f.name, f.url) for f in feeds] == [("a", "https://a.example/feed"),
                                                ('b: "#x"', "https://b.example/f?a=1#y")]
    kept = new.replace("\r\n", "\n").splitlines()
    assert [l for l in kept if "note" not in l and "b.example" not in l] == \
        text.replace("\r\n", "\n").splitlines()
    assert ("\r\n" in new) == ("\r\n" in text)


def test_a_flow_list_of_feeds_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a block list"):
        add_feeds_to_text("feeds: [{name: a, url: 'https://a.example/'}]\n",
                          [FeedSpec("b", "https://b.example/")], "note")


def test_a_result_the_loader_refuses_writes_nothing(watch, tmp_path):
    before = watch.read_bytes()
    bad = plan_import([], [], 0, ())
    bad.added.append(FeedSpec("name with\x07bell", "https://b.example/feed"))
    with pytest.raises(ConfigError, match="one line of text") as refused:
        apply_import(watch, bad, "note", {})
    assert refused.value.file == str(watch) and "nothing written" in str(refused.value)
    assert watch.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


LAUGHS = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
HOSTILE = {
    "billion-laughs": f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY l0 "lol">{LAUGHS}]>'
                      '<opml version="2.0"><body><outline text="&l9;" '
                      'xmlUrl="https://a.example/feed"/></body></opml>',
    "xxe-file": '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY f SYSTEM "file:///etc/passwd">]>'
                '<opml version="2.0"><body><outline text="&f;" xmlUrl="https://a.example/f"/>'
                '</body></opml>',
    "xxe-http": '<?xml version="1.0"?><!DOCTYPE opml SYSTEM "{dtd}"><opml version="2.0">'
                '<body><outline text="x" xmlUrl="https://a.example/f"/></body></opml>',
    "not-xml": "feeds: [this is yaml]",
    "not-opml": '<rss version="2.0"><channel/></rss>',
    "no-body": '<opml version="2.0"><head/></opml>',
}
SAYS = {"billion-laughs": "refused: the file declares a DTD", "xxe-file": "refused",
        "xxe-http": "refused", "not-xml": "not XML", "not-opml": "root element is <rss>",
        "no-body": "no <body>"}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_opml_is_refused_and_nothing_written(kind, watch, tmp_path):
    with FaultServer() as srv:
        srv.respond("/evil.dtd", 200, b'<!ENTITY x "y">')
        (tmp_path / "bad.opml").write_text(HOSTILE[kind].replace("{dtd}", srv.url("/evil.dtd")))
        before = watch.read_bytes()
        done = run("feeds", "import", "bad.opml", "--apply", "--config", str(watch),
                   cwd=tmp_path)
        assert srv.hits["/evil.dtd"] == 0
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("newswatch: opml: ") and SAYS[kind] in line and "bad.opml" in line
    assert watch.read_bytes() == before


def test_too_large_and_deeply_nested_files():
    with pytest.raises(OpmlError, match="larger than"):
        read_opml(b" " * (MAX_OPML_BYTES + 1), "big.opml")
    deep = 15_000
    text = ('<opml version="2.0"><body>' + '<outline text="f">' * deep
            + '<outline text="leaf" xmlUrl="https://deep.example/feed"/>'
            + "</outline>" * deep + "</body></opml>")
    outlines, problems, seen = read_opml(text.encode(), "deep.opml")
    assert [o.url for o in outlines] == ["https://deep.example/feed"] and seen == deep + 1


def test_export_is_opml_2_that_imports_back_as_the_same_feeds(watch, tmp_path):
    done = run("feeds", "export", "--config", str(watch), cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    doc = SafeET.fromstring(done.stdout.encode())
    assert doc.tag == "opml" and doc.get("version") == "2.0"
    feeds = load_settings(watch).feeds
    outlines, problems, seen = read_opml(done.stdout.encode(), "export.opml")
    assert [(o.name, o.url) for o in outlines] == [(f.name, f.url) for f in feeds]
    assert problems == [] and seen == len(feeds)
    # into its own config: all duplicates; into another: every feed, in order
    assert plan_import(outlines, problems, seen, feeds).added == []
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(ROOT / "seeds", other / "seeds")
    (other / "watch.yaml").write_text("# mine\nfeeds:\n  - {name: Mine, url: 'https://m.example/'}"
                                      "\ntopic: {any: [Syria]}\n", encoding="utf-8")
    (tmp_path / "export.opml").write_text(done.stdout, encoding="utf-8")
    applied = run("feeds", "import", "export.opml", "--apply", "--config",
                  str(other / "watch.yaml"), cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert load_settings(other / "watch.yaml").feeds == (FeedSpec("Mine", "https://m.example/"),
                                                         *feeds)


def test_export_redacts_secrets_unless_asked():
    feeds = [FeedSpec("Private", "https://user:pw@p.example/feed?token=s3cret&x=1")]
    text, redacted = export_opml(feeds)
    assert redacted == 1 and "pw" not in text and "s3cret" not in text and "p.example" in text
    text, redacted = export_opml(feeds, with_secrets=True)
    assert redacted == 0 and "user:pw@" in text and "token=s3cret" in text


def test_cli_help_exit_codes_and_the_bare_listing(watch, tmp_path):
    for sub in ("import", "export"):
        helped = run("feeds", sub, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "--config" in helped.stdout
    missing = run("feeds", "import", "nowhere.opml", "--config", str(watch), cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read the file" in missing.stderr
    bad_config = run("feeds", "export", "--config", str(tmp_path / "none.yaml"), cwd=tmp_path)
    assert bad_config.returncode == 2 and "file not found" in bad_config.stderr
    listed = run("feeds", "--json", "--config", str(watch), cwd=tmp_path)   # pipeline/feedlist
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 24


def test_cli_refuses_a_config_it_cannot_edit_and_writes_nothing(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    cfg = tmp_path / "flow.yaml"
    cfg.write_text("feeds: [{name: a, url: 'https://a.example/feed'}]\ntopic: {any: [x]}\n")
    (tmp_path / "subs.opml").write_text(SUBS, encoding="utf-8")
    before = cfg.read_bytes()
    done = run("feeds", "import", "subs.opml", "--apply", "--config", str(cfg), cwd=tmp_path)
    assert done.returncode == 2 and "not a block list" in done.stderr
    assert cfg.read_bytes() == before
