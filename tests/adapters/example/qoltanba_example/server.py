"""The example authority: a tiny asyncio server on 127.0.0.1 speaking wire.py, around the mock
authority's CA engine (`wizard.authority.mock.engine.MockAuthority`: the same checks a real
authority makes, its own DEMO CAs in its own books).

    python -m qoltanba_example.server --data DIR [--trust PATH ...] [--port N]
                                      [--production --sms FILE] [--lifetime SECONDS]

It prints ``listening 127.0.0.1:PORT`` once it listens (port 0, the default, picks a free one)
and stops by itself after ``--lifetime`` seconds (default 300), or on SIGTERM / Ctrl+C.
``--production`` makes it pose as a real authority: its info says ``demo: false``, the demo
operations are closed, and the one-time codes go to its "SMS gateway", the ``--sms`` file (one
JSON line per message). It still issues from its own root, which nobody pins: exactly what
Qoltanba must refuse unless the adapter declares that root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from wizard.authority.mock.engine import Answer, MockAuthority
from wizard.authority.mock.problems import Problem

from . import wire

DEMO_OPERATIONS = frozenset({"codes", "holder"})


class ExampleServer:
    """What each operation does with the engine; no sockets here."""

    def __init__(
        self, engine: MockAuthority, *, production: bool = False, sms: Path | None = None
    ) -> None:
        self.engine = engine
        self.production = production
        self.sms = sms
        self._sent: set[tuple[str, str]] = set()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return {"ok": False, "error": "bad_request", "message": f"unknown operation {op!r}"}
        if self.production and op in DEMO_OPERATIONS:
            return {"ok": False, "error": "not_demo", "message": "not a demo authority"}
        try:
            result = handler(request)
        except Problem as problem:
            return {"ok": False, **problem.body}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": "bad_request", "message": type(exc).__name__}
        body = result.body if isinstance(result, Answer) else result
        return {"ok": True, **body}

    # --- operations -----------------------------------------------------------------------------

    def op_info(self, request: dict[str, Any]) -> dict[str, Any]:
        info = self.engine.info()
        name = "Example authority (TEST)" if self.production else "Example DEMO authority"
        return {**info, "name": name, "demo": info["demo"] and not self.production}

    def op_challenge(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.challenge()

    def op_login(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.login({"cms": request["cms"]})

    def op_submit(self, request: dict[str, Any]) -> Answer:
        answer = self.engine.submit(request["session"], request["key"], {"cms": request["cms"]})
        self._text_codes(answer.body.get("number"))
        return answer

    def op_confirm(self, request: dict[str, Any]) -> Answer:
        body = {"code": request["code"]}
        return self.engine.confirm(request["session"], request["number"], request["key"], body)

    def op_status(self, request: dict[str, Any]) -> Answer:
        answer = self.engine.status(request["session"], request["number"])
        self._text_codes(request["number"])
        return answer

    def op_download(self, request: dict[str, Any]) -> Answer:
        return self.engine.certificates(request["session"], request["number"])

    def op_codes(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.outbox(request["number"])

    def op_holder(self, request: dict[str, Any]) -> Answer:
        fields = ("scheme", "holder", "days_left", "requests")
        return self.engine.demo_holder({key: request[key] for key in fields})

    def _text_codes(self, number: object) -> None:
        """The "SMS gateway" of the production pose: new codes appended to the --sms file."""
        if not (self.production and self.sms and isinstance(number, str)):
            return
        for message in self.engine.outbox(number)["messages"]:
            if (number, message["code"]) not in self._sent:
                self._sent.add((number, message["code"]))
                with self.sms.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"number": number, **message}, ensure_ascii=False) + "\n")


async def _serve_connection(
    server: ExampleServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), 30)
            reply = server.answer(wire.decode(line))
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
            return
        except (UnicodeDecodeError, ValueError):
            reply = {"ok": False, "error": "bad_request", "message": "one JSON object per line"}
        except Exception:  # the engine failed: say so, keep serving
            reply = {"ok": False, "error": "internal", "message": "the authority failed"}
        writer.write(wire.encode(reply))
        await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def serve(server: ExampleServer, host: str, port: int, lifetime: float) -> None:
    listener = await asyncio.start_server(
        lambda r, w: _serve_connection(server, r, w), host, port, limit=wire.MAX_LINE
    )
    bound = listener.sockets[0].getsockname()
    print(f"listening {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.call_later(lifetime, stop.set)  # stops by itself, whoever started it
    async with listener:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qoltanba_example.server")
    parser.add_argument("--data", required=True, type=Path, help="the authority's books")
    parser.add_argument("--trust", action="append", default=[], help="CA certificates it accepts")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--production", action="store_true", help="pose as a real authority")
    parser.add_argument("--sms", type=Path, help="where the production pose texts its codes")
    parser.add_argument("--lifetime", type=float, default=300.0, help="seconds until it stops")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    engine = MockAuthority(args.data, trusted=args.trust, demo=True)
    server = ExampleServer(engine, production=args.production, sms=args.sms)
    try:
        asyncio.run(serve(server, "127.0.0.1", args.port, args.lifetime))
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
