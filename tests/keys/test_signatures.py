"""X.509 signatures of any scheme: the real NCA GOST leaves verify under their issuing CA."""

from __future__ import annotations

import pytest
from cryptography import x509

from wizard.keys.certificate import load_certificate
from wizard.keys.signatures import issuer_signed
from wizard.keys.store import open_store

GOST = "gost2015-2026"
LEAVES = ["individual_valid", "individual_revoked", "legal_ceo_valid", "legal_signer_valid"]


@pytest.fixture(scope="module")
def gost_ca(material):
    return load_certificate((material / GOST / "ca/nca_gost2022_test.cer").read_bytes())


@pytest.mark.parametrize("name", LEAVES)
def test_real_gost_leaf_verifies_under_the_nca_gost_ca(material, gost_ca, name):
    store = open_store(material / GOST / f"{name}.p12", "Qwerty12")
    assert issuer_signed(gost_ca, store.certificate)
    root = load_certificate((material / GOST / "ca/root_test_gost_2022.cer").read_bytes())
    assert not issuer_signed(root, store.certificate)  # the root did not sign the leaf


def test_a_tampered_gost_leaf_fails(material, gost_ca):
    store = open_store(material / GOST / "individual_valid.p12", "Qwerty12")
    der = bytearray(store.contents.certificates[0])
    index = der.index(b"IIN")
    der[index + 3] ^= 0x01
    assert not issuer_signed(gost_ca, x509.load_der_x509_certificate(bytes(der)))


def test_the_nca_gost_crl_verifies_and_is_older_than_the_test_leaves(material, gost_ca):
    crl = x509.load_der_x509_crl((material / GOST / "crl/nca_gost2022_test.crl").read_bytes())
    assert issuer_signed(gost_ca, crl)
    leaf = open_store(material / GOST / "individual_revoked.p12", "Qwerty12").certificate
    # The material's CRL predates the "revoked" test key: it cannot list it (see the notes).
    assert crl.last_update_utc < leaf.not_valid_before_utc
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is None


def test_days_left_are_calendar_days_as_the_date_shows():
    from datetime import UTC, datetime, timedelta

    from wizard.keys.certificate import days_until

    now = datetime(2026, 12, 1, 22, 40, tzinfo=UTC)
    assert days_until(now + timedelta(days=365), now) == 365  # a fresh one-year key: not 364
    assert days_until(now + timedelta(days=365, seconds=-5), now) == 365
    assert days_until(now + timedelta(hours=2), now) == 1  # tomorrow's date (UTC), not 0
    assert days_until(now + timedelta(minutes=5), now) == 0
    assert days_until(now - timedelta(days=1), now) == -1
    assert days_until(now - timedelta(minutes=1), now) == -1  # passed today: negative already
    assert days_until(now, now) == -1
