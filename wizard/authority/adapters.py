"""Authority adapters as plug-ins, found the way keyring finds its backends: the entry-point group
``qoltanba.authorities``. Each entry point's name is the adapter's name (``--authority NAME``); its
object is an `AuthorityAdapter` (an instance, or a class made with no arguments).

The built-in adapters register the same way in Qoltanba's own pyproject.toml, and are also known
here by name, so that a build without installed metadata (the phone app) still has them:

  demo       the mock authority in-process (httpx's ASGI transport: no socket, works on a phone)
  mock-http  Qoltanba's HTTP API (interface.py) at a URL: `qoltanba authority serve`, or any
             authority speaking it; claims https:// URLs, and http:// on this machine only

``--authority`` takes a name, or a URL that an adapter claims (the highest ``priority`` wins).
An adapter that cannot be used — its import fails, its object is not an adapter, its name is
taken, its own ``usable()`` check says why — is listed with the reason (keyring's "fail" backend:
said, never a crash) and refused only when chosen. Entry points are read only when a name that
is not built in, or a URL, is asked for, or the list is: ``import wizard.cli`` stays fast.
How to write one: ADAPTERS.md beside this file; the contract it must pass:
`wizard.authority.testing`.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from wizard.authority.interface import Authority
from wizard.errors import QoltanbaError, UsageError

GROUP = "qoltanba.authorities"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
BUILTIN: dict[str, str] = {
    "demo": "wizard.authority.builtin:DemoAdapter",
    "mock-http": "wizard.authority.builtin:MockHttpAdapter",
}
BUILTIN_ORIGIN = "qoltanba"


@dataclass(frozen=True)
class OpenOptions:
    """How the caller will use the authority it opens."""

    home: Path  # Qoltanba's state folder; an adapter may keep its own state under it
    max_wait: float | None = None  # how long the caller waits on the authority (connect.py)
    # The caller runs a UI loop: an in-process authority does its blocking work in a thread.
    keep_loop_responsive: bool = True


class AuthorityAdapter:
    """Base of every adapter. Subclass it, give it a ``title`` and an ``open``; override the rest
    where the defaults do not fit. Nothing here talks to the authority: ``open`` makes the
    object that does (an `Authority`, or a `DemoAuthority`), and the first call connects.

    Only ``normal_spec`` and ``open`` may raise, and only UsageError (wizard.errors: what the
    person must change). Anything another method raises is taken for the adapter's own failure:
    it is listed as unusable with that reason (keyring's "fail" backend), never a crash."""

    title: str = ""  # one line for `qoltanba authority list` and the wizard's choice
    priority: float = 1.0  # among adapters claiming the same URL, the highest wins
    opens_by_name: bool = True  # False: it needs a URL it claims (``--authority https://...``)
    url_schemes: tuple[str, ...] = ()  # URL schemes it claims by default ("https", ...)

    def describe(self, lang: str) -> str:
        """The title in ``lang`` (kk, ru, en); the plain ``title`` unless overridden.
        Raises nothing."""
        return self.title

    def claims(self, spec: str) -> bool:
        """Whether ``--authority spec`` (a URL) is for this adapter. Raises nothing."""
        return urlsplit(spec).scheme.lower() in self.url_schemes

    def normal_spec(self, spec: str) -> str:
        """``spec`` as the journal records it (a URL normalised). Raises UsageError for a spec
        it cannot use (mock-http: authority_bad_url)."""
        return spec

    def usable(self) -> str | None:
        """None when it can work here; otherwise why not, in one line (what to install or set).
        Raises nothing; a raise is listed as its reason."""
        return None

    def roots(self) -> tuple[bytes, ...]:
        """DER (or PEM) root certificates it trusts besides the NCA's pinned ones (a bank's own
        CA, say): shown by `qoltanba authority list`, and what a non-demo renewal may chain to.
        Raises nothing."""
        return ()

    def open(self, spec: str, options: OpenOptions) -> Authority:
        """The authority for ``spec`` (its name, or a URL it claimed), not yet connected: the
        first call connects. Raises UsageError when it cannot be made (configuration missing)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Unusable:
    """Why an installed adapter cannot be used: a catalogue key (adapters.reason.*) and params."""

    key: str
    params: dict[str, str] = field(default_factory=dict)

    def message(self, lang: str) -> str:
        from wizard.i18n import translate

        return translate(f"adapters.reason.{self.key}", lang, **self.params)


@dataclass(frozen=True)
class DeclaredRoot:
    """A root certificate an adapter declares, as the user is shown it."""

    subject: str
    sha256: str
    not_after: str  # ISO 8601
    der: bytes = field(repr=False)


@dataclass(frozen=True)
class InstalledAdapter:
    """One entry of the ``qoltanba.authorities`` group (or a built-in), loaded or not."""

    name: str
    origin: str  # the distribution that installed it, with its version
    target: str  # "module:object", as the entry point names it
    adapter: AuthorityAdapter | None
    unusable: Unusable | None = None

    @property
    def usable(self) -> bool:
        return self.adapter is not None and self.unusable is None

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN and BUILTIN[self.name] == self.target

    def title(self, lang: str) -> str:
        if self.adapter is None:
            return ""
        try:
            return self.adapter.describe(lang) or self.adapter.title
        except Exception:  # a plug-in's bug must not end the listing
            return self.adapter.title

    def declared_roots(self) -> tuple[DeclaredRoot, ...]:
        if self.adapter is None:
            return ()
        try:
            return tuple(_declared(der) for der in self.adapter.roots())
        except Exception:
            return ()


@dataclass(frozen=True)
class Resolved:
    """The adapter ``--authority`` chose, and the spec the journal records for it."""

    name: str
    spec: str  # "demo", "example", or the URL as the adapter normalised it
    adapter: AuthorityAdapter

    def roots(self) -> tuple[bytes, ...]:
        return tuple(self.adapter.roots())

    def open(self, options: OpenOptions) -> Authority:
        try:
            authority = self.adapter.open(self.spec, options)
        except QoltanbaError:
            raise
        except Exception as exc:  # the adapter's own bug: said as its failure, not Qoltanba's
            raise UsageError(
                "authority_open_failed", name=self.name, detail=type(exc).__name__
            ) from exc
        if not isinstance(authority, Authority):
            raise UsageError("authority_not_an_authority", name=self.name)
        return authority


@dataclass(frozen=True)
class AuthorityChoice:
    """One adapter as the wizard offers it (`available_authorities`)."""

    name: str
    title: str
    usable: bool
    reason: str | None  # why not, when not usable
    opens_by_name: bool  # False: the person types a URL for it
    builtin: bool
    roots: tuple[DeclaredRoot, ...]


EntryPoints = Callable[[], Iterable[object]]


def _entry_points() -> Iterable[object]:
    from importlib.metadata import entry_points

    return entry_points(group=GROUP)


def _load_target(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    value: object = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        value = getattr(value, part)
    return value


def _instantiate(
    name: str, origin: str, target: str, load: Callable[[], object]
) -> InstalledAdapter:
    try:
        loaded = load()
        adapter = loaded() if isinstance(loaded, type) else loaded
    except Exception as exc:  # keyring: a plug-in that fails to load is said, never raised
        detail = f"{type(exc).__name__}: {exc}"[:300]
        return InstalledAdapter(
            name, origin, target, None, Unusable("load_failed", {"detail": detail})
        )
    if not isinstance(adapter, AuthorityAdapter):
        return InstalledAdapter(
            name, origin, target, None, Unusable("not_an_adapter", {"target": target})
        )
    try:
        said = adapter.usable()
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:300]
        return InstalledAdapter(
            name, origin, target, adapter, Unusable("check_failed", {"detail": detail})
        )
    if said:
        return InstalledAdapter(
            name, origin, target, adapter, Unusable("said", {"detail": str(said)[:300]})
        )
    return InstalledAdapter(name, origin, target, adapter)


def _builtin(name: str) -> InstalledAdapter:
    target = BUILTIN[name]
    return _instantiate(name, BUILTIN_ORIGIN, target, lambda: _load_target(target))


def _origin(entry_point: object) -> str:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "?"
    return f"{dist.name} {dist.version}"


def installed_adapters(entry_points: EntryPoints = _entry_points) -> list[InstalledAdapter]:
    """Every adapter: the built-ins first, then the group's entry points by name, each loaded
    (and checked with ``usable()``) once here. Never raises for a plug-in's trouble."""
    found = [_builtin(name) for name in BUILTIN]
    taken = {entry.name: entry.origin for entry in found}
    try:
        points = sorted(entry_points(), key=lambda p: (getattr(p, "name", ""), _origin(p)))
    except Exception:  # broken metadata somewhere on sys.path: the built-ins still work
        points = []
    for point in points:
        name, target, origin = (
            str(getattr(point, "name", "")),
            str(getattr(point, "value", "")),
            _origin(point),
        )
        if BUILTIN.get(name) == target:
            continue  # our own declaration of a built-in, already here
        if name in taken:
            found.append(
                InstalledAdapter(
                    name, origin, target, None, Unusable("name_taken", {"origin": taken[name]})
                )
            )
            continue
        if not NAME_PATTERN.fullmatch(name):
            found.append(InstalledAdapter(name, origin, target, None, Unusable("bad_name")))
            continue
        taken[name] = origin
        found.append(_instantiate(name, origin, target, point.load))  # type: ignore[attr-defined]
    return found


def available_authorities(
    lang: str = "en", entry_points: EntryPoints = _entry_points
) -> list[AuthorityChoice]:
    """The authorities the wizard can offer, usable ones first (the same list as
    `qoltanba authority list`): what a choice of authority shows, with the reason for each
    one that cannot be used."""
    choices = [
        AuthorityChoice(
            name=entry.name,
            title=entry.title(lang),
            usable=entry.usable,
            reason=entry.unusable.message(lang) if entry.unusable else None,
            opens_by_name=bool(entry.adapter is None or entry.adapter.opens_by_name),
            builtin=entry.builtin,
            roots=entry.declared_roots(),
        )
        for entry in installed_adapters(entry_points)
    ]
    return sorted(choices, key=lambda c: not c.usable)


def _chosen(entry: InstalledAdapter, spec: str, lang: str, *, by_name: bool) -> Resolved:
    if entry.adapter is None or entry.unusable is not None:
        reason = entry.unusable.message(lang) if entry.unusable else ""
        raise UsageError("authority_unusable", name=entry.name, reason=reason)
    if by_name and not entry.adapter.opens_by_name:
        raise UsageError("authority_needs_url", name=entry.name)
    return Resolved(entry.name, entry.adapter.normal_spec(spec), entry.adapter)


def _claims(entry: InstalledAdapter, spec: str) -> bool:
    try:
        return entry.adapter is not None and bool(entry.adapter.claims(spec))
    except Exception:
        return False


def resolve(spec: str, lang: str = "en", entry_points: EntryPoints = _entry_points) -> Resolved:
    """The adapter for ``--authority spec``: an adapter's name, or a URL one claims.

    UsageError: authority_unknown (no such name), authority_unclaimed (no adapter talks to this
    URL), authority_needs_url (the adapter is reached by URL only), authority_unusable (chosen but
    unusable: the reason in ``lang``), or the adapter's own (authority_bad_url for mock-http)."""
    text = spec.strip()
    if text in BUILTIN:  # the common case reads no metadata at all
        return _chosen(_builtin(text), text, lang, by_name=True)
    entries = installed_adapters(entry_points)
    named = next((e for e in entries if e.name == text), None)
    if named is not None:
        return _chosen(named, text, lang, by_name=True)
    if "://" in text:
        claimants = [e for e in entries if e.usable and _claims(e, text)]
        if not claimants:
            raise UsageError("authority_unclaimed", url=text)
        best = max(claimants, key=lambda e: e.adapter.priority if e.adapter else 0.0)
        return _chosen(best, text, lang, by_name=False)
    names = ", ".join(e.name for e in entries if e.usable) or "-"
    raise UsageError("authority_unknown", name=text, names=names)


def _declared(der: bytes) -> DeclaredRoot:
    from cryptography.hazmat.primitives.serialization import Encoding

    from wizard.keys.certificate import load_certificate

    certificate = load_certificate(der)  # DER or PEM
    exact = certificate.public_bytes(Encoding.DER)
    return DeclaredRoot(
        subject=certificate.subject.rfc4514_string(),
        sha256=hashlib.sha256(exact).hexdigest(),
        not_after=certificate.not_valid_after_utc.isoformat(),
        der=exact,
    )
