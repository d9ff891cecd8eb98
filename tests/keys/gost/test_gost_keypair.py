"""GostKeyPair: the Kazakh PKCS#8 GOST 2015 512 key of the real NCA stores, read and written back
byte for byte; key generation; signatures under the NCA's OIDs; the keys this build refuses.

The NCA material is read from ../shared/nca-test-material (outside the repository)."""

from __future__ import annotations

import os

import pytest
from asn1crypto import core

from wizard.errors import QoltanbaError, StoreError
from wizard.keys import keypair as keypair_module
from wizard.keys import oids
from wizard.keys.asn1 import RawPrivateKeyInfo, RawPublicKeyInfo, key_identifier
from wizard.keys.certificate import certificate_public_key_info
from wizard.keys.gost import curve, gost3410
from wizard.keys.gost.keypair import (
    GostKeyPair,
    decode_private_key_info,
    encode_private_key_info,
    is_nca_public_key_info,
)
from wizard.keys.keypair import RsaKeyPair, generate, key_pair_from_pkcs8
from wizard.keys.oids import Scheme
from wizard.keys.pkcs12 import read_pkcs12, write_pkcs12
from wizard.keys.signatures import verify
from wizard.keys.store import open_store_bytes

PASSWORD = "Qwerty12"  # README of the material
GOST_STORES = "gost2015-2026/*.p12"
# DOMAIN.md §6: the Kazakh OIDs.
KEY_OID = "1.2.398.3.10.1.1.2.2"
CURVE_OID = "1.2.398.3.10.1.1.2.2.1"
SIGNATURE_OID = "1.2.398.3.10.1.1.2.3.2"
STREEBOG_OID = "1.2.398.3.10.1.3.3"


def _algorithm_der(curve_oid: str = CURVE_OID, digest_oid: str | None = STREEBOG_OID) -> bytes:
    """AlgorithmIdentifier { key OID, SEQUENCE { curve, [digest] } }, DER, built by hand."""
    parameters = core.ObjectIdentifier(curve_oid).dump()
    if digest_oid:
        parameters += core.ObjectIdentifier(digest_oid).dump()
    inner = core.ObjectIdentifier(KEY_OID).dump() + core.Sequence(contents=parameters).dump()
    return core.Sequence(contents=inner).dump()


def _pkcs8(private_key: bytes, **algorithm) -> bytes:
    """A PKCS#8 PrivateKeyInfo with the given private-key OCTET STRING content."""
    body = (
        core.Integer(0).dump() + _algorithm_der(**algorithm) + core.OctetString(private_key).dump()
    )
    return core.Sequence(contents=body).dump()


@pytest.mark.material_files(GOST_STORES)
def test_the_key_of_every_real_gost_store_is_read_and_written_back_byte_for_byte(material_file):
    contents = read_pkcs12(material_file.read_bytes(), PASSWORD)
    key = key_pair_from_pkcs8(contents.private_key_info)
    assert isinstance(key, GostKeyPair) and key.scheme is Scheme.GOST2015
    # The very shape DOMAIN.md §6 describes: {0, {key OID, {curve, Streebog}}, OCTET{OCTET(64)}}.
    info = RawPrivateKeyInfo.load(contents.private_key_info)
    assert info["private_key_algorithm"].dump() == _algorithm_der()
    inner = core.OctetString.load(info["private_key"].native).native
    assert len(inner) == 64
    assert key.private_key_info() == contents.private_key_info
    # Its public half is the certificate's key, SubjectPublicKeyInfo byte for byte.
    spki = certificate_public_key_info(contents.certificates[0])
    assert key.public_key_info() == spki
    assert key.same_public_key(spki) and is_nca_public_key_info(spki)
    # The NCA names the store after the SHA-1 of the key bits (its SKI, localKeyID).
    assert key.key_identifier() == contents.local_key_id == key_identifier(spki)


@pytest.mark.material_files("gost2015-2026/legal_ceo_valid.p12")
def test_a_real_gost_key_signs_what_its_certificate_verifies(material_file):
    contents = read_pkcs12(material_file.read_bytes(), PASSWORD)
    key = key_pair_from_pkcs8(contents.private_key_info)
    spki = certificate_public_key_info(contents.certificates[0])
    data = os.urandom(200)
    signature = key.sign(data)
    assert len(signature) == 128
    assert verify(spki, SIGNATURE_OID, data, signature)
    assert not verify(spki, SIGNATURE_OID, data + b"!", signature)
    assert key.signature_algorithm == {"algorithm": SIGNATURE_OID, "parameters": None}
    assert key.digest_algorithm == STREEBOG_OID
    assert (SIGNATURE_OID, STREEBOG_OID, KEY_OID) == (
        oids.GOST2015_512_SIGNATURE,
        oids.STREEBOG_512,
        oids.GOST2015_512_KEY,
    )


