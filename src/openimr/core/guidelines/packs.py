"""Licensed criteria packs: guideline rules a review organization loads without changing code.

A pack is a YAML (or JSON) file in the rules file's own shape (``sources``, ``conditions``,
``drug_classes``, ``rules``, each entry as ``mtus.yaml`` has it) under a ``pack`` header naming
it, its licence holder and its provenance; ``pack.schema.json`` beside this module is its JSON
Schema. A pack's rules may name the packaged sources, conditions and drug classes as well as its
own; a condition id the packaged vocabulary already has keeps its meaning (and the engine's
reading of the record), a new one is listed but not read from the record. Loaded, each rule's id
becomes ``PACK:ID`` and its ``pack`` field names the pack, so every criterion it yields says
where it came from. Licensed text never ships with OpenIMR: an organization loads its own pack.

Installed packs live in ``$OPENIMR_PACKS`` (default ``./openimr-packs``), one file per pack,
named by its id; :func:`installed` reads them for the engine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from openimr.core.guidelines.drug_list import with_drug_list
from openimr.core.guidelines.rules import (
    ConditionDef,
    DrugClass,
    Rule,
    RuleFileError,
    RuleSet,
    Source,
    _Model,
    check_references,
    load_packaged,
)
from openimr.core.yamlfile import YAMLError, compose_yaml, load_yaml, yaml_error_line

PACKS_ENV = "OPENIMR_PACKS"
DEFAULT_PACKS_DIR = "openimr-packs"
SCHEMA_FILE = "pack.schema.json"
PACK_SUFFIX = ".yaml"
MAX_PACK_BYTES = 20 * 1024 * 1024
MAX_PACK_NODES = 2_000_000
_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


class PackError(RuleFileError):
    """A pack is malformed; the message names the file and the line of each problem."""


class PackInfo(_Model):
    """Who a pack belongs to and where its content comes from."""

    id: str = Field(
        pattern=_ID, description="Lower-case letters, digits and hyphens; the file's name once loaded."
    )
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    licence_holder: str = Field(
        min_length=1, description="The organization that holds the licence to the content."
    )
    licence: str = Field(min_length=1, description="The licence under which the content is used.")
    provenance: str = Field(
        min_length=1, description="Where the criteria were taken from (publisher, edition)."
    )


class Pack(_Model):
    """A criteria pack: a header and rules in the packaged rules file's shape."""

    pack: PackInfo
    sources: dict[str, Source] = Field(default_factory=dict)
    conditions: dict[str, ConditionDef] = Field(default_factory=dict)
    drug_classes: dict[str, DrugClass] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = Field(min_length=1)


