"""The mock authority served over HTTP by uvicorn (`qoltanba authority serve`), on 127.0.0.1 unless
told otherwise.

The server speaks HTTP/1.1 through uvicorn's h11 protocol, extended so that the "dropped
connection" fault really hangs up: the app finds a callable in the request scope that aborts the
socket, and the client sees the connection close with no answer at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import create_app
from .faults import DROP_EXTENSION

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, offering the app a way to abort the connection (test faults)."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # The request's task is created but has not run yet: its scope can still be extended.
        if self.cycle is not None:
            extensions: dict[str, Any] = self.cycle.scope.setdefault("extensions", {})  # type: ignore[assignment]
            extensions[DROP_EXTENSION] = self.transport.abort


def default_data_dir() -> Path:
    """Where a served authority keeps its books: $QOLTANBA_HOME/authority or the user data dir."""
    home = os.environ.get("QOLTANBA_HOME")
    if home:
        return Path(home) / "authority"
    import platformdirs

    return platformdirs.user_data_path("qoltanba") / "authority"


def public_url(host: str, port: int) -> str:
    """The base URL clients on this machine reach a server bound to ``host``:``port`` at."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def build_server(
    app: ASGIApp, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, log_level: str = "info"
) -> uvicorn.Server:
    """A uvicorn server for ``app`` (not started): ``server.run()`` blocks, tests may thread it."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=DroppableH11Protocol,
        ws="none",
        lifespan="off",
        log_level=log_level,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    data_dir: Path | str | None = None,
    trusted: Iterable[Path | str] = (),
    test_endpoints: bool = False,
    *,
    demo: bool = True,
    log_level: str = "info",
    **settings: Any,
) -> None:
    """Run the mock authority until interrupted (Ctrl+C). The certificates it issues name this
    host and port as where its OCSP responder and CRLs are (``pki_url`` overrides)."""
    settings.setdefault("pki_url", public_url(host, port))
    app = create_app(
        Path(data_dir) if data_dir is not None else default_data_dir(),
        trusted=trusted,
        demo=demo,
        test_endpoints=test_endpoints,
        **settings,
    )
    build_server(app, host=host, port=port, log_level=log_level).run()
