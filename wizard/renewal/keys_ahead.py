"""New key pairs made ahead of time, in a worker thread, while the caller does other work.

The command line starts this once it knows the holder's scheme and that a new renewal will need
new keys, then loads the authority (imports, its CA) while the keys are being made. RSA key
generation runs inside OpenSSL without holding the GIL, so on a device with two cores it overlaps
that work instead of following it. GOST keys are made in pure Python (the GIL would serialise the
two), so for them nothing is made ahead and `generate` simply makes the key when asked.

The keys live in memory only, exactly as a key made at the moment would; one that is never asked
for is dropped with the process. Nothing here writes anything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from wizard.keys.keypair import KeyPair, RsaKeyPair, generate
from wizard.keys.oids import Scheme


class KeysAhead:
    """``count`` key pairs of ``scheme`` being made in the background (RSA only); `generate`
    takes them in turn, with the signature and the checks of `wizard.keys.keypair.generate`."""

    def __init__(self, scheme: Scheme, count: int) -> None:
        self.scheme = scheme
        self._made: list[KeyPair] = []
        self._worker: threading.Thread | None = None
        if scheme is Scheme.RSA and count > 0:
            self._worker = threading.Thread(
                target=self._make, args=(count,), name="qoltanba-keys-ahead"
            )
            self._worker.start()

    def _make(self, count: int) -> None:
        for _ in range(count):
            self._made.append(RsaKeyPair.generate())

    def generate(self, scheme: Scheme, *, not_equal_to: Iterable[bytes] = ()) -> KeyPair:
        """A key made ahead when one of this scheme is left and differs from the current keys;
        otherwise a fresh one from `wizard.keys.keypair.generate` (which checks the same)."""
        old = list(not_equal_to)
        if self._worker is not None and scheme is self.scheme:
            self._worker.join()
            if self._made:
                key = self._made.pop(0)
                if not any(key.same_public_key(o) for o in old):
                    return key
        return generate(scheme, not_equal_to=old)
