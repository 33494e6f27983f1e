"""How long ``openimr --help`` and each command's help take, as multiples of a bare Python start.

    python bench/bench_cli.py [--rounds N]

Each figure is the best of N runs (3 by default) of a fresh process, and the baseline
(``python -c pass`` with the same interpreter) runs in the same session, so the ratios compare
like with like on this machine. The goal is at most 12x for ``openimr --help``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import typer
from typer.core import TyperGroup

from openimr.cli import COMMANDS, load_command

OPENIMR = Path(sys.executable).with_name("openimr")


def best(command: list[str], rounds: int) -> float:
    """The fastest of *rounds* runs of *command*, in seconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def help_pages() -> list[list[str]]:
    """The root, every command, and each group's direct subcommands."""
    pages: list[list[str]] = [[]]
    for name in COMMANDS:
        pages.append([name])
        command = load_command(name)
        if isinstance(command, TyperGroup):
            pages += [[name, sub] for sub in command.list_commands(typer.Context(command))]
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    bare = best([sys.executable, "-c", "pass"], rounds)
    print(f"{'python -c pass':<32} {bare:7.3f} s    1.0x")
    for page in help_pages():
        seconds = best([str(OPENIMR), *page, "--help"], rounds)
        label = " ".join(["openimr", *page, "--help"])
        print(f"{label:<32} {seconds:7.3f} s {seconds / bare:6.1f}x")


if __name__ == "__main__":
    main()
