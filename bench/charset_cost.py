"""What the charset check costs: ``parse_feed`` on feeds whose charset is right,
against the same parse with the check switched off (the plain parse), measured in
the same run; and what a lying feed's detection costs on top.

Feeds: 200 real entries of the replay set (``tests/fixtures/replay/``, English,
some typographic quotes: not pure ASCII) as UTF-8 RSS, and the novelty set's Arabic
sentences as UTF-8 RSS; then that Arabic feed as Windows-1256 under ``charset=utf-8``.

    .venv/bin/python bench/charset_cost.py [ROUNDS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests", ROOT / "tests" / "fixtures" / "novelty"):
    sys.path.insert(0, str(_path))

from arabic import A0  # noqa: E402
from newsweb import rss  # noqa: E402
from pipeline.feeds import charsets, parse as feed_parse  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def replay_feed() -> bytes:
    lines = (ROOT / "tests" / "fixtures" / "replay" / "entries.jsonl").read_text("utf-8")
    items = [json.loads(l) for l in lines.splitlines()[:200]]
    return rss("Replay", [{"title": i["title"] or "", "link": i["link"],
                           "description": i["description"] or ""} for i in items]).encode()


def arabic_feed() -> str:
    sentences = A0 * 16
    return rss("أخبار", [{"title": s[:70], "link": f"https://ar.example/{n}",
                          "description": s} for n, s in enumerate(sentences)])


def parse(body: bytes, charset: str | None) -> None:
    feed_parse.parse_feed(body, feed_name="f", feed_url="https://x.example/feed",
                          content_type="application/rss+xml", charset=charset)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(body: bytes, charset: str | None) -> tuple[float, float, float]:
    """Medians (ms) of the plain parse, the checked parse and the check alone;
    plain and checked alternate round by round, so load on the machine hits both."""
    checked, off = feed_parse.fit_charset, (lambda b, c: (b, c, None))
    plain, full, check = [], [], []
    for n in range(ROUNDS + 1):
        feed_parse.fit_charset = off
        p = timed(lambda: parse(body, charset))
        feed_parse.fit_charset = checked
        f = timed(lambda: parse(body, charset))
        c = timed(lambda: checked(body, charset))
        if n:                                   # the first round warms imports and caches
            plain.append(p), full.append(f), check.append(c)
    return tuple(statistics.median(t) * 1000 for t in (plain, full, check))


def main() -> None:
    ar = arabic_feed()
    cases = [("replay, UTF-8 (right)", replay_feed(), "utf-8"),
             ("Arabic, UTF-8 (right)", ar.encode("utf-8"), "utf-8"),
             ("Arabic, UTF-8, no charset declared", ar.encode("utf-8"), None),
             ("Arabic, cp1256 declared (right)", ar.replace('"utf-8"', '"windows-1256"')
              .encode("cp1256"), "windows-1256")]
    print(f"median of {ROUNDS} rounds; baseline: the same parse with the check off")
    for label, body, charset in cases:
        plain, full, check = compare(body, charset)
        print(f"{label:36s} {len(body) / 1024:4.0f} KiB  plain {plain:6.2f} ms  "
              f"checked {full:6.2f} ms  (ratio {full / plain:.3f})  check alone "
              f"{check:6.3f} ms = {check / plain:.4f} of the plain parse")
    lying = ar.encode("cp1256")
    assert charsets.fit_charset(lying, "utf-8")[2], "the lying feed was not detected"
    plain, full, check = compare(lying, "utf-8")
    print(f"{'Arabic, cp1256 under charset=utf-8':36s} {len(lying) / 1024:4.0f} KiB  "
          f"(mojibake) {plain:6.2f} ms  detected {full:6.2f} ms  (ratio {full / plain:.3f})  "
          f"detection alone {check:6.2f} ms")


if __name__ == "__main__":
    main()
