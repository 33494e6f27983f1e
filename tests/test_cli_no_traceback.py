"""No command ends in a Python traceback, whatever it is given.

Every command and sub-command, enumerated from ``openimr.cli.COMMANDS`` (a new one is covered
without a line here), runs in-process with each bad value in turn: a missing file, a folder, an
empty file, foreign JSON (``{"foo": 1}``, ``[1]``), a file that is neither JSON nor UTF-8, a file
under a folder that does not exist (also as ``-o``), blank or odd text, numbers out of range, and
databases that cannot be (a missing folder, a URL that is none, a missing SQLite file). The server
runs as a subprocess: on bad ports, on a port in use, on an address not of this machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from typer.core import TyperArgument, TyperGroup
from typer.testing import CliRunner

from openimr.cli import COMMANDS, app, load_command

OPENIMR = Path(sys.executable).with_name("openimr")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FOREIGN = {"foo": 1}
# Started apart (subprocess) with its own bad inputs: given good ones, it would serve until stopped.
LONG_RUNNING = {("serve",)}


def every_command() -> list[tuple[str, ...]]:
    """Each command's words: ``("search",)``, ``("letters", "parse")``, ..."""
    found: list[tuple[str, ...]] = []
    for name in COMMANDS:
        command = load_command(name)
        if isinstance(command, TyperGroup):
            found += [(name, sub) for sub in command.commands]
        else:
            found.append((name,))
    return found


def _command(words: tuple[str, ...]) -> Any:
    command = load_command(words[0])
    return command.commands[words[1]] if len(words) > 1 else command


def _kind(param: Any) -> Any:
    """*param*'s value type: its annotation without ``| None`` and ``list[...]``."""
    kind = param.type_descriptor.annotation
    while get_origin(kind) in (list, tuple, Union, types.UnionType):
        kind = next(arg for arg in get_args(kind) if arg is not type(None))
    return kind


def _plain(param: Any) -> str:
    """A value of *param*'s type that is well formed (the inputs it names need not exist)."""
    descriptor, kind = param.type_descriptor, _kind(param)
    if descriptor.choices is not None:
        return str(getattr(descriptor.choices[0], "value", descriptor.choices[0]))
    if descriptor.is_datetime:
        return "2020-01-02"
    if kind in (int, float):
        return "2"
    return "nonsense"


def invocations(words: tuple[str, ...], bad: dict[str, list[str]]) -> list[list[str]]:
    """*words*' command with its required values, then with each bad value in turn (one at a time)."""
    command = _command(words)

    def args(given: dict[str, str]) -> list[str]:
        out: list[str] = []
        for param in command.params:
            if param.name not in given and not param.required:
                continue
            value = given.get(param.name) or _plain(param)
            out += [value] if isinstance(param, TyperArgument) else [param.opts[0], value]
        return [*words, *out]

    variants: list[dict[str, str]] = [{}]
    for param in command.params:
        kind = _kind(param)
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        if param.name == "db":
            variants += [{"db": value} for value in bad["db"]]
        elif param.type_descriptor.is_path or kind is Path:
            variants += [{param.name: value} for value in bad["path"]]
        elif param.type_descriptor.choices is None and kind is int:
            variants += [{param.name: value} for value in ("-1", "99999", "2.5")]
        elif param.type_descriptor.choices is None and kind is str:
            variants += [{param.name: value} for value in (" ", "{}", "../../etc/passwd")]
    return list({tuple(args(v)): args(v) for v in variants}.values())


@pytest.fixture
def bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Bad paths and database URLs, in a working folder of their own with no store in it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("OPENIMR_DB", "OPENIMR_RULES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENIMR_PACKS", str(tmp_path / "packs"))
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "foreign.json").write_text(json.dumps(FOREIGN))
    (tmp_path / "list.json").write_text("[1]\n")
    (tmp_path / "notes.json").write_bytes(b"not JSON {\n\xff\xfe")
    return {
        "path": [
            str(tmp_path / "missing.json"),
            str(tmp_path / "folder"),
            str(tmp_path / "empty.json"),
            str(tmp_path / "foreign.json"),
            str(tmp_path / "list.json"),
            str(tmp_path / "notes.json"),
            str(tmp_path / "no" / "such" / "folder" / "out.pdf"),
        ],
        "db": [
            f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}",
            f"sqlite:///{tmp_path / 'none.db'}",
            "nonsense",
            "nosuchdriver://x/y",
            str(tmp_path / "folder"),
        ],
    }


def test_every_command_is_run_here() -> None:
    commands = every_command()
    assert len(commands) > 30  # the enumeration found the sub-commands
    assert set(commands) >= LONG_RUNNING


