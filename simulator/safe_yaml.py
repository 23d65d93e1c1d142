"""Reading a YAML file that a person wrote, or that an attacker crafted, without surprises.

:func:`read_yaml` is ``yaml.safe_load`` with limits: the file must be UTF-8 text of a
bounded size; a key may appear once per mapping (PyYAML silently keeps the last); nesting
is bounded (PyYAML's composer recurses, so a few hundred levels end in ``RecursionError``);
aliases may not expand to more than a bounded number of values (a "billion laughs" file
is a few hundred bytes) nor refer to their own anchor. Every refusal is a
:class:`YamlFileError` saying where (``line L, column C`` or ``(file)``) and what.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.error import Mark, MarkedYAMLError

MAX_BYTES = 16 * 2**20
MAX_DEPTH = 64
MAX_VALUES = 1_000_000  # values after alias expansion: a planner's level table fits easily


class YamlFileError(Exception):
    """A file that is not usable YAML: ``where`` is ``line L, column C`` or ``(file)``."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}")


class _LimitExceeded(MarkedYAMLError):
    """A limit of this module, raised where PyYAML raises its own errors (with a mark)."""


class BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys, deep nesting and alias expansion bombs."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0  # values composed so far, each alias counting its anchor's size
        self._sizes: dict[int, int] = {}  # id(node) -> values in it, once it is complete

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:
                raise _LimitExceeded(problem="an alias refers to its own anchor (a loop)",
                                     problem_mark=mark)
            self._count(size, mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitExceeded(problem=f"nested more than {MAX_DEPTH} levels deep",
                                 problem_mark=mark)
        before = self._values
        self._count(1, mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._sizes[id(node)] = self._values - before
        return node

    def _count(self, values: int, mark: Mark) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise _LimitExceeded(
                problem=f"more than {MAX_VALUES:,} values once aliases are expanded "
                "(an alias bomb?)", problem_mark=mark)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # a 13th month, a 5,000-digit integer
            reason = str(exc).split(";")[0]
            raise ConstructorError(problem=f"cannot read {reprlib.repr(node.value)}: {reason}",
                                   problem_mark=node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` may be overridden by the keys beside it
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue  # an unhashable key: the base class says so
                if seen is not key_node.start_mark:
                    raise ConstructorError(
                        problem=f"duplicate key {key!r} (first given on line {seen.line + 1}); "
                        "give each key once", problem_mark=key_node.start_mark)
        return super().construct_mapping(node, deep)


def _where(mark: Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"


def _position(text: str | bytes, offset: int) -> str:
    before = text[:offset]
    newline = "\n" if isinstance(text, str) else b"\n"
    line = before.count(newline) + 1
    return f"line {line}, column {offset - (before.rfind(newline) + 1) + 1}"


def parse_yaml(text: str) -> Any:
    """Parse one YAML document with the limits above; :class:`YamlFileError` if refused."""
    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.reader.ReaderError as exc:
        problem = f"not valid YAML: character U+{exc.character:04X} is not allowed (binary data?)"
        raise YamlFileError(_position(text, exc.position), problem) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        prefix = "" if isinstance(exc, _LimitExceeded | ConstructorError) else "not valid YAML: "
        raise YamlFileError(_where(mark), prefix + problem) from None
    except yaml.YAMLError as exc:
        raise YamlFileError("(file)", f"not valid YAML: {exc}") from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH is far below the stack limit
        raise YamlFileError("(file)", "nested too deeply") from None


def read_yaml(path: Path) -> Any:
    """Read ``path`` (UTF-8 text, at most :data:`MAX_BYTES`) and parse it."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise YamlFileError("(file)", exc.strerror or str(exc)) from None
    if len(data) > MAX_BYTES:
        raise YamlFileError("(file)", f"larger than {MAX_BYTES // 2**20} MB; not a scenario?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = _position(data, exc.start)
        raise YamlFileError(where, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                                   "save the file as UTF-8") from None
    return parse_yaml(text)
