"""``openimr serve``: the web workbench and API with uvicorn."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Annotated

import typer

from openimr.cli.store import DbOption


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to *host*:*port*, as uvicorn binds one; one error line and exit 1 where it
    cannot be (the port in use, an address not of this machine), before anything is announced."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        typer.echo(f"error: cannot listen on {host} port {port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    sock.set_inheritable(True)  # the workers serve it too
    return sock


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo cases (into an empty database) and demo accounts.")
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the web workbench and the HTTP API (OpenAPI at /openapi.json).

    The port is taken first: when it cannot be (in use, or the address is not this machine's),
    one error line says so and the exit status is 1; the URL is printed once it is taken.
    """
    with listen(host, port) as sock:  # before the web app is imported: a port in use is said at once
        _serve(sock, db, host, port, demo, workers)


def _serve(sock: socket.socket, db: str | None, host: str, port: int, demo: bool, workers: int) -> None:
    """Load the demo if asked, announce the URL, and serve on *sock* until stopped."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from openimr.services import web_demo as demo_data
    from openimr.services.app import OpenIMR
    from openimr.services.database import creatable
    from openimr.web.app import create_app, proxy_options
    from openimr.web.protocol import NoDelayH11Protocol

    url = creatable(db)
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
    if workers > 1:
        os.environ["OPENIMR_DB"] = url
        target = "openimr.web.app:create_app"
    else:
        target = create_app(url)
    config = uvicorn.Config(
        target,
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        http=NoDelayH11Protocol,
        **proxies,
    )
    typer.echo(f"database: {url}")
    typer.echo(f"open http://{host}:{port}/ (API: http://{host}:{port}/api, schema: /openapi.json)")
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
            if not server.started:  # the application failed to start: uvicorn said why
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
