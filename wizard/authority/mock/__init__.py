"""The mock authority: a real (DEMO) certification authority behind the renewal API.

It keeps a DEMO root and issuing CA for each scheme it issues (RSA, GOST 2015 512) in SQLite,
checks everything a real authority would (CMS, chain, validity, revocation, proof of possession,
unchanged subject, new keys, one-time codes, idempotency), issues NCA-profile certificates, and can
misbehave on purpose for tests.

    app = create_app(data_dir)                     # Starlette ASGI app, in-process or served
    serve(port=8765, data_dir=...)                 # uvicorn on 127.0.0.1 (needs uvicorn)

The HTTP API is `wizard.authority.interface`'s, documented in ``openapi.json`` (GET
/v1/openapi.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .app import create_app
from .faults import ConnectionDropped, Faults
from .settings import Settings

__all__ = ["ConnectionDropped", "Faults", "Settings", "create_app", "serve"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data_dir: Path | str | None = None,
    trusted: Any = (),
    test_endpoints: bool = False,
    **options: Any,
) -> None:
    """Serve the mock authority with uvicorn (imported only here: the phone never needs it)."""
    from .server import serve as run

    run(host, port, data_dir, trusted, test_endpoints, **options)
