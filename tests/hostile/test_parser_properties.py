"""Properties (hypothesis, derandomized so that CI repeats itself): whatever bytes the PKCS#12
reader and the certificate reader are given, arbitrary or mutated from the real NCA files, the
only exceptions are StoreError and WrongPassword; the BER walk accepts what asn1crypto writes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from hostile_corpus import PASSWORD, seed_stores, with_certificate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.errors import StoreError, WrongPassword
from wizard.keys.certificate import CertificateFacts, describe, load_certificate
from wizard.keys.pkcs12 import check_ber, read_pkcs12
from wizard.keys.store import KeyStore, open_store_bytes

PROPERTY = settings(
    max_examples=150,
    derandomize=True,  # the same examples on every run: CI repeats itself
    database=None,  # and nothing written into the working tree
    deadline=None,  # each example is timed by the corpus tests; here only the outcome matters
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def seeds(material):
    return seed_stores(material)


@pytest.fixture(scope="module")
def certificates(material, seeds):
    """Every certificate of the material: the stores' own and the CA files (DER)."""
    found = {seed.certificate for seed in seeds}
    for path in sorted(material.rglob("*")):
        if path.suffix.lower() in (".cer", ".crt"):
            found.add(load_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER))
    return sorted(found)


def _read(data: bytes, password: str = PASSWORD) -> object:
    """read_pkcs12 and open_store_bytes; anything but StoreError / WrongPassword propagates."""
    outcomes = []
    for func in (read_pkcs12, open_store_bytes):
        try:
            outcomes.append(func(data, password))
        except (StoreError, WrongPassword) as error:
            outcomes.append(type(error))
    return outcomes[-1]


def _mutated(data: bytes, edits: list[tuple[int, int]], cut: int | None, extra: bytes) -> bytes:
    mutated = bytearray(data)
    for offset, value in edits:
        mutated[offset % len(mutated)] = value
    if cut is not None:
        mutated = mutated[: cut % (len(mutated) + 1)]
    return bytes(mutated) + extra


EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=6)
CUT = st.none() | st.integers(0, 1 << 16)
EXTRA = st.binary(max_size=16)


@PROPERTY
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_are_refused_as_a_store_error(data):
    assert _read(data) in (StoreError, WrongPassword)


@PROPERTY
@given(
    head=st.sampled_from([b"\x30\x80", b"\x30\x82\x07\x07\x02\x01\x03", b"\x30\x84\xff\xff"]),
    body=st.binary(max_size=2048),
)
def test_arbitrary_bytes_that_begin_like_a_store_are_refused(head, body):
    assert _read(head + body) in (StoreError, WrongPassword)


@PROPERTY
@given(index=st.integers(0, 1000), edits=EDITS, cut=CUT, extra=EXTRA)
def test_mutated_real_stores_open_or_are_refused(seeds, index, edits, cut, extra):
    seed = seeds[index % len(seeds)]
    outcome = _read(_mutated(seed.data, edits, cut, extra))
    assert isinstance(outcome, KeyStore) or outcome in (StoreError, WrongPassword)


@PROPERTY
@given(index=st.integers(0, 1000), edits=EDITS, cut=CUT)
def test_mutated_certificates_behind_a_valid_mac_open_or_are_refused(seeds, index, edits, cut):
    seed = seeds[index % len(seeds)]
    store = with_certificate(seed.data, _mutated(seed.certificate, edits, cut, b""))
    outcome = _read(store)
    assert isinstance(outcome, KeyStore) or outcome is StoreError


@PROPERTY
@given(index=st.integers(0, 1000), edits=EDITS, cut=CUT, extra=EXTRA)
def test_certificate_facts_of_mutated_certificates(certificates, index, edits, cut, extra):
    data = _mutated(certificates[index % len(certificates)], edits, cut, extra)
    try:
        facts = describe(load_certificate(data))
    except StoreError as error:
        assert error.code == "certificate_corrupt"
        return
    assert isinstance(facts, CertificateFacts)
    assert facts.not_before.tzinfo is not None


@PROPERTY
@given(data=st.binary(max_size=512))
def test_the_ber_walk_refuses_only_as_a_store_error(data):
    try:
        end = check_ber(data, trailing=True)
    except StoreError as error:
        assert error.code == "store_corrupt"
        return
    assert 0 < end <= len(data)


def test_the_ber_walk_accepts_every_real_file(material, seeds, certificates):
    for seed in seeds:
        assert check_ber(seed.data) == len(seed.data)
        assert check_ber(seed.certificate) == len(seed.certificate)
        assert check_ber(seed.private_key_info) == len(seed.private_key_info)
    for der in certificates:
        assert check_ber(der) == len(der)
    for crl in sorted(material.rglob("*.crl")):
        assert check_ber(crl.read_bytes()) == crl.stat().st_size
