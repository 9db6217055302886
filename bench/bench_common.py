"""What the pipeline benchmarks (``flood.py``, ``trickle.py``, ``memory.py``)
share: the news web run as its own process (``tests/benchweb.py``), the
benchmark's config, and the lines that say where and how a figure was made."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import psutil
import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (ROOT, BENCH, ROOT / "tests"):   # tests/: newsweb, benchweb
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

PY = sys.executable
# A topic that keeps a realistic share of general news (about a third of the
# benchmark's pages: politics, courts, police); the alert rules are the
# shipped config's (config/watch.yaml), so matching costs what it costs there.
BENCH_TOPIC = {"any": ["president*", "police", "court*", "elect*", "parliament*",
                       "prison*", "senat*", "minister*"]}


def say(cmd: str) -> None:
    print(f"\n$ {cmd}", flush=True)


def command(script: str, argv: list[str]) -> str:
    """The command line that made a figure, as printed above it."""
    return f".venv/bin/python bench/{script} {' '.join(argv)}".rstrip()


def machine_line() -> str:
    return (f"# {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}")


def web_arguments(ap: argparse.ArgumentParser, latency: float = 0.05) -> None:
    """The news web's size, the arguments every pipeline benchmark takes."""
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--per-feed", type=int, default=40)
    ap.add_argument("--latency", type=float, default=latency)
    ap.add_argument("--dup-share", type=float, default=0.05)


class Web:
    """The benchmarks' news web in a process of its own (its CPU is measured
    apart from the service's), driven through its ``/_control/`` URLs."""

    def __init__(self, *, feeds: int, per_feed: int, latency: float, hosts: int = 10,
                 dup_share: float = 0.05):
        self.args = ["--feeds", str(feeds), "--per-feed", str(per_feed), "--latency",
                     str(latency), "--hosts", str(hosts), "--dup-share", str(dup_share)]
        self.feeds, self.per_feed, self.dup_share = feeds, per_feed, dup_share
        t = time.perf_counter()
        self.proc = subprocess.Popen([PY, str(ROOT / "tests" / "benchweb.py"), *self.args],
                                     stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.control, self.source = info["control"], info["source"]
        self.ps = psutil.Process(self.proc.pid)
        prep = self.ctl("prepare")
        self.config = self.ctl("config")
        self.setup_seconds = time.perf_counter() - t
        self.prepare_seconds = prep["seconds"]

    def ctl(self, what: str) -> dict:
        with urllib.request.urlopen(self.control + what, timeout=600) as r:
            return json.loads(r.read())

    def publish(self, n: int) -> None:
        self.ctl(f"publish?n={n}")
        self.ctl("prepare")
        self.config = self.ctl("config")

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def write_config(folder: Path, web: Web, *, topic=None) -> Path:
    shipped = yaml.safe_load((ROOT / "config" / "watch.yaml").read_text("utf-8"))
    doc = {
        "feeds": [{"name": f"Bench {i}", "url": u} for i, u in enumerate(web.config["feeds"])],
        "topic": topic or BENCH_TOPIC,
        "alerts": shipped["alerts"],
        "variants": shipped.get("variants", {}),
        # these benchmarks run cycles back to back and measure what one costs: every
        # feed polled every cycle (bench/latency_bench.py measures the adaptive pace)
        "network": {"allow_private_addresses": True, "poll_adaptive": False},
        "seeds_dir": str(ROOT / "seeds"),
        "timezone": "UTC",
    }
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def env_for(folder: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{folder / 'newswatch.db'}",
            "NEWSWATCH_OUTPUT_DIR": str(folder / "output")}
