"""The ``openimr`` command line: one Typer app, one sub-app per concept."""

from __future__ import annotations

import typer

from openimr.corpus.cli import register as register_corpus
from openimr.letters.cli import app as letters_app
from openimr.process.cli import cases_app, demo, reviewers_app
from openimr.requests.cli import app as requests_app
from openimr.review.cli import eval_command, review_command, train_command
from openimr.web.cli import serve

app = typer.Typer(
    help="OpenIMR: California workers' compensation Independent Medical Review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(letters_app, name="letters")
app.add_typer(reviewers_app, name="reviewers")
app.add_typer(cases_app, name="cases")
app.add_typer(requests_app, name="requests")
app.command("demo")(demo)
app.command("serve")(serve)
app.command("review")(review_command)
app.command("eval")(eval_command)
app.command("train")(train_command)
register_corpus(app)