def schema() -> dict[str, Any]:
    """The pack format's JSON Schema (what ``pack.schema.json`` holds)."""
    found = Pack.model_json_schema(by_alias=True)
    found["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    found["title"] = "OpenIMR guideline criteria pack"
    return found


def shipped_schema() -> dict[str, Any]:
    """The JSON Schema shipped beside this module."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def _line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at *loc* (as deep as the path goes)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _problems(error: ValidationError, root: yaml.Node | None, origin: str) -> str:
    lines = []
    for e in error.errors():
        loc = tuple(e["loc"])
        where = _line(root, loc)
        at = f" line {where}" if where else ""
        lines.append(f"{origin}:{at}: {'.'.join(map(str, loc)) or '<root>'}: {e['msg']}")
    return "\n".join(lines)


def _expanded(node: yaml.Node | None, sizes: dict[int, int]) -> int:
    """How many nodes *node* stands for once its aliases are expanded (each shared node counted
    once per use; computed once per node)."""
    if node is None:
        return 0
    if id(node) not in sizes:
        sizes[id(node)] = 0  # a cycle counts as nothing more
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        sizes[id(node)] = 1 + sum(_expanded(c, sizes) for c in children)
    return sizes[id(node)]


def parse_pack(text: str, origin: str) -> Pack:
    """Parse and validate a pack; PackError lists each problem with its line. Aliases that expand
    past MAX_PACK_NODES nodes (a "billion laughs" file) are refused before anything reads them."""
    try:
        root = compose_yaml(text)
        if _expanded(root, {}) > MAX_PACK_NODES:
            raise PackError(f"{origin}: more than {MAX_PACK_NODES:,} values once its aliases are expanded")
        data: Any = load_yaml(text)
    except YAMLError as exc:
        raise PackError(yaml_error_line(origin, exc)) from exc
    if not isinstance(data, dict):
        raise PackError(f"{origin}: line 1: expected a mapping with 'pack' and 'rules'")
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        raise PackError(_problems(exc, root, origin)) from exc


def merge(base: RuleSet, packs: list[tuple[Pack, str]]) -> RuleSet:
    """*base* with each pack's sources, conditions, drug classes and rules; pack rules come first
    (at an equal fit the engine prefers the licensed criteria over a chapter named without them).
    PackError names the pack file and line of a clash or an unknown reference."""
    sources, conditions, classes = dict(base.sources), dict(base.conditions), dict(base.drug_classes)
    rules: list[Rule] = []
    for pack, origin in packs:
        for kind, own, into in (
            ("source", pack.sources, sources),
            ("condition", pack.conditions, conditions),
            ("drug class", pack.drug_classes, classes),
        ):
            clash = sorted(set(own) & set(into))
            if clash:
                raise PackError(
                    f"{origin}: {kind} {clash[0]!r} is already defined (packaged or another pack)"
                )
            into.update(own)
        pid = pack.pack.id
        rules += [r.model_copy(update={"id": f"{pid}:{r.id}", "pack": pid}) for r in pack.rules]
    merged = RuleSet.model_construct(
        version=base.version,
        sources=sources,
        conditions=conditions,
        drug_classes=classes,
        definitions=base.definitions,
        rules=(*rules, *base.rules),
    )
    try:
        check_references(merged, "criteria packs")
    except RuleFileError as exc:
        raise PackError(_pack_of(str(exc), packs)) from exc
    return merged


def _pack_of(message: str, packs: list[tuple[Pack, str]]) -> str:
    """A merged-set error message naming the pack file (and rule) it comes from."""
    found = re.search(r"rule '([a-z0-9-]+):([^']+)'", message)
    if found:
        origin = next((o for p, o in packs if p.pack.id == found[1]), "criteria packs")
        return message.replace("criteria packs", origin, 1)
    return message


def packs_dir() -> Path:
    """Where installed packs live: ``$OPENIMR_PACKS``, else ``./openimr-packs`` (the one setting the
    core reads itself, for :func:`~openimr.core.guidelines.rules.load_rules`; an application
    passes its own folder, :class:`~openimr.services.settings.Settings`)."""
    return Path(os.environ.get(PACKS_ENV) or DEFAULT_PACKS_DIR)


def read_pack(path: Path) -> Pack:
    """The pack in *path*; PackError names the file when it cannot be read or is not a pack."""
    try:
        if path.stat().st_size > MAX_PACK_BYTES:
            raise PackError(f"{path}: larger than {MAX_PACK_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{path}: cannot read: {exc}") from exc
    return parse_pack(text, str(path))


def installed_files(folder: Path | None = None) -> list[Path]:
    """The installed pack files, by name."""
    folder = folder or packs_dir()
    return sorted(folder.glob(f"*{PACK_SUFFIX}")) if folder.is_dir() else []


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in installed_files(folder):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def installed(folder: Path | None = None) -> list[tuple[Pack, str]]:
    """The installed packs and their files."""
    return [(read_pack(path), str(path)) for path in installed_files(folder)]


@cache
def shipped_rules() -> RuleSet:
    """The packaged rules and those the MTUS Drug List's marks make (see :mod:`.drug_list`)."""
    return with_drug_list(load_packaged())


@cache
def _merged(signature: tuple[tuple[str, int, int], ...]) -> RuleSet:
    return merge(shipped_rules(), [(read_pack(Path(path)), path) for path, _, _ in signature])


_IN_FORCE: ContextVar[RuleSet | None] = ContextVar("openimr_rules_in_force", default=None)


@contextmanager
def rules_in_force(rules: RuleSet) -> Iterator[RuleSet]:
    """Within the block, *rules* are the rules every step reads (through
    :func:`~openimr.core.guidelines.rules.load_rules`): an application's own, loaded once, or
    another rules file to review with. Scoped to the running thread or task."""
    token = _IN_FORCE.set(rules)
    try:
        yield rules
    finally:
        _IN_FORCE.reset(token)


def with_installed(folder: Path | None = None) -> RuleSet:
    """The rules in force: those of :func:`rules_in_force`, else the shipped rules merged with
    every installed pack in *folder* (default :func:`packs_dir`; merged once per change of it)."""
    if folder is None and (chosen := _IN_FORCE.get()) is not None:
        return chosen
    signature = _signature(folder or packs_dir())
    return _merged(signature) if signature else shipped_rules()
