"""``openimr serve``: the web workbench and API with uvicorn."""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated

import typer


def serve(
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: $OPENIMR_DB or ./openimr.db).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo cases (into an empty database) and demo accounts.")
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the web workbench and the HTTP API (OpenAPI at /openapi.json)."""
    import uvicorn

    from openimr.services import web_demo as demo_data
    from openimr.services.app import OpenIMR
    from openimr.services.database import url_of
    from openimr.web.app import create_app, proxy_options
    from openimr.web.protocol import NoDelayH11Protocol

    url = url_of(db)
    try:
        proxies = proxy_options()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if demo:
        application = OpenIMR.open(url)
        try:
            loaded = demo_data.load(application.cases, dt.date.today())
        finally:
            application.close()
        typer.echo("demo cases loaded" if loaded else "the database has cases already: demo cases not loaded")
        typer.echo(f"demo accounts (password '{demo_data.PASSWORD}'):")
        for username, role, code in demo_data.accounts():
            typer.echo(f"  {username:<12} {role}" + (f" ({code})" if code else ""))
    typer.echo(f"database: {url}")
    typer.echo(f"open http://{host}:{port}/ (API: http://{host}:{port}/api, schema: /openapi.json)")
    if workers > 1:
        os.environ["OPENIMR_DB"] = url
        uvicorn.run(
            "openimr.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            http=NoDelayH11Protocol,
            **proxies,
        )
    else:
        app = create_app(url)
        uvicorn.run(app, host=host, port=port, log_level="warning", http=NoDelayH11Protocol, **proxies)
