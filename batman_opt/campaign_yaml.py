"""Reading a campaign file's YAML: a safe loader that keeps the line of every mapping key and
sequence item, so that a problem found later (pydantic validation, the evaluator's own checks) is
reported as one `file:line: field: message` line (`located`).

`read_campaign_yaml(path)` returns the document and its lines, or raises SpecError naming the file
and line of unreadable, undecodable, malformed, too deeply nested or ambiguous YAML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from batman_opt.errors import SpecError
from batman_opt.userfiles import user_text

Lines = dict[tuple[int, Any], int]  # (id of a dict or list, key or index) -> 1-based line


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that remembers the line of every mapping key and sequence item.

    Booleans are YAML 1.2's (true/false only: `yes`, `no`, `on`, `off` stay text, so a key `yes:`
    is the text it looks like), keys must be text, and merge keys (`<<: *defaults`) work, the
    mapping's own keys overriding the merged ones."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 24  # nesting levels of a campaign file (a campaign needs 4)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    own = sum(key.tag != _MERGE_TAG for key, _ in node.value)
    loader.flatten_mapping(node)  # merged pairs first, then the mapping's own
    merged = len(node.value) - own
    mapping: dict[Any, Any] = {}
    own_keys: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.MarkedYAMLError(
                problem=f"key {_shown(key)} is not text (write it as a name, quoted if need be)",
                problem_mark=key_node.start_mark,
            )
        if index >= merged:
            if key in own_keys:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            own_keys.add(key)
        mapping[key] = loader.construct_object(value_node, deep=True)
        loader.lines[id(mapping), key] = key_node.start_mark.line + 1
    return mapping


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = [loader.construct_object(child, deep=True) for child in node.value]
    for index, child in enumerate(node.value):
        loader.lines[id(items), index] = child.start_mark.line + 1
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _too_deep(node: yaml.Node) -> yaml.Node | None:
    """The first node nested deeper than MAX_DEPTH (walked without recursion), if any."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            return current
        if isinstance(current, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in current.value]
        elif isinstance(current, yaml.MappingNode):
            stack += [(child, depth + 1) for pair in current.value for child in pair]
    return None


def _line_of(data: Any, lines: Lines, loc: tuple[Any, ...]) -> int | None:
    """Line of the deepest element of `loc` found in the YAML (1-based), if any."""
    line = None
    node = data
    for part in loc:
        if isinstance(node, (dict, list)) and (id(node), part) in lines:
            line = lines[id(node), part]
            node = node[part]
        else:
            break
    return line


def read_campaign_yaml(path: Path) -> tuple[Any, Lines]:
    """The YAML document of `path` and the line of each of its keys and items (`Lines`)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read campaign file ({exc.strerror or exc})") from None
    text = user_text(path, raw, "UTF-8 text", SpecError)
    loader = None
    try:
        loader = _LineLoader(text)
        loader.lines = {}
        node = loader.get_single_node()
        deep = _too_deep(node) if node is not None else None
        if deep is not None:
            raise SpecError(
                f"{path}:{deep.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep; "
                "a campaign is a few sections of lists and mappings"
            )
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise SpecError(
            f"{path}:{line}: invalid YAML: unacceptable character {what} ({exc.reason})"
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise SpecError(f"{path}: invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, loader.lines


def located(path: Path, data: Any, lines: Lines, loc: tuple[Any, ...], message: str) -> str:
    """'file:line: field: message', the line of the deepest part of `loc` found in the file."""
    field = ".".join(str(p) if str(p).isprintable() else repr(p) for p in loc) or "campaign"
    line = _line_of(data, lines, loc)
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {field}: {message}"
