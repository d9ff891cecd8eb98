"""Keys made ahead (wizard/renewal/keys_ahead.py): fresh, each handed out once, never one equal to
a current key, and for GOST nothing made in the background."""

from __future__ import annotations

from wizard.keys.keypair import RsaKeyPair
from wizard.keys.oids import Scheme
from wizard.renewal import keys_ahead
from wizard.renewal.keys_ahead import KeysAhead


def test_rsa_keys_made_ahead_are_handed_out_once_each():
    ahead = KeysAhead(Scheme.RSA, 2)
    first, second = ahead.generate(Scheme.RSA), ahead.generate(Scheme.RSA)
    assert isinstance(first, RsaKeyPair) and isinstance(second, RsaKeyPair)
    assert not first.same_public_key(second)
    third = ahead.generate(Scheme.RSA)  # none left: made on the spot
    assert not third.same_public_key(first) and not third.same_public_key(second)


def test_a_key_made_ahead_equal_to_a_current_key_is_never_handed_out(monkeypatch):
    current = RsaKeyPair.generate()
    fresh = RsaKeyPair.generate()
    made = iter([current, fresh])
    monkeypatch.setattr(RsaKeyPair, "generate", classmethod(lambda cls, bits=2048: next(made)))
    ahead = KeysAhead(Scheme.RSA, 1)  # makes `current` again, as a broken generator would
    key = ahead.generate(Scheme.RSA, not_equal_to=[current.public_key_info()])
    assert key is fresh


def test_gost_keys_are_not_made_ahead(monkeypatch):
    asked = []
    monkeypatch.setattr(keys_ahead, "generate", lambda scheme, **kw: asked.append(scheme) or "k")
    monkeypatch.setattr(RsaKeyPair, "generate", classmethod(lambda cls, bits=2048: 1 / 0))
    ahead = KeysAhead(Scheme.GOST2015, 1)
    assert ahead.generate(Scheme.GOST2015) == "k"
    assert asked == [Scheme.GOST2015]
