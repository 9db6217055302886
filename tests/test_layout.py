"""The layout the code promises, checked on its source (ast, nothing imported):

* no module over 400 lines and no function over 60, in pipeline/, storage/,
  bench/ and tests/;
* a stage package (every package under pipeline/: fetch, feeds, extract, match,
  dedupe, digest, ...) imports no other stage, nor storage or the recipe: only
  itself and the shared modules (config, errors, records, redact, textnorm);
  digest may also use match's snippet (the outputs show the same excerpt);
* SQLModel and SQLAlchemy are imported under storage/ only: all SQL lives there.

A known exception is named in an allow-list below with the reason it is still
there; an entry that no longer fails makes the test fail too, so each list only
ever shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIZED = ("pipeline", "storage", "bench", "tests")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60
SHARED = {"pipeline.config", "pipeline.errors", "pipeline.records", "pipeline.redact", "pipeline.sanitize",
          "pipeline.textnorm"}
# the edges that orchestrate (digest's writer, delivery) read storage and render the
# digest model; every output shows the same snippet
ALSO_ALLOWED = {"digest": {"pipeline.match.snippet", "pipeline.novelty"},
                "deliver": {"storage", "pipeline.digest", "pipeline.match.snippet"},
                "web": {"storage", "pipeline.digest", "pipeline.match.rules",
                        "pipeline.match.snippet", "pipeline.maintenance"}}
SQL_LIBRARIES = ("sqlmodel", "sqlalchemy")

# "path" or "path::function" -> why it is still allowed
KNOWN_OVERSIZE: dict[str, str] = {}
# (importing module, imported module) -> why it is still allowed
KNOWN_STAGE_IMPORTS: dict[tuple[str, str], str] = {
    ("pipeline.digest.write", "pipeline.dedupe.load_seeds"): "the writer reads the seed "
        "reports for 'new in this report'; the cycle's archive could hand them in",
    ("pipeline.digest.write", "storage"): "the digest's edge orchestrator: write_day reads "
                                          "storage.digest_inputs and records the day; the "
                                          "model and renderers stay pure",
}
# importing module -> why it is still allowed
KNOWN_SQL_IMPORTS: dict[str, str] = {
    "bench.search_bench": "its baseline is the SQL LIKE scan the search replaces, and it "
                          "reads the index's size from dbstat / pg_relation_size",
}


def python_files(*tops: str, root: Path = ROOT) -> list[Path]:
    return sorted(p for top in tops for p in (root / top).rglob("*.py")
                  if "__pycache__" not in p.parts)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as a dotted name (relative
    imports resolved; ``from a import b`` gives a.b, b being a module or a name
    in a: either way what the checks need)."""
    name = module_name(path, root)
    package = (name if path.name == "__init__.py" else name.rpartition(".")[0]).split(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def oversize(root: Path = ROOT) -> set[str]:
    found = set()
    for path in python_files(*SIZED, root=root):
        rel = path.relative_to(root).as_posix()
        source = path.read_text("utf-8")
        if len(source.splitlines()) > MAX_MODULE_LINES:
            found.add(rel)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    found.add(f"{rel}::{node.name}")
    return found


def stage_packages(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.name for p in (root / "pipeline").glob("*/__init__.py"))


def stage_imports(root: Path = ROOT) -> set[tuple[str, str]]:
    """(module of a stage, pipeline or storage module it may not import)."""
    found = set()
    for stage in stage_packages(root):
        own = f"pipeline.{stage}"
        allowed = SHARED | ALSO_ALLOWED.get(stage, set())
        for path in python_files(f"pipeline/{stage}", root=root):
            for name in imported_modules(path, root):
                if name != "pipeline" and not name.startswith(("pipeline.", "storage")):
                    continue            # the standard library and third parties
                if name == own or name.startswith(own + "."):
                    continue
                if any(name == a or name.startswith(a + ".") for a in allowed):
                    continue
                found.add((module_name(path, root), name))
    return found


def sql_imports(root: Path = ROOT) -> set[str]:
    return {module_name(path, root) for path in python_files("pipeline", "bench", root=root)
            if any(n.split(".")[0] in SQL_LIBRARIES for n in imported_modules(path, root))}


def _check(found: set, known: dict, what: str) -> None:
    new = sorted(str(x) for x in found - set(known))
    fixed = sorted(str(x) for x in set(known) - found)
    assert not new, f"{what}:\n  " + "\n  ".join(new)
    assert not fixed, f"fixed, take them off the allow-list:\n  " + "\n  ".join(fixed)


def test_no_module_over_400_lines_and_no_function_over_60():
    _check(oversize(), KNOWN_OVERSIZE, f"over {MAX_MODULE_LINES} lines a module or "
                                       f"{MAX_FUNCTION_LINES} a function")


def test_stage_packages_import_no_other_stage():
    assert {"fetch", "feeds", "extract", "match", "dedupe", "digest"} <= set(stage_packages())
    _check(stage_imports(), KNOWN_STAGE_IMPORTS, "a stage importing another stage, storage or "
                                                 "the recipe")


def test_sql_libraries_only_under_storage():
    _check(sql_imports(), KNOWN_SQL_IMPORTS, "SQLModel or SQLAlchemy imported outside storage/")


@pytest.mark.parametrize("source, expected", [
    ("from pipeline import dedupe, config", {"pipeline.dedupe", "pipeline.config"}),
    ("from .. import records\nfrom .index import x", {"pipeline.records",
                                                     "pipeline.dedupe.index.x"}),
    ("from pipeline.match import snippet", {"pipeline.match.snippet"}),
    ("def f():\n    import storage.queries", {"storage.queries"}),
])
def test_imports_are_read_wherever_and_however_they_are_written(tmp_path, source, expected):
    fake = tmp_path / "pipeline" / "dedupe" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    assert imported_modules(fake, root=tmp_path) == expected


def test_the_checks_find_what_they_are_for(tmp_path):
    def write(rel: str, text: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    write("pipeline/match/__init__.py", "from pipeline.dedupe import fingerprint\n")
    write("pipeline/match/rules.py", "from pipeline.textnorm import x\nfrom . import judge\n")
    write("pipeline/dedupe/__init__.py", "import storage\nfrom pipeline import cycle\n")
    write("pipeline/digest/__init__.py", "from pipeline.match import snippet\n")
    write("pipeline/cycle.py", "from pipeline import dedupe, match\nimport sqlalchemy\n")
    write("bench/x.py", "def f():\n    from sqlmodel import select\n" + "    pass\n" * 60)
    write("storage/queries.py", "from sqlalchemy import func\n" + "\n" * 400)
    assert stage_imports(tmp_path) == {("pipeline.match", "pipeline.dedupe.fingerprint"),
                                       ("pipeline.dedupe", "storage"),
                                       ("pipeline.dedupe", "pipeline.cycle")}
    assert sql_imports(tmp_path) == {"pipeline.cycle", "bench.x"}
    assert oversize(tmp_path) == {"bench/x.py::f", "storage/queries.py"}