@pytest.mark.parametrize("words", every_command(), ids=" ".join)
def test_no_command_ends_in_a_traceback(words: tuple[str, ...], bad: dict[str, list[str]]) -> None:
    if words in LONG_RUNNING:
        pytest.skip("run as a subprocess below")
    runner = CliRunner()
    failed = []
    for args in invocations(words, bad):
        result = runner.invoke(app, args, prog_name="openimr")
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        if crashed or "Traceback" in result.output:
            failed.append(f"openimr {' '.join(args)}: {result.exception!r}\n{result.output[-1000:]}")
    assert not failed, "\n".join(failed)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _openimr(*args: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OPENIMR), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_serve_on_a_port_that_cannot_be_is_a_usage_error_before_any_url(port: str, tmp_path: Path) -> None:
    done = _openimr("serve", "--port", port, "--db", f"sqlite:///{tmp_path / 'web.db'}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "--port" in done.stderr and "Traceback" not in done.stderr
    assert "http://" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_port_in_use_says_so_in_one_line_and_announces_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = _openimr(
            "serve", "--demo", "--port", port, "--db", f"sqlite:///{tmp_path / 'web.db'}", cwd=tmp_path
        )
    assert done.returncode == 1
    assert done.stdout == ""  # no URL, no demo accounts: the server never started
    assert done.stderr == f"error: cannot listen on 127.0.0.1 port {port}: Address already in use\n"
    assert list(tmp_path.iterdir()) == []


def test_serve_on_an_address_not_of_this_machine(tmp_path: Path) -> None:
    done = _openimr("serve", "--host", "192.0.2.1", "--port", str(_free_port()), cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: cannot listen on 192.0.2.1 port ")
    assert len(done.stderr.splitlines()) == 1


def _letter_record(number: str) -> dict[str, Any]:
    from openimr.core.models import Claimant, Issue, Letter, Reviewer

    return Letter(
        file=f"{number}.txt",
        case_number=number,
        decision_date="2019-04-01",
        priority="Standard",
        reviewer=Reviewer(license_states=["California"], specialties=["Family Practice"]),
        claimant=Claimant(age=50, sex="male"),
        clinical_summary="The worker is a 50-year-old male who strained his back moving furniture.",
        issues=[
            Issue(
                item="Lumbar MRI",
                decision="Upheld",
                claims_administrator_guideline="Decision based on MTUS Low Back Complaints.",
                imro_guideline="Decision based on MTUS Low Back Complaints.",
                rationale="No red flags are documented, so imaging is not indicated.",
            )
        ],
    ).to_json_dict()


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), prog_name="openimr")


def test_what_parse_writes_of_one_letter_render_reads(tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps(_letter_record("CM19-0000001")))
    letter = tmp_path / "CM19-0000001.txt"
    rendered = _run("letters", "render", str(record), "-o", str(letter))
    assert rendered.exit_code == 0, rendered.output
    for fmt in ("json", "jsonl"):
        parsed = tmp_path / f"r.{fmt}"
        done = _run("letters", "parse", str(letter), "--format", fmt, "-o", str(parsed))
        assert done.exit_code == 0, done.output
        again = _run("letters", "render", str(parsed))
        assert again.exit_code == 0, again.output
        assert again.stdout == letter.read_text()


def test_render_refuses_several_records_or_none_in_one_line(tmp_path: Path) -> None:
    one = _letter_record("CM19-0000001")
    for name, body in [
        ("two.json", json.dumps([one, _letter_record("CM19-0000002")])),
        ("two.jsonl", json.dumps(one) + "\n" + json.dumps(_letter_record("CM19-0000002")) + "\n"),
        ("none.json", "[]"),
        ("empty.json", ""),
        ("foreign.json", json.dumps(FOREIGN)),
        ("bad.json", '{"file": '),
    ]:
        path = tmp_path / name
        path.write_text(body)
        done = _run("letters", "render", str(path))
        assert done.exit_code == 1 and done.stdout == "", name
        assert done.stderr.startswith(f"error: {path}: ") and done.stderr.count("\n") == 1, done.stderr
    assert (
        "2 letter records; render takes one" in _run("letters", "render", str(tmp_path / "two.json")).stderr
    )


def test_a_pdf_or_a_chart_is_not_written_to_a_terminal_but_is_to_a_pipe(tmp_path: Path) -> None:
    import pty

    record = tmp_path / "record.json"
    record.write_text(json.dumps(_letter_record("CM19-0000001")))
    main, terminal = pty.openpty()  # stdout a terminal, as typed at a prompt
    try:
        running = [
            subprocess.Popen(
                [str(OPENIMR), *args], cwd=tmp_path, stdout=terminal, stderr=subprocess.PIPE, text=True
            )
            for args in (
                ["letters", "render", str(record), "--format", "pdf"],
                ["stats", "--format", "png"],
                ["report", "metrics", "--format", "png"],
                ["cases", "issue", "CM19-0000001"],
            )
        ]
        for done in running:
            stderr = done.communicate(timeout=60)[1]
            assert done.returncode == 2, (done.args, stderr)
            assert "-o FILE or redirect" in stderr and stderr.count("\n") == 1, stderr
    finally:
        os.close(main)
        os.close(terminal)
    assert list(tmp_path.iterdir()) == [record]  # refused before any store was opened
    piped = _run("letters", "render", str(record), "--format", "pdf")
    assert piped.exit_code == 0 and piped.stdout_bytes.startswith(b"%PDF")


