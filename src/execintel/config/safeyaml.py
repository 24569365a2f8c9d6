"""The YAML reader of manifests and handoff files: safe, strict, and bounded in depth and alias expansion.

PyYAML's ``SafeLoader`` builds no Python objects beyond plain data, but left alone it still:

- recurses once per level of nesting, so ``[[[[...]]]]`` thousands deep ends in a ``RecursionError``;
- shares what an alias names instead of copying it, so a "billion laughs" document (each list holding
  nine aliases of the previous one) loads quickly and then explodes in whatever walks it: the manifest's
  line index, validation, ``str()`` of a handoff's numbers;
- reads ``1_000`` as 1000, ``017`` as 15, ``0x1F`` as 31, ``1:30`` as 90 and ``.inf`` as infinity.

:class:`StrictYamlLoader` refuses a document nested more than :data:`MAX_DEPTH` levels (directly or through
aliases), a document whose aliases add more than :data:`MAX_ALIAS_VALUES` values to it, and an alias of a
node that contains it; each refusal is a ``yaml.MarkedYAMLError`` with the line. It also refuses duplicate
keys, keeps impossible dates (``2026-13-01``) as text, and keeps every number that is not written as a plain
decimal (``-12``, ``1800``, ``0.15``, ``1.5e3``) as text, so the model reports it with its value.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = [
    "MAX_ALIAS_VALUES",
    "MAX_DEPTH",
    "StrictYamlLoader",
    "YamlLimitError",
    "load_yaml",
    "yaml_error_line",
    "yaml_error_message",
]

MAX_DEPTH = 64
"""Levels of nesting a manifest or handoff may have (a manifest needs about 6)."""
MAX_ALIAS_VALUES = 100_000
"""Values that aliases may add to one document, counting everything each alias stands for."""

_PLAIN_INT = re.compile(r"[-+]?[0-9]+\Z")
_PLAIN_FLOAT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")


class YamlLimitError(yaml.composer.ComposerError):
    """A document refused for its shape, not its syntax: too deep, or too much alias expansion."""


class StrictYamlLoader(yaml.SafeLoader):
    """A safe YAML loader with the limits and the strict scalars described in the module docstring."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0  # levels of the node being composed
        self._alias_values = 0  # values added by aliases so far
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values it stands for, depth), once composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, refusing too deep a nesting, a recursive alias, or too much alias expansion."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # the anchored node is still being composed: the alias is inside it
                raise self._refuse(event, f"alias *{event.anchor} refers to a node that contains it")
            self._alias_values += size[0]
            if self._alias_values > MAX_ALIAS_VALUES:
                raise self._refuse(
                    event,
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values (here *{event.anchor}); "
                    "write the values out or use fewer aliases",
                )
            if self._depth + size[1] > MAX_DEPTH:
                raise self._refuse(event, f"nests more than {MAX_DEPTH} levels deep (through alias *{event.anchor})")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._refuse(event, f"nests more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes = [self._sizes.get(id(child), (1, 1)) for child in children]
        self._sizes[id(node)] = (1 + sum(s[0] for s in sizes), 1 + max((s[1] for s in sizes), default=0))
        return node

    @staticmethod
    def _refuse(event: Any, message: str) -> YamlLimitError:
        return YamlLimitError(None, None, message, event.start_mark)


def _construct_mapping(loader: StrictYamlLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden here
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: construct_mapping reports it with its place
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: StrictYamlLoader, node: yaml.ScalarNode) -> Any:
    # YAML resolves 2026-13-01 as a timestamp and then fails to build it; keep the text so
    # the model reports it as a bad date with its key path instead of a crash.
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


def _construct_int(loader: StrictYamlLoader, node: yaml.ScalarNode) -> Any:
    # YAML 1.1 reads 1_000, 017 (octal), 0x1F and 1:30 (base 60) as integers; only a plain decimal is one here.
    text = str(loader.construct_scalar(node))
    return int(text) if _PLAIN_INT.match(text) else text


def _construct_float(loader: StrictYamlLoader, node: yaml.ScalarNode) -> Any:
    # Likewise 1_000.5, 1:30.5, .inf and .nan: kept as text, which a number field refuses with its value.
    text = str(loader.construct_scalar(node))
    return loader.construct_yaml_float(node) if _PLAIN_FLOAT.match(text) else text


StrictYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
StrictYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
StrictYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
StrictYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of a one-document YAML text and its node tree (for the line of each key); parsed once."""
    loader = StrictYamlLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    return data, node


def yaml_error_line(exc: yaml.MarkedYAMLError) -> int | None:
    """The 1-based line a YAML error points at."""
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else None


def yaml_error_message(exc: yaml.MarkedYAMLError) -> str:
    """A YAML error as one sentence (``invalid YAML: ...`` unless a limit refused the document)."""
    if isinstance(exc, YamlLimitError):
        return str(exc.problem)
    return f"invalid YAML: {_syntax_error(exc)}"


def _syntax_error(exc: yaml.MarkedYAMLError) -> str:
    """A YAML syntax error as one sentence; the context names where the broken construct started."""
    what = exc.problem or exc.context or "invalid YAML"
    context, start, end = exc.context, exc.context_mark, exc.problem_mark
    if exc.problem and context and start is not None and end is not None and start.line != end.line:
        what += f" ({context} at line {start.line + 1})"
    return what
