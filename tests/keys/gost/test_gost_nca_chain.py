"""The NCA's real GOST test chain: the root's self-signature, root → intermediate, and both CRLs
under the intermediate, checked with our pure-Python GOST R 34.10-2015 in Kazakhstan's byte order.

The material lives outside the repository (``../shared/nca-test-material``) and is only read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import core, crl, pem, x509

from wizard.keys.gost import gost3410
from wizard.keys.gost.curve import Point

MATERIAL = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "nca-test-material" / "gost2015-2026"
)
ROOT = MATERIAL / "ca" / "root_test_gost_2022.cer"
INTERMEDIATE = MATERIAL / "ca" / "nca_gost2022_test.cer"
CRLS = [MATERIAL / "crl" / "nca_gost2022_test.crl", MATERIAL / "crl" / "nca_gost2022_d_test.crl"]

pytestmark = pytest.mark.skipif(
    not (ROOT.is_file() and INTERMEDIATE.is_file()),
    reason=f"NCA test material not found at {MATERIAL.resolve()} (it is kept outside the repo)",
)


class _AlgorithmIdentifier(core.Sequence):
    _fields = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _GostSpki(core.Sequence):
    """SubjectPublicKeyInfo with Kazakhstan's OIDs, which asn1crypto's own class refuses."""

    _fields = [
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.OctetBitString),
    ]


class _GostKeyParameters(core.Sequence):
    _fields = [
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


def _der(path: Path) -> bytes:
    data = path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return data


def _certificate(path: Path) -> x509.Certificate:
    return x509.Certificate.load(_der(path))


def _spki(cert: x509.Certificate) -> _GostSpki:
    return _GostSpki.load(cert["tbs_certificate"]["subject_public_key_info"].dump())


def _public_point(cert: x509.Certificate) -> Point:
    # subjectPublicKey is a BIT STRING holding a DER OCTET STRING of x‖y (little-endian).
    inner = core.OctetString.load(_spki(cert)["public_key"].native).native
    return gost3410.decode_public_key(inner)


def _check_signed_with_kz_gost(algorithm: core.Sequence) -> None:
    assert algorithm["algorithm"].dotted == gost3410.OID_KZ_GOST2015_512_SIGNATURE


def test_keys_carry_kazakhstan_oids() -> None:
    for cert in (_certificate(ROOT), _certificate(INTERMEDIATE)):
        alg = _spki(cert)["algorithm"]
        assert alg["algorithm"].dotted == gost3410.OID_KZ_GOST2015_512_PUBLIC_KEY
        params = _GostKeyParameters.load(alg["parameters"].dump())
        assert params["public_key_param_set"].dotted == gost3410.OID_KZ_GOST2015_512_PARAMSET
        assert params["digest_param_set"].dotted == gost3410.OID_KZ_STREEBOG512


def test_root_is_self_signed() -> None:
    root = _certificate(ROOT)
    _check_signed_with_kz_gost(root["signature_algorithm"])
    tbs = root["tbs_certificate"].dump()
    sig = root["signature_value"].native
    assert gost3410.verify(_public_point(root), tbs, sig)
    # Negative controls: one changed byte of the signed data, or RFC 4491's byte order, fails.
    assert not gost3410.verify(_public_point(root), tbs[:-1] + bytes([tbs[-1] ^ 1]), sig)
    assert not gost3410.verify(_public_point(root), tbs, sig[::-1])


def test_root_signs_intermediate() -> None:
    root, intermediate = _certificate(ROOT), _certificate(INTERMEDIATE)
    assert intermediate.issuer == root.subject
    _check_signed_with_kz_gost(intermediate["signature_algorithm"])
    tbs = intermediate["tbs_certificate"].dump()
    sig = intermediate["signature_value"].native
    assert gost3410.verify(_public_point(root), tbs, sig)
    assert not gost3410.verify(_public_point(intermediate), tbs, sig)  # not self-signed


@pytest.mark.parametrize("path", CRLS, ids=lambda p: p.name)
def test_intermediate_signs_crl(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path.name} not found in {path.parent.resolve()}")
    intermediate = _certificate(INTERMEDIATE)
    cert_list = crl.CertificateList.load(_der(path))
    assert cert_list.issuer == intermediate.subject
    _check_signed_with_kz_gost(cert_list["signature_algorithm"])
    tbs = cert_list["tbs_cert_list"].dump()
    sig = cert_list["signature"].native
    assert gost3410.verify(_public_point(intermediate), tbs, sig)
    assert not gost3410.verify(_public_point(_certificate(ROOT)), tbs, sig)
