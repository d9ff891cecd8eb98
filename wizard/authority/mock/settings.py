"""How the mock authority behaves: names, limits and timings, each overridable by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, fields

from wizard.authority.connect import DEMO_BASE_URL
from wizard.errors import UsageError

# Storage kinds an application may name, and how many years a certificate on each is valid.
FILE_STORAGE = "pkcs12"
TOKEN_STORAGES = ("kaztoken", "idcard", "etoken", "jacarta", "akey")
VALIDITY_YEARS = {FILE_STORAGE: 1, **dict.fromkeys(TOKEN_STORAGES, 3)}


@dataclass(frozen=True)
class Settings:
    """Everything tunable about the mock authority; times are seconds."""

    name: str = "Qoltanba demo authority"
    schemes: tuple[str, ...] = ("RSA", "GOST 2015 512")  # Scheme values it issues
    body_limit: int = 256 * 1024  # bytes of a request body before 413
    challenge_ttl: float = 300.0  # a login challenge must be signed and sent back within this
    session_ttl: float = 3600.0
    code_delay: float = 0.0  # until the one-time code "arrives"; the state stays submitted
    confirm_within: float = 24 * 3600.0  # an application never confirmed by then lapses
    code_attempts: int = 3
    head_delay: float = 0.0  # demo mode: the first head approves this long after the code
    processing_time: float = 0.0  # from approval until the certificates are issued
    stuck_retry_after: float = 5.0  # the hint given while the "stuck" fault holds processing
    demo_holder_days_max: int = 3650  # |days_left| bound for POST /v1/demo/holders
    # Where the CAs publish OCSP, CRLs and their certificates, as the certificates issued say
    # (AIA, CDP): the in-process demo's address, or the served host:port ("" publishes none).
    pki_url: str = DEMO_BASE_URL

    def replace(self, **overrides: object) -> Settings:
        """A copy with ``overrides``; an unknown name is a UsageError, not a silent no-op."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UsageError(detail=f"unknown authority settings: {', '.join(unknown)}")
        values = {name: getattr(self, name) for name in known}
        for name, value in overrides.items():
            if name == "schemes":
                value = tuple(value)  # type: ignore[arg-type]
            values[name] = value
        return Settings(**values)  # type: ignore[arg-type]
