"""Several replicas on one PostgreSQL (issue 20): N feeds on loopback, one
replica against three, each replica a separate process running whole cycles
(``run_cycle``) against a throw-away cluster.

The workload is the steady state of a large feed list: feeds with nothing new
(the first cycle gets 200s and creates every feed's row, the second 304s).
Printed per setup and cycle: wall time and throughput (feeds per second, all
replicas together), throughput per replica (its feeds over its own cycle
time: the figure that scales, since on 2 cores the replicas share CPU), the
claim overhead per feed (time in ``leases.claim_due`` + ``leases.release``
over the feeds claimed), and database round trips per cycle (statements sent,
counted on the engine), in total and within the claim. Also checked: every
feed polled once per cycle round, none by two replicas (the server's log).

    .venv/bin/python bench/scale_bench.py --feeds 3000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench_common import PY, ROOT, command, machine_line

sys.path.insert(0, str(ROOT / "tests"))


def replica(argv: list[str]) -> None:
    """One replica: open the pipeline, say ready, wait for "go", run the cycles."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--db")
    ap.add_argument("--cycles", type=int)
    a = ap.parse_args(argv)
    import storage
    from pipeline import leases
    from pipeline.config import load_settings
    from pipeline.cycle import open_pipeline, run_cycle
    from storage.leases import RoundTrips

    from datetime import datetime, timezone

    def time_now():
        return datetime.now(timezone.utc)

    settings = load_settings(a.config, env={"DATABASE_URL": a.db})
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    trips = RoundTrips(store)
    counts = Counter()
    claim_time = [0.0]

    def timed(fn, key):
        def inner(*args, **kw):
            before, t = trips.count, time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                claim_time[0] += time.perf_counter() - t
                counts[key] += trips.count - before
        return inner

    leases.claim_due = timed(leases.claim_due, "claim")
    leases.release = timed(leases.release, "claim")
    leases.heartbeat(store, time_now())     # counted among the replicas sharing the feeds
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(a.cycles):
        counts.clear()
        trips.count, claim_time[0] = 0, 0.0
        t = time.perf_counter()
        summary = run_cycle(pipeline)
        print(json.dumps({"feeds": summary.feeds_polled, "seconds": time.perf_counter() - t,
                          "claim_seconds": claim_time[0], "statements": trips.count,
                          "claim_statements": counts["claim"],
                          "failed": summary.feeds_failed}), flush=True)
    pipeline.close()
    store.close()


def run_setup(n_replicas: int, url: str, cfg: Path, cycles: int) -> list[list[dict]]:
    procs = [subprocess.Popen([PY, __file__, "--replica", "--config", str(cfg), "--db", url,
                               "--cycles", str(cycles)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for _ in range(n_replicas)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    results: list[list[dict]] = [[] for _ in procs]
    ends: list[list[float]] = [[] for _ in procs]
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()

    def collect(i: int) -> None:
        for _ in range(cycles):
            results[i].append(json.loads(procs[i].stdout.readline()))
            ends[i].append(time.perf_counter() - start)

    threads = [threading.Thread(target=collect, args=(i,)) for i in range(len(procs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.wait(60)
    for i, r in enumerate(results):
        for c, row in enumerate(r):
            row["ended"] = ends[i][c]
    return results


def overlaps(log) -> int:
    spans: dict[str, list] = {}
    for r in log:
        if r.path.startswith("/feeds/"):
            spans.setdefault(r.path, []).append((r.started, r.ended or float("inf")))
    return sum(b[0] < a[1] for s in spans.values() for a, b in zip(sorted(s), sorted(s)[1:]))


def report(n: int, results: list[list[dict]], feeds: int, cycles: int) -> None:
    for c in range(cycles):
        rows = [r[c] for r in results]
        wall = max(r["ended"] for r in rows) - (min(r["ended"] - r["seconds"] for r in rows))
        polled = sum(r["feeds"] for r in rows)
        claim = sum(r["claim_seconds"] for r in rows)
        per_replica = [r["feeds"] / r["seconds"] for r in rows]
        print(f"{n} replica(s), cycle {c + 1} ({'200s, rows created' if c == 0 else '304s'}): "
              f"{polled} feeds polled ({', '.join(str(r['feeds']) for r in rows)}), "
              f"wall {wall:.2f}s, throughput {polled / wall:.0f} feeds/s; per replica "
              f"{', '.join(f'{x:.0f}' for x in per_replica)} feeds/s; claim overhead "
              f"{1000 * claim / max(polled, 1):.3f} ms/feed ({claim:.2f}s); round trips per "
              f"cycle {sum(r['statements'] for r in rows)} "
              f"({sum(r['claim_statements'] for r in rows)} in the claim, "
              f"{sum(r['statements'] for r in rows) / max(polled, 1):.2f}/feed); "
              f"failed {sum(r['failed'] for r in rows)}", flush=True)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--replica"]:
        return replica(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=3000)
    ap.add_argument("--cycles", type=int, default=2)
    a = ap.parse_args(argv)
    import tempfile

    from conftest import write_config
    from newsweb import rss, start_newsweb
    from pgcluster import cluster

    print(f"$ {command('scale_bench.py', argv)}\n{machine_line()}", flush=True)
    web = start_newsweb(hosts=10)
    urls = [web.hosts[f % 10] + web.add(f"/feeds/{f}.xml", rss(f"Feed {f}", []),
                                        content_type="application/rss+xml", kind="feed")
            .removeprefix(web.base) for f in range(a.feeds)]
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    cfg = write_config(folder, [{"name": f"Feed {i}", "url": u} for i, u in enumerate(urls)],
                       network={"max_connections": 64, "max_per_host": 16})
    for port, n in ((54341, 1), (54342, 3)):
        with cluster(port=port) as url:
            import storage
            storage.open_store(url).close()     # the tables, before the replicas race
            web.clear_log()
            results = run_setup(n, url, cfg, a.cycles)
            report(n, results, a.feeds, a.cycles)
            print(f"  feed requests in flight together for the same feed: {overlaps(web.log)}",
                  flush=True)
    web.close()


if __name__ == "__main__":
    main(sys.argv[1:])
