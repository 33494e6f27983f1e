"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

Why by hand: with ``--workers`` above 1 uvicorn binds the listening socket itself (protocol 0)
and asyncio sets ``TCP_NODELAY`` only on connections accepted from an ``IPPROTO_TCP`` socket, so a
response's headers and body, written apart, waited out the client's delayed ACK: about 50 ms a
request on a kept-alive connection (one client: 13 ms with one worker, 65 ms with two). One
worker, whose socket asyncio binds, was not affected; every connection now gets the option.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    """:class:`H11Protocol` that turns ``TCP_NODELAY`` on for its connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
