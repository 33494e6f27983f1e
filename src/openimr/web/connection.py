"""What a request tells the sign-in code: the app's sign-in settings and gate, whether it came
over HTTPS, and the client's address (the services take these as plain values)."""

from __future__ import annotations

import threading

from starlette.requests import HTTPConnection

from openimr.services.accounts import Gate, SignInSettings


def settings(conn: HTTPConnection) -> SignInSettings:
    """The app's sign-in settings (read from the environment the first time)."""
    state = conn.app.state
    if getattr(state, "sign_in", None) is None:
        state.sign_in = SignInSettings.from_env()
    return state.sign_in


def secure(conn: HTTPConnection) -> bool:
    """Whether the request is served over HTTPS: cookies get ``Secure`` and answers HSTS."""
    return settings(conn).https or conn.url.scheme == "https"


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def gate(conn: HTTPConnection) -> Gate:
    """The app's sign-in gate, sized by its settings' ``concurrency`` (made again if that changed)."""
    state, limit = conn.app.state, settings(conn).concurrency
    with _GATE_LOCK:
        current = getattr(state, "sign_in_gate", None)
        if current is None or current.limit != limit:
            current = state.sign_in_gate = Gate(limit)
    return current


_GATE_LOCK = threading.Lock()