def test_generated_keys_are_fresh_round_trip_and_hide_their_scalar():
    first, second = generate(Scheme.GOST2015), generate(Scheme.GOST2015)
    assert isinstance(first, GostKeyPair) and not first.same_public_key(second)
    again = key_pair_from_pkcs8(first.private_key_info())
    assert isinstance(again, GostKeyPair) and again.same_public_key(first)
    assert again.private_key_info() == first.private_key_info()
    assert is_nca_public_key_info(first.public_key_info())
    assert curve.is_on_curve(first.public_point)
    scalar = decode_private_key_info(first.private_key_info())
    assert gost3410.public_key(scalar) == first.public_point
    assert repr(first) == "<GostKeyPair GOST 2015 512>"
    assert str(scalar) not in repr(first) and format(scalar, "x") not in repr(first)


def test_a_new_gost_key_equal_to_a_current_one_is_refused(monkeypatch):
    current = GostKeyPair.generate()
    monkeypatch.setattr(GostKeyPair, "generate", classmethod(lambda cls: current))
    with pytest.raises(QoltanbaError) as info:
        generate(Scheme.GOST2015, not_equal_to=[current.public_key_info()])
    assert info.value.code == "key_not_new"
    assert generate(Scheme.GOST2015, not_equal_to=[os.urandom(10)]) is current


def test_gost2004_and_other_schemes_are_never_generated():
    for scheme in (Scheme.GOST2004, Scheme.OTHER):
        with pytest.raises(StoreError):
            generate(scheme)


def test_bare_64_bytes_are_read_as_well_as_the_nca_wrapping():
    d = gost3410.generate_private_key()
    wrapped = encode_private_key_info(d)
    bare = _pkcs8(gost3410.encode_private_key(d))
    assert decode_private_key_info(wrapped) == decode_private_key_info(bare) == d
    # The TC26 name of the same curve, and no digest parameter, are the same key too.
    tc26 = _pkcs8(gost3410.encode_private_key(d), curve_oid=gost3410.OID_TC26_512_PARAMSET_A)
    assert decode_private_key_info(tc26) == d
    no_digest = _pkcs8(gost3410.encode_private_key(d), digest_oid=None)
    assert decode_private_key_info(no_digest) == d


@pytest.mark.parametrize(
    "algorithm",
    [
        {"curve_oid": "1.2.643.7.1.2.1.2.2"},  # TC26 512 paramSetB: another curve
        {"digest_oid": "1.2.643.7.1.1.2.2"},  # Streebog-256: not this scheme
    ],
)
def test_a_key_on_another_curve_or_hash_is_one_this_build_cannot_use(algorithm):
    d = gost3410.generate_private_key()
    assert key_pair_from_pkcs8(_pkcs8(gost3410.encode_private_key(d), **algorithm)) is None


@pytest.mark.parametrize(
    "content",
    [
        bytes(64),  # d = 0
        curve.Q.to_bytes(64, "little"),  # d = q
        b"\x01" * 63,  # too short
        core.OctetString(b"\x01" * 65).dump(),  # wrapped, too long
        b"\x04\x40" + b"\x01" * 10,  # a wrapping cut short
    ],
)
def test_a_damaged_gost_key_is_damage(content):
    with pytest.raises(StoreError) as info:
        key_pair_from_pkcs8(_pkcs8(content))
    assert info.value.code == "store_corrupt"


def test_a_store_whose_gost_key_cannot_be_used_is_not_renewable(material):
    """A GOST 2015 certificate with a key this build cannot use: the store opens, the key is
    not used, and the verdict says so instead of offering a renewal that cannot work."""
    contents = read_pkcs12(
        (material / "gost2015-2026" / "individual_valid.p12").read_bytes(), PASSWORD
    )
    d = decode_private_key_info(contents.private_key_info)
    other_curve = _pkcs8(gost3410.encode_private_key(d), curve_oid="1.2.643.7.1.2.1.2.2")
    data = write_pkcs12(
        other_curve,
        contents.certificates[0],
        PASSWORD,
        friendly_name=contents.friendly_name,
        local_key_id=contents.local_key_id,
    )
    store = open_store_bytes(data, PASSWORD)
    assert store.private_key is None and store.key_matches is None
    inside = store.facts.not_before + (store.facts.not_after - store.facts.not_before) / 2
    verdict = store.verdict(inside)
    assert (verdict.renewable, verdict.reason) == (False, "algorithm_not_supported")


def test_nca_public_key_info_is_exactly_the_ncas_encoding():
    key = GostKeyPair.generate()
    spki = key.public_key_info()
    raw = RawPublicKeyInfo.load(spki)
    assert raw["algorithm"].dump() == _algorithm_der()
    assert raw["public_key"].contents[1:4] == b"\x04\x81\x80"  # BIT STRING { OCTET STRING(128) }
    assert is_nca_public_key_info(spki)
    assert not is_nca_public_key_info(RsaKeyPair.generate().public_key_info())
    assert not is_nca_public_key_info(spki[:-1] + bytes([spki[-1] ^ 1]))  # off the curve
    assert not is_nca_public_key_info(b"\x30\x00")


def test_the_key_pair_module_does_not_load_gost_until_a_gost_key_is_met():
    """RSA-only work keeps its imports lean: GOST arrives with the first GOST key."""
    import subprocess
    import sys

    script = (
        "import sys, wizard.keys.keypair as k; print('wizard.keys.gost.gost3410' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(keypair_module.__file__))),
    )
    assert result.stdout.strip() == "False"
