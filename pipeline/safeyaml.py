"""Reading the config's YAML with bounds, so that no edit can hang or crash a loader.

``yaml.safe_load`` constructs no objects, but it still takes whatever shape
the text has: 10,000 nested brackets raise RecursionError (and take PyYAML's
pure-Python scanner half a minute first), a few lines of aliases that repeat
aliases (the "billion laughs") build a document with 10^9 values for whoever
walks it next, and an alias may even contain itself. Here the text is
composed into YAML nodes first and their shape checked before anything is
built: at most :data:`MAX_DEPTH` levels, at most :data:`MAX_VALUES` values
counting every alias as the copy it stands for, no recursive alias, at most
:data:`MAX_BYTES` of text. ``config/watch.yaml`` is 8 levels deep and holds
566 values. Every failure is a :class:`ConfigError` naming the file (and the
top-level key it is under, when there is one).

libyaml's loader (``yaml.CSafeLoader``) is used when PyYAML was built with it:
it reads ``config/watch.yaml`` ~8x faster (4 ms instead of 32, bench/config_load.py)
and bounds nesting itself; the pure-Python loader is bounded by :class:`_BoundedPyLoader`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_VALUES = 100_000


class _BoundedPyLoader(yaml.SafeLoader):
    """The pure-Python loader with its nesting bounded while it scans and
    composes: its scanner is quadratic in the flow depth, its composer recursive."""

    _depth = 0

    def fetch_flow_collection_start(self, TokenClass) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(None, None, f"nested deeper than {MAX_DEPTH} "
                                            "levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} "
                                                  "levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


LOADER = getattr(yaml, "CSafeLoader", None) or _BoundedPyLoader


def load_mapping(path: Path, loader: type = LOADER) -> dict:
    """The file's top-level mapping ({} for an empty file).

    Raises FileNotFoundError when there is no file (the caller words that),
    ConfigError for everything else.
    """
    file = str(path)
    text = _read_text(Path(path), file)
    reader = loader(text)
    try:
        node = reader.get_single_node()
        if node is None:
            return {}
        _check_shape(node, file)
        doc = reader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML{where}: {problem}".replace("\n", " "),
                          file=file) from exc
    finally:
        reader.dispose()
    if not isinstance(doc, dict):
        raise ConfigError("the top level must be a mapping of keys", file=file)
    return doc


def _read_text(path: Path, file: str) -> str:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from exc
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 1024} KiB; a config is a few KiB",
                          file=file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start} is not valid); save the file "
                          "as UTF-8", file=file) from None


def _check_shape(root: yaml.Node, file: str) -> None:
    """Depth and expanded size of the node graph, aliases counted as copies;
    an error names the top-level key it is under."""
    measured: dict[int, tuple[int, int]] = {}    # id(node) -> (depth, values)
    pairs = root.value if isinstance(root, yaml.MappingNode) else [(None, root)]
    total = 0
    for key_node, value in pairs:
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        total += _measure(value, measured, name, file)
        if total > MAX_VALUES:
            raise ConfigError(f"expands to more than {MAX_VALUES:,} values (aliases "
                              "repeating aliases?)", file=file, key=name)


def _measure(top: yaml.Node, measured: dict[int, tuple[int, int]], name: str | None,
             file: str) -> int:
    """The values under ``top``, counted without recursion and memoised per node,
    so a billion laughs costs as many steps as it has distinct nodes."""
    open_nodes: set[int] = set()                 # being measured: on the current path
    stack: list[tuple[yaml.Node, bool]] = [(top, False)]
    while stack:
        node, children_measured = stack.pop()
        ident = id(node)
        if children_measured:
            kids = [measured[id(k)] for k in _children(node)]
            depth = 1 + max((d for d, _ in kids), default=0)
            values = 1 + sum(v for _, v in kids)
            if depth >= MAX_DEPTH:               # the top-level mapping is one more level
                raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", file=file,
                                  key=name)
            if values > MAX_VALUES:
                raise ConfigError(f"expands to more than {MAX_VALUES:,} values (aliases "
                                  "repeating aliases?)", file=file, key=name)
            open_nodes.discard(ident)
            measured[ident] = (depth, values)
        elif ident in open_nodes:
            raise ConfigError(f"an alias at line {node.start_mark.line + 1} refers to a "
                              "value that contains it", file=file, key=name)
        elif ident not in measured:
            open_nodes.add(ident)
            stack.append((node, True))
            stack.extend((k, False) for k in _children(node) if id(k) not in measured)
    return measured[id(top)][1]


def _children(node: yaml.Node) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
