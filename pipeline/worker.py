"""What every extraction worker needs before its first page, done once.

This module is imported in the forkserver (``cycle.py`` names it as the pool's
forkserver preload), and every extraction worker, recycled ones too, is
forked from there. So what it imports and warms here is paid once per
service process instead of once per worker:

* the imports: trafilatura, numpy (fingerprints), the rule engine;
* (not dateparser: its ~600 locales cost 2-4 s of CPU to compile, and it is
  only reached through htmldate's extensive search, which
  ``extract.extraction_options`` turns off);
* the other tables trafilatura loads on first need: justext's stop words of
  all languages (0.3 s, for pages where trafilatura falls back on justext) and
  the list of top-level domains (0.15 s);
* one whole extraction of a small page, for whatever else is loaded lazily.

Warming is an optimisation only: if any of it fails, workers start cold and
extract the same way.
"""

from __future__ import annotations

import gc
import os
import threading


def _exit_if_orphaned(parent: int, done: threading.Event) -> None:
    """The forkserver serves its parent only once this preload is done, so a
    parent killed mid-warm-up (SIGKILL, OOM: seconds on a busy machine) would
    leave it warming up for nobody, holding the resource tracker with it."""
    while not done.wait(0.2):
        if os.getppid() != parent:
            os._exit(0)


_warming = threading.Event()
# the pool names the process it serves (it may be dead already, before this line runs)
_parent = int(os.environ.get("NEWSWATCH_POOL_PARENT") or os.getppid())
_watch = threading.Thread(target=_exit_if_orphaned, args=(_parent, _warming),
                          daemon=True, name="newswatch-warm-up-watch")
_watch.start()
# started before the heavy imports below: they alone take seconds on a busy machine

import trafilatura  # noqa: E402,F401  (imported for the workers)

from pipeline import verdict  # noqa: E402,F401  (imported for the workers)
from pipeline.config import DedupeConfig, ExtractConfig  # noqa: E402

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Warm-up page | Newswatch</title>
<meta property="og:title" content="Warm-up page"></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Warm-up page</h1><p class="byline">By Newswatch, Wed 11 Dec. 2024</p>
<p>{para}</p><p>{para}</p><p>{para}</p></article>
<footer>Copyright Newswatch</footer></body></html>"""

_PARA = ("Families of detainees gathered outside the prison on Wednesday, reading the "
         "lists of names that volunteers had pinned to the gate, while lawyers asked the "
         "new authorities to publish the records found in the archives.")


def warm_up() -> None:
    """Pay the one-time costs of extraction in this process (see the module
    docstring); never raises."""
    try:
        from courlan.urlutils import get_tldinfo
        from trafilatura import external

        if external.JT_STOPLIST is None:
            external.jt_stoplist_init()
        get_tldinfo("https://www.example.org/")
        html = _PAGE.format(para=_PARA).encode("utf-8")
        from pipeline.match.rules import parse_rule_set

        topic, alerts = parse_rule_set({"any": ["detainees"]}, [], {})
        verdict.judge_html(html, "https://example.org/2024/12/11/warm-up", ExtractConfig(),
                           DedupeConfig(), verdict.RuleSet.of(topic, alerts), "Warm-up", "")
    except Exception:  # noqa: BLE001  an optimisation: cold workers still work
        pass


warm_up()
# stopped before the forkserver forks anything: a worker inherits no thread
_warming.set()
_watch.join()
# Everything the forkserver holds now is inherited by every worker. Frozen, the
# cyclic garbage collector never scans it again, in the forkserver or in a
# worker, so a worker's collections stay short and do not write into (and so
# copy) the memory it shares with its siblings.
gc.freeze()
