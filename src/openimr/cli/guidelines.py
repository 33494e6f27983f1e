"""``openimr guidelines ...`` (the encoded MTUS rules) and ``openimr formulary DRUG`` (the MTUS Drug List).

``--rules FILE`` (or ``$OPENIMR_RULES``) points the guideline commands at another rules file, a
draft to check before it replaces the packaged ``mtus.yaml``; ``openimr review --rules FILE``
reviews with it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openimr.cli.output import console, pipe_safe
from openimr.cli.store import DbOption
from openimr.services.options import RULES_ENV

if TYPE_CHECKING:
    from openimr.core.guidelines.rules import Rule, RuleSet

app = typer.Typer(
    help="The encoded MTUS rules and loaded criteria packs: list, show, check, load, unload, and the"
    " quotes decisions make.",
    no_args_is_help=True,
)


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table, or jsonl (one rule a line).")]


class FormularyFormat(StrEnum):
    table = "table"
    json = "json"


RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        envvar=RULES_ENV,
        metavar="FILE",
        help="A rules file to read instead of the packaged MTUS rules (default: $OPENIMR_RULES, if set).",
        show_default=False,
    ),
]
DateOption = Annotated[
    str | None,
    typer.Option("--date", "-d", metavar="DATE", help="Date of service, YYYY-MM-DD.", show_default=False),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--date: {value!r} is not a date (use YYYY-MM-DD)", 2) from None


def _rules(path: Path | None) -> RuleSet:
    from openimr.core.guidelines.rules import RuleFileError
    from openimr.services import guidelines as service

    try:
        return service.load(path)
    except RuleFileError as exc:
        raise _fail(str(exc)) from None


def _packs() -> list:
    from openimr.core.guidelines.packs import PackError
    from openimr.services import guidelines as service

    try:
        return service.installed_packs()
    except PackError as exc:
        raise _fail(str(exc)) from None


@app.command("load")
@pipe_safe
def load_command(
    pack: Annotated[Path, typer.Argument(metavar="PACK", help="A criteria pack file (YAML or JSON).")],
) -> None:
    """Load a licensed criteria pack: validate it, then install it beside the packaged rules.

    The engine and the workbench use its rules as they use the packaged ones, each criterion naming
    the pack (rule ids read PACK:ID). The format is the packaged rules file's under a ``pack`` header
    (id, title, version, licence holder, licence, provenance); its JSON Schema is
    src/openimr/core/guidelines/pack.schema.json. A problem is reported with its line and nothing is
    installed (exit status 1). Packs live in $OPENIMR_PACKS (default ./openimr-packs); a pack of the
    same id is replaced.
    """
    from openimr.core.guidelines.packs import PackError
    from openimr.services import guidelines as service

    try:
        loaded = service.install_pack(pack)
    except PackError as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from None
    info = loaded.pack
    typer.echo(
        f"loaded {info.id} ({info.title}, version {info.version}): {len(loaded.rules)} rules;"
        f" licence holder {info.licence_holder}"
    )


@app.command("unload")
@pipe_safe
def unload_command(
    pack_id: Annotated[str, typer.Argument(metavar="ID", help="The id of a loaded criteria pack.")],
) -> None:
    """Unload a criteria pack: its rules are no longer used."""
    from openimr.core.guidelines.packs import PackError
    from openimr.services import guidelines as service

    try:
        service.uninstall_pack(pack_id)
    except PackError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"unloaded {pack_id}")


def _dates(rule: Rule) -> str:
    start, end = rule.effective.from_, rule.effective.to
    return f"{start or 'no start date'} to {end or 'open'}"


@app.command("list")
@pipe_safe
def list_command(
    date: DateOption = None,
    fmt: FormatOption = Format.table,
    rules: RulesOption = None,
    pack: Annotated[
        str | None,
        typer.Option(
            "--pack", metavar="ID", help="Only the rules of this loaded criteria pack.", show_default=False
        ),
    ] = None,
) -> None:
    """The rules in force on a date of service (all of them without --date), in file order.

    The packaged rules and those of every loaded criteria pack (a pack's rule ids read PACK:ID);
    --pack ID lists one pack's. jsonl gives each rule in full: id, family, citation, effective
    dates, limits with each one's verification status (verified, quoted or unverified),
    conditions, sources and the pack it came from.
    """
    from rich.table import Table

    from openimr.services import guidelines as service

    found = service.in_force(_rules(rules), _day(date))
    if pack is not None:
        if pack not in {p.pack.id for p in _packs()}:
            raise _fail(f"no criteria pack {pack!r} is loaded (openimr guidelines load PACK)")
        found = [r for r in found if r.pack == pack]
    if fmt is Format.jsonl:
        for rule in found:
            typer.echo(json.dumps(rule.model_dump(mode="json", by_alias=True), ensure_ascii=False))
        return
    table = Table("rule", "family", "in force", "limits (status)", "citation")
    for rule in found:
        limits = "\n".join(
            f"{lim.kind.value} {lim.figure} ({lim.verification.status.value})" for lim in rule.limits
        )
        if not rule.criteria_encoded:
            limits = "criteria not encoded"
        citation = f"{rule.citation.regulation}, {rule.citation.section}"
        table.add_row(rule.id, rule.family, _dates(rule), limits, citation)
    console().print(table)
    typer.echo(f"{len(found)} rules" + (f" in force on {date}" if date else ""), err=True)


def _describe(rule: Rule, ruleset: RuleSet) -> list[str]:
    scope = rule.applies_to
    lines = [
        f"{rule.id}: {rule.title}",
        f"  family: {rule.family} ({rule.tier.value})",
        f"  citation: {rule.citation.regulation}, {rule.citation.section}",
        f"  in force: {_dates(rule)}" + (f" ({rule.effective.note})" if rule.effective.note else ""),
        f"  recommendation: {rule.recommendation.value.replace('_', ' ')}",
        f"  applies to: {', '.join(scope.categories)}",
    ]
    for label, values in (
        ("drug classes", scope.drug_classes),
        ("body regions", scope.body_regions),
        ("keywords", scope.keywords),
        ("diagnoses", scope.diagnoses),
    ):
        if values:
            lines.append(f"    {label}: {', '.join(values)}")
    if scope.postoperative is not None:
        lines.append(f"    postoperative: {'yes' if scope.postoperative else 'no'}")
    if rule.pack:
        info = next((p.pack for p in _packs() if p.pack.id == rule.pack), None)
        lines.append(
            f"  criteria pack: {rule.pack}" + (f" ({info.title}, version {info.version})" if info else "")
        )
        if info:
            lines.append(f"    licence holder: {info.licence_holder}; licence: {info.licence}")
            lines.append(f"    provenance: {info.provenance}")
    source = ruleset.sources[rule.verification.source]
    lines.append(f"  source: {source.title}" + (f" <{source.url}>" if source.url else ""))
    lines.append(f"    {rule.verification.status.value}: {rule.verification.locator}")
    if not rule.criteria_encoded:
        lines.append("  criteria: not encoded")
    for lim in rule.limits:
        ver = lim.verification
        lines.append(f"  limit {lim.kind.value}: {lim.figure} ({ver.status.value})")
        lines.append(f"    {ruleset.sources[ver.source].title}, {ver.locator}")
        lines.append(f"    evidence: {ver.evidence}")
        lines += [f'    quoted in {q.case_number}: "{q.text}"' for q in ver.quotes]
    for cond in rule.conditions:
        what = cond.note or ruleset.conditions[cond.id].description
        lines.append(f"  condition {cond.id} ({cond.role.value.replace('_', ' ')}): {what}")
    if rule.note:
        lines.append(f"  note: {rule.note}")
    return lines


@app.command("show")
@pipe_safe
def show_command(
    rule_id: Annotated[str, typer.Argument(metavar="RULE", help="A rule id, as guidelines list shows it.")],
    rules: RulesOption = None,
) -> None:
    """One rule in full: scope, citation, dates, each limit with its source and evidence, conditions."""
    from openimr.services import guidelines as service

    ruleset = _rules(rules)
    rule = service.find(ruleset, rule_id)
    if rule is None:
        near = difflib.get_close_matches(rule_id, [r.id for r in ruleset.rules], n=1)
        raise _fail(f"no rule {rule_id!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    typer.echo("\n".join(_describe(rule, ruleset)))


@app.command("definitions")
@pipe_safe
def definitions_command(fmt: FormatOption = Format.table, rules: RulesOption = None) -> None:
    """The terms the MTUS defines (9792.20) and the evidence rules it lays down (9792.21), in the
    regulation's words, each with its citation, dates and verification status."""
    from rich.table import Table

    ruleset = _rules(rules)
    if fmt is Format.jsonl:
        for name, term in ruleset.definitions.items():
            typer.echo(
                json.dumps({"id": name, **term.model_dump(mode="json", by_alias=True)}, ensure_ascii=False)
            )
        return
    table = Table("term", "kind", "text", "citation", "status", show_lines=True)
    for term in ruleset.definitions.values():
        figure = f" ({term.figure:g} {term.unit})" if term.figure is not None else ""
        table.add_row(
            term.term + figure,
            term.kind.replace("_", " "),
            term.text,
            term.citation,
            term.verification.status.value,
        )
    console().print(table)


@app.command("check")
@pipe_safe
def check_command(rules: RulesOption = None) -> None:
    """Check the rules file beyond what loading it checks.

    One line per problem: two versions of one chapter (same family and scope) in force on the same
    day, a limit of a kind the review engine does not evaluate, a citation without a source (or with
    a web source that has no URL), a region-scoped rule the engine matches to a request outside its
    regions (an EEG, a wheelchair, a knee MRI given a spine chapter). Exit status 1 when there is
    any (or the file does not load), else 0 with a one-line summary.
    """
    from openimr.core.review.governing import out_of_region
    from openimr.services import guidelines as service

    ruleset = _rules(rules)
    problems = service.check(ruleset) + out_of_region(None) + out_of_region(dt.date.today())
    for line in problems:
        typer.echo(line)
    if problems:
        raise _fail(f"{len(problems)} problems in {rules or 'the packaged rules'}")
    limits = sum(len(r.limits) for r in ruleset.rules)
    typer.echo(f"ok: {len(ruleset.rules)} rules, {limits} limits, version {ruleset.version}")


@app.command("quotes")
@pipe_safe
def quotes_command(
    db: DbOption = None,
    fmt: FormatOption = Format.table,
    min_decisions: Annotated[
        int,
        typer.Option("--min-decisions", min=2, help="Decisions that must quote a statement word for word."),
    ] = 2,
    rules: RulesOption = None,
) -> None:
    """Guideline statements the stored decisions quote word for word, grouped by the rule they fit.

    Reads the rationales of every letter ingested so far; statements that fit no rule come last
    (rule "-" in the table, null in jsonl).
    """
    from rich.table import Table

    from openimr.services import guidelines as service

    ruleset = _rules(rules)
    try:
        rationales = service.stored_rationales(db)
    except service.StoreUnreadable as exc:
        raise _fail(str(exc)) from None
    report = service.mine_quotes(rationales, ruleset, min_decisions)
    groups = [*report.by_rule.items(), *([(None, report.unmatched)] if report.unmatched else [])]
    if fmt is Format.jsonl:
        for rule_id, found in groups:
            rows = [{"text": q.text, "case_numbers": list(q.case_numbers)} for q in found]
            typer.echo(json.dumps({"rule": rule_id, "quotes": rows}, ensure_ascii=False))
    else:
        table = Table("rule", "decisions", "statement", "case numbers", show_lines=True)
        for rule_id, found in groups:
            for q in found:
                table.add_row(rule_id or "-", str(len(q.case_numbers)), q.text, ", ".join(q.case_numbers))
        console().print(table)
    decisions = len({case for case, _ in rationales})
    statements = len({q.text for _, found in groups for q in found})
    typer.echo(
        f"{statements} statements quoted by {min_decisions}+ decisions;"
        f" {len(rationales)} rationales from {decisions} decisions read",
        err=True,
    )


@pipe_safe
def formulary(
    drug: Annotated[str, typer.Argument(help="A drug as written (generic or brand, strength optional).")],
    date: DateOption = None,
    fmt: Annotated[
        FormularyFormat, typer.Option("--format", "-f", help="table or json.")
    ] = FormularyFormat.table,
) -> None:
    """A drug's MTUS Drug List status on a date of service (default today).

    Status: exempt, non-exempt, unlisted, compounded (prospective review, 9792.27.9), not encoded
    (not among the entries encoded so far) or not in force (before 2018-01-01); with its
    conditions (special fill, perioperative fill and their days), the list version, the entry's
    effective dates, forms, ACOEM topics and source. A brand name is read as its generic
    ingredients, and a combination product is answered ingredient by ingredient. Exit status 2
    for a name that cannot be read as a drug.
    """
    from rich.table import Table

    from openimr.core.guidelines import formulary as drug_list
    from openimr.core.guidelines.formulary import FormularyFileError, NotADrug

    day = _day(date) or dt.date.today()
    try:
        answer = drug_list.status(drug, day)
    except NotADrug as exc:
        raise _fail(str(exc), 2) from None
    except FormularyFileError as exc:
        raise _fail(str(exc)) from None
    if fmt is FormularyFormat.json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    fill = {True: "yes", False: "no", None: "not encoded"}

    def days(flag: bool | None, limit: int | None) -> str:
        return fill[flag] + (f" (up to {limit} days)" if flag and limit else "")

    rows = [
        ("drug", answer.drug),
        ("ingredient", answer.ingredient or ""),
        ("date of service", str(answer.date)),
        ("status", answer.status),
        ("special fill", days(answer.special_fill, answer.special_fill_days)),
        ("perioperative fill", days(answer.perioperative_fill, answer.perioperative_fill_days)),
        (
            "list version",
            f"{answer.list_version or '-'}"
            + (f" (from {answer.list_version_from})" if answer.list_version_from else ""),
        ),
        (
            "entry in force",
            f"{answer.effective_from} to {answer.effective_to or 'now'}" if answer.effective_from else "-",
        ),
        ("citation", answer.citation or ""),
        ("source", f"{answer.source or '-'}" + (f" <{answer.source_url}>" if answer.source_url else "")),
        ("verification", answer.verification or "-"),
    ]
    if answer.forms:
        rows.append(("forms", ", ".join(answer.forms)))
    rows += [
        (f"ACOEM topic: {topic}", ", ".join(m.replace("_", " ") for m in marks))
        for topic, marks in answer.topics.items()
    ]
    rows += [
        (
            f"  {part.ingredient}",
            part.status + (f" ({part.verification}; {part.citation})" if part.verification else ""),
        )
        for part in answer.ingredients
    ]
    table = Table("", "", show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    for condition in answer.conditions:
        table.add_row("condition", condition)
    console().print(table)
