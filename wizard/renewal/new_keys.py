"""Where a renewal's new keys live: the one seam between the renewal core and the key storage.

`process.Renewer` makes, keeps, reloads, installs and discards the new keys only through a
`NewKeyHome`:

- `FolderHome` (file stores, the default): each new key saved at once, encrypted with the new
  password, as ``PENDING_<USAGE>_<key id>.p8`` in the new folder; once issued, the final .p12 stores
  and the authority's CA certificates (.cer) written beside them, the pending copies removed.
- `wizard.renewal.token_home.TokenHome` (a PKCS#11 token; imported only when a token is used, it
  needs python-pkcs11): the new key pairs generated on the token, found again by their CKA_ID and
  public key, the certificates written onto the token beside them.

Whatever the home, the journal records where the keys are (`record.Origin` folder or token
serial, `record.PendingKey` file or token object) and never a key itself. Files are written
through ``files.write_new_file`` looked up when called (the crash-injection tests hook it there).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.errors import OutputRefused, RenewalElsewhere, StoreError, WrongPassword
from wizard.keys import files
from wizard.keys.files import (
    TEMPORARY,
    prepare_new_folder,
    refuse_folder_with_keys,
    resolve_path,
    sweep_temporary,
    user_path,
)
from wizard.keys.keypair import KeyPair, key_pair_from_pkcs8
from wizard.keys.pkcs12 import decrypt_private_key, encrypt_private_key, read_pkcs12
from wizard.keys.safe_read import read_regular_file
from wizard.keys.writer import save_store, store_file_name
from wizard.renewal.journal import Renewal, RenewalJournal, RenewalState
from wizard.renewal.record import Origin, PendingKey

if TYPE_CHECKING:
    from wizard.renewal.process import CurrentKeys, RenewalDetails

S = RenewalState
MAX_PENDING_BYTES = 1 << 20  # an encrypted pending key is a few KB
# Makes one new key pair (keypair.generate, or keys made ahead): scheme, not_equal_to=...
NewKeyPair = Callable[..., KeyPair]


class NewKeyHome(Protocol):
    """Where new keys are made, kept while the renewal waits, installed and discarded.

    ``place`` is what a home is told by the details (the resolved new folder; None for a token):
    decided before a pending renewal is resumed, so that a resumed run is checked against it."""

    kind: str  # "folder" or "token"
    # The request carries the NCA key-store extension 1.2.398.3.3.5 {1.2.398.3.3.5.1.1}: a PKCS#12
    # file. DOMAIN.md knows no value for a token, so a token's requests carry none.
    key_store_extension: bool

    def place(self, details: RenewalDetails) -> Path | None: ...

    def check_resume(self, renewal: Renewal, place: Path | None) -> None:
        """RenewalElsewhere when the pending ``renewal`` keeps its new keys somewhere else."""

    def prepare(
        self,
        current: CurrentKeys,
        details: RenewalDetails,
        place: Path | None,
        state_home: Path | None,
    ) -> Origin:
        """The offline checks before a new renewal is recorded; the origin's location fields."""

    def sweep(self, journal: RenewalJournal, renewal: Renewal, *, started: bool) -> None:
        """Remove what a killed run of ``renewal`` left behind and nobody needs."""

    def save_key(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        usage: str,
        old: Sequence[bytes],
        new_key_pair: NewKeyPair,
    ) -> tuple[KeyPair, PendingKey]:
        """One new key pair made and saved (encrypted, or on the token) before it is recorded."""

    def forget(self, renewal: Renewal, made: Sequence[PendingKey]) -> None:
        """Undo ``save_key`` for keys that were saved but could not be recorded."""

    def load_key(self, renewal: Renewal, entry: PendingKey, details: RenewalDetails) -> KeyPair:
        """A recorded new key again (a resumed run); WrongPassword / TokenError when it cannot."""

    def install_key(
        self, renewal: Renewal, details: RenewalDetails, key: KeyPair, certificate: bytes
    ) -> str:
        """The new key with its issued certificate installed; the name of what was written."""

    def install_ca(self, renewal: Renewal, certificate: x509.Certificate) -> str | None:
        """An authority CA certificate (issuing, root) installed; its name, None if skipped."""

    def finish(self, renewal: Renewal) -> None:
        """Before DONE is recorded: what only the wait needed goes (the pending copies)."""

    def finished(self, renewal: Renewal) -> None:
        """After DONE is recorded."""

    def discard(self, renewal: Renewal) -> tuple[str, ...]:
        """A renewal ended without new keys: its never-certified new keys removed (names)."""


# --- file stores in a folder ------------------------------------------------------------------


def _pending_names(renewal: Renewal) -> list[str]:
    return [key.file for key in renewal.record.keys if key.file]


