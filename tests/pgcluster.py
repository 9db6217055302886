"""A throw-away PostgreSQL cluster for the tests: initdb in a temporary
folder, the server on a Unix socket only (no TCP), stopped and removed after.
``postgres_url`` is the module-scoped fixture; :func:`cluster` the context
manager behind it, for a test that wants its own. `.ci/run` installs
PostgreSQL and sets NEWSWATCH_REQUIRE_POSTGRES=1 so that CI fails rather than
skips."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return None


def require_postgres() -> tuple[str, str]:
    """initdb and pg_ctl, or skip (fail under NEWSWATCH_REQUIRE_POSTGRES)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    missing = not (initdb and pg_ctl)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("NEWSWATCH_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) or psycopg is not installed")
        pytest.skip("PostgreSQL server binaries or psycopg not installed")
    return initdb, pg_ctl  # type: ignore[return-value]


@contextlib.contextmanager
def cluster(port: int = 54329, settings: tuple[str, ...] = ()) -> Iterator[str]:
    """A running cluster's DATABASE_URL; ``settings`` are extra ``-c`` options."""
    initdb, pg_ctl = require_postgres()
    # not under pytest's tmp folder: that one is private to root, and the server
    # runs as the postgres user
    folder = Path(tempfile.mkdtemp(prefix="newswatch-pg-"))
    data, sock = folder / "data", folder / "sock"
    sock.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:   # the server refuses to run as root
        user = pwd.getpwnam("postgres")
        for p in (folder, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, initdb, "-D", str(data), "-U", "newswatch", "--auth=trust",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    options = " ".join([f"-k {sock} -c listen_addresses='' -p {port}",
                        *(f"-c {s}" for s in settings)])
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"),
                    "-o", options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://newswatch@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_url():
    with cluster() as url:
        yield url
