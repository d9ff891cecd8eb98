"""The example authority's wire protocol: JSON lines over TCP, one request per connection.

The client connects, sends one line, reads one line, and closes:

  request   {"op": "<operation>", ...arguments}\\n
  answer    {"ok": true, ...result}\\n
            {"ok": false, "error": "<code>", "message": "<one line>", ...details}\\n

Binary values (CMS, certificates, requests) are base64. The operations, their arguments and
results:

  info                                       name, demo, schemes, ca_certificates, accepted_issuers
  challenge                                  challenge, expires_at
  login     cms                              session, expires_at
  submit    session, key, cms                number, state, reason, retry_after, attempts_left
  confirm   session, number, key, code       (as submit)
  status    session, number                  (as submit)
  download  session, number                  number, certificates [{usage, certificate}], chain
  codes     number                           messages [{text, code}]        (demo only)
  holder    scheme, holder, days_left,       certificates, chain            (demo only)
            requests [{usage, csr}]

Error codes: rejected (reason), code_wrong (attempts_left), session_expired, application_open
(application), not_found, not_issued, not_demo, bad_request, internal.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

MAX_LINE = 1 << 20  # bytes of one line, either way


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line as a JSON object; ValueError for anything else."""
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes:
    """Strict base64; ValueError for anything else."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc
