"""The guideline rules as the commands see them: a rules file, what is in force, its checks, and the
guideline statements the stored decisions quote.

:func:`check` finds what the loader lets through but the review cannot use: two versions of one
chapter in force on the same day, limit kinds the review engine never compares, and citations
without a source to find them in. :func:`mine_quotes` reads the rationales of the stored letters.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from openimr.core.guidelines import packs, quotes
from openimr.core.guidelines.packs import Pack, PackError
from openimr.core.guidelines.rules import Rule, RuleFileError, RuleSet, load_rules, parse_rules
from openimr.core.review.criteria import EVALUATED_LIMITS
from openimr.core.roles import Action, Principal
from openimr.services.access import Gate
from openimr.services.settings import db_url
from openimr.store.db import Store
from openimr.store.schema import IssueRow, LetterRow


class StoreUnreadable(ValueError):
    """The store holds no letters to read; the message names it."""


def load(path: Path | None = None, packs_folder: Path | None = None) -> RuleSet:
    """The rules of *path*, else the packaged ``mtus.yaml`` with the criteria packs installed in
    *packs_folder* (default :func:`~openimr.core.guidelines.packs.packs_dir`); RuleFileError names
    a bad file."""
    if path is None:
        return packs.with_installed(packs_folder) if packs_folder else load_rules()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"{path}: cannot read: {exc}") from exc
    return parse_rules(text, str(path))


def install_pack(path: Path, folder: Path | None = None) -> Pack:
    """Validate the pack in *path* with the packaged rules and the other installed packs, then
    install it (a pack of the same id is replaced); PackError names the file and line of a problem.
    The write is atomic: a failed load leaves the installed packs as they were."""
    pack = packs.read_pack(path)
    folder = folder or packs.packs_dir()
    target = folder / f"{pack.pack.id}{packs.PACK_SUFFIX}"
    others = [(p, o) for p, o in packs.installed(folder) if p.pack.id != pack.pack.id]
    packs.merge(packs.shipped_rules(), [*others, (pack, str(path))])
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(path.read_bytes())
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise PackError(f"{target}: cannot install: {exc}") from exc
    return pack


def uninstall_pack(pack_id: str, folder: Path | None = None) -> Path:
    """Remove the installed pack *pack_id*; PackError when no such pack is installed."""
    folder = folder or packs.packs_dir()
    target = folder / f"{pack_id}{packs.PACK_SUFFIX}"
    if "/" in pack_id or not target.is_file():
        names = [p.stem for p in packs.installed_files(folder)]
        raise PackError(
            f"no criteria pack {pack_id!r} is loaded" + (f" (loaded: {', '.join(names)})" if names else "")
        )
    target.unlink()
    return target


def installed_packs(folder: Path | None = None) -> list[Pack]:
    """The installed packs."""
    return [pack for pack, _ in packs.installed(folder)]


def in_force(ruleset: RuleSet, day: dt.date | None = None) -> list[Rule]:
    """The rules governing dates of service on *day* (all of them without a day), in file order."""
    return [r for r in ruleset.rules if day is None or r.effective.covers(day)]


def families_in_force(day: dt.date | None, ruleset: RuleSet | None = None) -> list[str]:
    """The guideline families (chapters) with a rule in force on *day* (every family without a
    day), sorted: what a reviewer may base a decision on for that date of service."""
    return sorted({r.family for r in in_force(ruleset or load_rules(), day)})


def find(ruleset: RuleSet, rule_id: str) -> Rule | None:
    """The rule with id *rule_id*, if there is one."""
    return next((r for r in ruleset.rules if r.id == rule_id), None)


def _chapter(rule: Rule) -> tuple[object, ...]:
    """Rules with the same family and scope are versions of one chapter."""
    return (rule.family, rule.applies_to.model_dump_json())


def _span(rule: Rule) -> tuple[dt.date, dt.date]:
    return rule.effective.from_ or dt.date.min, rule.effective.to or dt.date.max


def _overlaps(ruleset: RuleSet) -> list[str]:
    chapters: dict[tuple[object, ...], list[Rule]] = {}
    for rule in ruleset.rules:
        chapters.setdefault(_chapter(rule), []).append(rule)
    return [
        f"rule {a.id!r} overlaps rule {b.id!r} ({a.family}, same scope): both in force"
        f" {max(_span(a)[0], _span(b)[0])} to {min(_span(a)[1], _span(b)[1])}"
        for rules in chapters.values()
        for a, b in itertools.combinations(rules, 2)
        if _span(a)[0] <= _span(b)[1] and _span(b)[0] <= _span(a)[1]
    ]


def _unevaluated(ruleset: RuleSet) -> list[str]:
    return [
        f"rule {rule.id!r}: limit kind {lim.kind.value!r} is not evaluated by the review engine"
        for rule in ruleset.rules
        for lim in rule.limits
        if lim.kind not in EVALUATED_LIMITS
    ]


def _sourceless(ruleset: RuleSet) -> list[str]:
    """Citations naming no source, or a web source (primary, secondary) without an address."""
    problems = [
        f"condition {name!r}: citation {cond.citation!r} has no source"
        for name, cond in ruleset.conditions.items()
        if cond.citation and cond.source is None
    ]
    named = [(f"condition {n!r}", c.source) for n, c in ruleset.conditions.items() if c.source]
    for rule in ruleset.rules:
        named.append((f"rule {rule.id!r}", rule.verification.source))
        named += [
            (f"rule {rule.id!r} limit {lim.kind.value}", lim.verification.source) for lim in rule.limits
        ]
    for where, name in named:
        source = ruleset.sources[name]
        if source.kind != "document" and not source.url:
            problems.append(f"{where}: cited source {name!r} ({source.kind}) has no URL")
    return problems


def check(ruleset: RuleSet) -> list[str]:
    """One line per problem: overlapping chapter versions, unevaluated limit kinds, sourceless citations."""
    return _overlaps(ruleset) + _unevaluated(ruleset) + _sourceless(ruleset)


def _rationales(store: Store) -> list[tuple[str, str]]:
    query = (
        select(LetterRow.case_number, LetterRow.key, IssueRow.rationale)
        .join(IssueRow, IssueRow.letter_id == LetterRow.id)
        .where(IssueRow.rationale.is_not(None))
        .order_by(LetterRow.id, IssueRow.position)
    )
    with store.sessions() as session:
        return [(case or key, text) for case, key, text in session.execute(query)]


def stored_rationales(url: str | None = None) -> list[tuple[str, str]]:
    """``(case number, rationale)`` of every stored issue with a rationale (the letter key when the
    letter has no case number). StoreUnreadable when *url* holds no letters table."""
    url = db_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        raise StoreUnreadable(
            f"{parsed.database}: no such store (ingest letters first: openimr letters ingest)"
        )
    store = Store(url)
    try:
        if not inspect(store.engine).has_table(IssueRow.__tablename__):
            raise StoreUnreadable(f"{url}: no letters stored (ingest letters first: openimr letters ingest)")
        return _rationales(store)
    finally:
        store.close()


def mine_quotes(
    rationales: Iterable[tuple[str, str]], ruleset: RuleSet | None = None, min_decisions: int = 2
) -> quotes.QuoteReport:
    """Guideline statements quoted verbatim by at least *min_decisions* decisions, by rule."""
    rules = (ruleset or load_rules()).rules
    return quotes.mine_quotes(rationales, rules=rules, min_decisions=min_decisions)


class Guidelines(Gate):
    """The encoded rules of one application (loaded once, by *rules*), for the accounts that may
    read them; a refusal is audited, reading them is not (they are public)."""

    def __init__(self, store: Store, rules: Callable[[], RuleSet] = load_rules) -> None:
        super().__init__(store)
        self._rules = rules

    def rules(self, who: Principal) -> RuleSet:
        """Every rule, with the sources and the condition vocabulary they cite."""
        self.require(who, Action.READ_GUIDELINES, what="guidelines")
        return self._rules()

    def matching(self, who: Principal, day: dt.date | None = None, words: str = "") -> list[Rule]:
        """The rules in force on *day* (all without one) whose id, title, family or section hold
        every word of *words* (case folded), by family."""
        wanted = words.casefold().split()
        return sorted(
            (
                r
                for r in in_force(self.rules(who), day)
                if all(w in f"{r.id} {r.title} {r.family} {r.citation.section}".casefold() for w in wanted)
            ),
            key=lambda r: r.family,
        )
