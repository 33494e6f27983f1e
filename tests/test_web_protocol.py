"""Every served connection has Nagle's algorithm off, however uvicorn bound the listening socket."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from openimr.web.protocol import NoDelayH11Protocol


async def _app(scope, receive, send) -> None:  # a bare ASGI app: the protocol is under test
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _nodelay(protocol: type[H11Protocol]) -> int:
    """TCP_NODELAY on the server side of one connection accepted from a socket bound the way
    uvicorn's multi-worker mode binds it (protocol 0)."""
    config = uvicorn.Config(_app, log_level="warning")
    config.load()
    state = ServerState()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: protocol(config=config, server_state=state, app_state={}), sock=listener
    )
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(100):
            if state.connections:
                break
            await asyncio.sleep(0.01)
        (served,) = state.connections
        value = served.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return value
    finally:
        server.close()


@pytest.mark.parametrize(("protocol", "expected"), [(H11Protocol, False), (NoDelayH11Protocol, True)])
def test_nodelay_on_connections_from_a_socket_uvicorn_bound(
    protocol: type[H11Protocol], expected: bool
) -> None:
    with ThreadPoolExecutor(1) as thread:  # a loop of its own: another test's may be running here
        assert bool(thread.submit(lambda: asyncio.run(_nodelay(protocol))).result()) is expected