@pytest.mark.parametrize(
    "body",
    ["", "[]", json.dumps(FOREIGN), json.dumps(_letter_record("CM19-0000001")), "null", '"case"'],
    ids=["empty", "empty-list", "foreign", "letter-record", "null", "string"],
)
def test_review_refuses_a_file_that_is_not_a_case(body: str, tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(body)
    done = _run("review", str(path))
    assert done.exit_code == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: {path}: ") and done.stderr.count("\n") == 1, done.stderr


# The commands that may create a store; every other command with --db only reads one.
WRITERS = {
    ("serve",),
    ("demo",),
    ("letters", "ingest"),
    ("db", "upgrade"),
    ("cases", "create"),
    ("cases", "import"),
    ("reviewers", "import"),
}


def _readers() -> list[tuple[str, ...]]:
    return [
        words
        for words in every_command()
        if words not in WRITERS and any(param.name == "db" for param in _command(words).params)
    ]


@pytest.mark.parametrize("words", _readers(), ids=" ".join)
def test_a_reader_creates_no_store(words: tuple[str, ...], bad: dict[str, list[str]]) -> None:
    # the command's required values (a real case for review, which reads it before the store)
    args = [*words, str(EXAMPLES / "case.json")] if words == ("review",) else invocations(words, bad)[0]
    missing = Path(bad["db"][1].removeprefix("sqlite:///"))
    for given in ([], ["--db", str(missing)], ["--db", f"sqlite:///{missing}"]):
        done = _run(*args, *given)
        shown = f"openimr {' '.join([*args, *given])}"
        assert "Traceback" not in done.output and isinstance(done.exception, SystemExit | None), shown
        assert list(Path.cwd().iterdir()) == [], f"{shown} created a store"
        assert list(missing.parent.glob(f"{missing.name}*")) == [], f"{shown} created {missing}"


@pytest.mark.parametrize("words", sorted(WRITERS), ids=" ".join)
def test_a_writer_names_the_folder_its_database_cannot_be_created_in(
    words: tuple[str, ...], tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps(_letter_record("CM19-0000001")))
    letter = tmp_path / "CM19-0000001.txt"
    assert _run("letters", "render", str(record), "-o", str(letter)).exit_code == 0
    inputs = {
        ("letters", "ingest"): [str(letter)],
        ("cases", "create"): [str(EXAMPLES / "case.json")],
        ("cases", "import"): [str(EXAMPLES / "fhir" / "pas-request-bundle.json")],
        ("reviewers", "import"): [str(EXAMPLES / "roster.csv")],
        ("serve",): ["--port", str(_free_port())],
    }
    folder = tmp_path / "no" / "such" / "folder"
    done = _run(*words, *inputs.get(words, []), "--db", f"sqlite:///{folder / 'x.db'}")
    assert done.exit_code == 1 and "http://" not in done.output, done.output
    assert done.stderr.splitlines()[-1] == f"error: {folder}: no such folder for the database x.db"
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["search", "acupuncture"],
        ["stats", "--db", "openimr.db"],
        ["db", "current"],
        ["letters", "stats"],
        ["similar", "knee MRI"],
        ["cases", "list"],
        ["reviewers", "list"],
        ["report", "metrics"],
    ],
    ids=" ".join,
)
def test_a_missing_store_is_one_line(args: list[str], bad: dict[str, list[str]]) -> None:
    done = _run(*args)
    assert done.exit_code == 1 and done.stdout == ""
    store = Path.cwd() / "openimr.db"
    assert done.stderr.startswith(f"error: {store}: no such database, and none was created")
    assert done.stderr.count("\n") == 1
    assert not store.exists()


@pytest.mark.parametrize("fmt", ["json", "png"])
def test_stats_of_a_default_store_not_made_yet_are_an_empty_corpus(fmt: str, bad: Any) -> None:
    done = _run("stats", "--format", fmt)
    assert done.exit_code == 0, done.output
    assert done.stderr.startswith("note: ") and "an empty corpus" in done.stderr
    assert done.stderr.count("\n") == 1
    if fmt == "json":
        assert json.loads(done.stdout)["overall"]["issues"] == 0
    else:
        assert done.stdout_bytes.startswith(b"\x89PNG")
    assert list(Path.cwd().iterdir()) == []