def sweep_folder(journal: RenewalJournal, folder: Path, renewal: Renewal | None = None) -> None:
    """Remove what no live renewal needs from a new-keys folder: our temporary files left by a
    killed write, the pending keys of renewals that ended, and the pending keys ``renewal`` wrote
    just before a kill could record them. A pending key nobody in this journal knows of is never
    touched (it may be a lost journal's only copy of a submitted renewal's key)."""
    renewals = journal.all()
    live = {name for r in renewals if not r.state.finished for name in _pending_names(r)}
    ended = {
        name
        for r in renewals
        if r.state.finished and r.folder == folder
        for name in _pending_names(r)
    }
    sweep_temporary(folder, names={*live, *ended, *_pending_names(renewal)} if renewal else None)
    for name in ended - live:
        (folder / name).unlink(missing_ok=True)
    if renewal is not None and renewal.state is S.DETAILED and not renewal.record.keys:
        started = renewal.created_at.timestamp() - 2
        for path in [*folder.glob("PENDING_*.p8"), *folder.glob(".PENDING_*.p8.*.tmp")]:
            name = path.name
            match = TEMPORARY.match(name)
            try:
                if (match or name not in live) and path.stat().st_mtime >= started:
                    path.unlink()  # written by this renewal's key step, killed before recording
            except OSError:
                continue


def discard_pending_files(renewal: Renewal) -> tuple[str, ...]:
    """The pending encrypted keys of an ended file-store renewal removed (of no use any more),
    and its folder too if nothing else is in it."""
    folder = renewal.folder
    if folder is None:
        return ()
    removed = []
    for name in _pending_names(renewal):
        path = folder / name
        if path.exists():
            path.unlink(missing_ok=True)
            removed.append(name)
    sweep_temporary(folder, names=set(_pending_names(renewal)))
    with contextlib.suppress(OSError):
        folder.rmdir()  # only if nothing else is in it
    return tuple(removed)


def _recorded_folder(renewal: Renewal) -> Path:
    folder = renewal.record.origin.folder
    if folder is None:
        raise AssertionError("a renewal of file stores without its folder")  # _begin records it
    return folder


def _folder(folder: Path) -> Path:
    return resolve_path(user_path(folder))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _write_ca(folder: Path, certificate: x509.Certificate) -> str:
    """Save an authority CA certificate (PEM .cer, as OpenSSL and Windows both read it)."""
    name = ca_file_name(certificate)
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    path = folder / name
    if path.exists():
        if path.read_bytes() == pem:
            return name
        raise OutputRefused("output_exists", detail=str(path), path=str(path))
    files.write_new_file(folder, name, pem)
    return name


def ca_label(certificate: x509.Certificate) -> str:
    """A CA certificate's common name (what a token's label and a file's name are made from)."""
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "CA"


# The demo's remark about trust in parentheses ("(NOT TRUSTED)"), left out of file names: the
# certificate says it, a file name that shouts it only alarms (issue #11). Any other remark stays:
# "(RSA)", "(GOST)", "(RSA TEST)" tell the NCA's CAs apart, and a test CA's file must say TEST.
_REMARK = re.compile(r"\([^()]*TRUSTED[^()]*\)", re.IGNORECASE)
# Kazakh and Russian Cyrillic spelled in plain Latin letters, so that NCA names give a readable
# file name that every file system, zip tool and browser download keeps as it is.
_LATIN = {
    **dict(zip("АӘБВГҒДЕЗИЙКҚЛМНҢОӨПРСТУҰҮФҺЫІЭ", "AABVGGDEZIYKQLMNNOOPRSTUUUFHYIE", strict=True)),
    **{"Ё": "YO", "Ж": "ZH", "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SHCH"},
    **{"Ю": "YU", "Я": "YA", "Ъ": "", "Ь": ""},
}
_TO_LATIN = str.maketrans(
    {**_LATIN, **{upper.lower(): latin.lower() for upper, latin in _LATIN.items()}}
)
MAX_CA_STEM = 64  # characters of the name before "_<serial>.cer"


def ca_file_name(certificate: x509.Certificate) -> str:
    """A plain file name for a CA certificate: its common name in Latin letters, digits and
    ``_``, without the demo's remark on trust, then its serial
    (``QOLTANBA_DEMO_ROOT_CA_<serial>.cer``; the NCA's
    ``ULTTYQ_KUALANDYRUSHY_ORTALYQ_RSA_<serial>.cer``); ``CA_<serial>.cer`` when nothing of the
    name is left."""
    label = unicodedata.normalize("NFC", _REMARK.sub(" ", ca_label(certificate)))
    latin = unicodedata.normalize("NFKD", label.translate(_TO_LATIN))  # "Ä" -> "A" + a mark
    plain = latin.encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^0-9A-Za-z]+", "_", plain).strip("_")[:MAX_CA_STEM].rstrip("_") or "CA"
    return f"{stem}_{format(certificate.serial_number, 'x')[:16]}.cer"


