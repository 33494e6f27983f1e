"""The one way OpenIMR reads its YAML data files: libyaml's C loader where PyYAML was built with it
(the rules file parses in about 0.1 s with it against about 1.4 s in pure Python), the pure-Python
safe loader otherwise, and a syntax error as one line naming the file, line and column."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


def load_yaml(text: str) -> Any:
    """The data in YAML *text* (safe: plain values, lists and mappings only). A syntax error is
    the pure-Python loader's, whose marks name the line and column as a person counts them
    (libyaml places an error at the end of a file past its last line)."""
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError:
        if Loader is yaml.SafeLoader:
            raise
        return yaml.safe_load(text)  # raises the same error, with the Python loader's mark


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of YAML *text*, aliases not yet expanded (to bound them before loading)."""
    return yaml.compose(text, Loader=Loader)


@cache
def package_yaml(package: str, path: str) -> Any:
    """The data of the YAML file *path* inside *package*, read once per process."""
    return load_yaml(resources.files(package).joinpath(path).read_text(encoding="utf-8"))


def yaml_error_line(origin: str, exc: yaml.YAMLError) -> str:
    """A YAML syntax error as one line: file, line, column and what is wrong."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    what = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{origin}: not valid YAML{where}: {what}"