class FolderHome:
    """New keys as files: encrypted PENDING_*.p8 in the new folder while the renewal waits, then
    the .p12 stores (the new password) and the authority's CA certificates (.cer)."""

    kind = "folder"
    key_store_extension = True

    def place(self, details: RenewalDetails) -> Path | None:
        if details.folder is None:
            from wizard.errors import UsageError

            raise UsageError("renewal_no_folder")
        return _folder(details.folder)

    def check_resume(self, renewal: Renewal, place: Path | None) -> None:
        token = renewal.record.origin.token
        if token:
            raise RenewalElsewhere("renewal_pending_on_token", token=token)
        if renewal.folder is not None and renewal.folder != place:
            code = (
                "renewal_done_elsewhere" if renewal.state is S.DONE else "renewal_pending_elsewhere"
            )
            raise RenewalElsewhere(code, folder=str(renewal.folder))

    def prepare(
        self,
        current: CurrentKeys,
        details: RenewalDetails,
        place: Path | None,
        state_home: Path | None,
    ) -> Origin:
        from wizard.keys.passwords import require_acceptable

        folder = place
        assert folder is not None  # place() gives one or raises
        require_acceptable(details.new_password, identity=current.identity())
        if state_home is not None and _inside(resolve_path(user_path(state_home)), folder):
            # the journal and the demo authority's books never go among the new keys
            raise OutputRefused("output_holds_state", path=str(folder))
        prepare_new_folder(folder, [s.path for s in current.stores.values() if s.path])
        refuse_folder_with_keys(folder)
        return Origin(
            folder=folder,
            current_files=tuple(
                str(resolve_path(user_path(s.path))) for s in current.stores.values() if s.path
            ),
        )

    def sweep(self, journal: RenewalJournal, renewal: Renewal, *, started: bool) -> None:
        if started:
            sweep_folder(journal, _recorded_folder(renewal))
        elif renewal.folder is not None:
            sweep_folder(journal, renewal.folder, renewal)

    def save_key(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        usage: str,
        old: Sequence[bytes],
        new_key_pair: NewKeyPair,
    ) -> tuple[KeyPair, PendingKey]:
        folder = _recorded_folder(renewal)
        key = new_key_pair(current.scheme, not_equal_to=old)
        name = f"PENDING_{usage.upper()}_{key.key_identifier().hex()}.p8"
        files.write_new_file(
            folder, name, encrypt_private_key(key.private_key_info(), details.new_password)
        )
        return key, PendingKey(usage=usage, spki=key.public_key_info(), file=name)

    def forget(self, renewal: Renewal, made: Sequence[PendingKey]) -> None:
        folder = _recorded_folder(renewal)
        for entry in made:
            (folder / entry.file).unlink(missing_ok=True)

    def load_key(self, renewal: Renewal, entry: PendingKey, details: RenewalDetails) -> KeyPair:
        """Decrypted from the pending file (the same new password)."""
        path = _recorded_folder(renewal) / entry.file
        try:
            data = read_regular_file(path, MAX_PENDING_BYTES)
        except (OSError, StoreError) as exc:
            raise OutputRefused("pending_key_missing", detail=str(path), path=str(path)) from exc
        try:
            key = key_pair_from_pkcs8(decrypt_private_key(data, details.new_password))
        except ValueError:
            key = None
        if key is None or not key.same_public_key(entry.spki):
            # Decided by the recorded public key, not by a decryption error.
            raise WrongPassword("new_password_differs")
        return key

    def install_key(
        self, renewal: Renewal, details: RenewalDetails, key: KeyPair, certificate: bytes
    ) -> str:
        folder = _recorded_folder(renewal)
        target = folder / store_file_name(certificate, key)
        if target.exists():  # written before an interruption: accept it only if it is ours
            contents = read_pkcs12(target.read_bytes(), details.new_password)
            if contents.certificates[0] != certificate:
                raise OutputRefused("output_exists", detail=str(target), path=str(target))
            return target.name
        return save_store(folder, key, certificate, details.new_password).name

    def install_ca(self, renewal: Renewal, certificate: x509.Certificate) -> str | None:
        return _write_ca(_recorded_folder(renewal), certificate)

    def finish(self, renewal: Renewal) -> None:
        folder = _recorded_folder(renewal)
        for name in _pending_names(renewal):
            # The final stores were written and re-opened: the pending copies can go.
            (folder / name).unlink(missing_ok=True)

    def finished(self, renewal: Renewal) -> None:
        installed = renewal.record.installed
        names = {*_pending_names(renewal), *(installed.files if installed else ())}
        sweep_temporary(_recorded_folder(renewal), names=names)

    def discard(self, renewal: Renewal) -> tuple[str, ...]:
        return discard_pending_files(renewal)
