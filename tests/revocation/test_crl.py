"""CRLs (wizard.keys.revocation): a CRL counts only when its signature verifies under the key that
issued the certificate; "not listed" is ``good`` only from a current CRL made after the
certificate was issued; "listed" is ``revoked`` whenever the signature verifies; a delta CRL
adds what its base lacks. RSA and GOST chains alike; and the NCA's real test material."""

from __future__ import annotations

import datetime as dt

import pytest
from revocation_support import DAY, HOUR, NOW

from wizard.keys.revocation import Status, check, crl_status, read_crl_files
from wizard.keys.store import open_store

MATERIAL_PASSWORD = "Qwerty12"


def status(chain, crls, *, certificate=None, now=NOW, issuers=None):
    answer, _attempts = crl_status(
        certificate or chain.leaf,
        [(f"crl{i}", data) for i, data in enumerate(crls)],
        issuers if issuers is not None else [chain.issuing.certificate],
        now=now,
    )
    return answer


def test_a_current_crl_that_does_not_list_it_says_good(chain):
    answer = status(chain, [chain.crl([12345])])
    assert (answer.status, answer.source, answer.detail) == (Status.GOOD, "crl", "crl_current")
    assert answer.next_update == NOW - HOUR + 7 * DAY


def test_a_current_crl_that_lists_it_says_revoked_with_date_and_reason(chain):
    answer = status(chain, [chain.crl([chain.leaf.serial_number], reason="key_compromise")])
    assert (answer.status, answer.detail) == (Status.REVOKED, "crl_listed")
    assert answer.reason == "key_compromise"
    assert answer.revoked_at == NOW - HOUR - dt.timedelta(minutes=5)


def test_a_stale_crl_says_nothing_of_good(chain):
    stale = chain.crl([], this_update=NOW - 10 * DAY, next_update=NOW - 3 * DAY)
    assert (status(chain, [stale]).status, status(chain, [stale]).detail) == (
        Status.UNKNOWN,
        "crl_stale",
    )
    no_next = chain.crl([], next_update=False)
    assert status(chain, [no_next]).detail == "crl_stale"


def test_a_stale_crl_still_proves_a_revocation(chain):
    stale = chain.crl(
        [chain.leaf.serial_number], this_update=NOW - 10 * DAY, next_update=NOW - 3 * DAY
    )
    assert status(chain, [stale]).status is Status.REVOKED


def test_a_crl_older_than_the_certificate_cannot_say_good(chain):
    young = chain.issue(not_before=NOW - HOUR // 2)
    answer = status(chain, [chain.crl([])], certificate=young)  # thisUpdate: an hour ago
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "crl_before_certificate")


def test_a_crl_from_the_future_beyond_the_tolerance(chain):
    future = chain.crl([], this_update=NOW + HOUR)
    assert status(chain, [future]).detail == "crl_not_yet_valid"
    skewed = chain.crl([], this_update=NOW + dt.timedelta(minutes=4))
    young = chain.issue(not_before=NOW - DAY)
    assert status(chain, [skewed], certificate=young).status is Status.GOOD


def test_a_crl_signed_by_another_key_is_ignored(chain):
    forged = chain.crl([chain.leaf.serial_number], signer=chain.other)
    answer = status(chain, [forged])
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "crl_bad_signature")
    # Nor does a forged "not listed" count beside it.
    assert status(chain, [chain.crl([], signer=chain.other)]).status is Status.UNKNOWN


def test_the_issuer_must_be_the_key_that_signed_the_certificate(chain):
    """A CA certificate of the same name but another key is no issuer: nothing verifies."""
    answer = status(chain, [chain.crl([])], issuers=[chain.other.certificate])
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "no_issuer")
    assert status(chain, [chain.crl([])], issuers=[]).detail == "no_issuer"


def test_no_crl_of_the_issuer(chain, rsa_chain, gost_chain):
    foreign = gost_chain if chain is rsa_chain else rsa_chain
    assert status(chain, []).detail == "no_crl"
    assert status(chain, [foreign.crl([chain.leaf.serial_number])]).detail == "no_crl"
    assert status(chain, [b"not a CRL", b""]).detail == "no_crl"


def test_a_delta_crl_listing_the_serial_revokes(chain):
    base = chain.crl([], number=100)
    delta = chain.crl(
        [chain.leaf.serial_number],
        this_update=NOW - dt.timedelta(minutes=10),
        next_update=NOW + HOUR,
        number=101,
        delta_base=100,
        reason="superseded",
    )
    answer = status(chain, [base, delta])
    assert (answer.status, answer.reason) == (Status.REVOKED, "superseded")
    assert answer.origin == "crl1"


def test_a_current_delta_makes_a_stale_base_current(chain):
    base = chain.crl([], this_update=NOW - 10 * DAY, next_update=NOW - 3 * DAY, number=100)
    delta = chain.crl([], this_update=NOW - HOUR, next_update=NOW + HOUR, number=150, delta_base=90)
    answer = status(chain, [base, delta])
    assert (answer.status, answer.detail) == (Status.GOOD, "crl_current")
    assert answer.next_update == NOW + HOUR and answer.origin == "crl0 + crl1"
    # A delta on a later base than the one at hand does not complete it.
    later = chain.crl(
        [], this_update=NOW - HOUR, next_update=NOW + HOUR, number=150, delta_base=120
    )
    assert status(chain, [base, later]).detail == "crl_stale"
    # A delta alone is no complete view.
    assert status(chain, [later]).status is Status.UNKNOWN


def test_a_delta_also_covers_a_certificate_newer_than_the_base(chain):
    young = chain.issue(not_before=NOW - 2 * HOUR)
    base = chain.crl([], this_update=NOW - DAY, number=100)
    assert status(chain, [base], certificate=young).detail == "crl_before_certificate"
    delta = chain.crl(
        [], this_update=NOW - HOUR, next_update=NOW + HOUR, number=101, delta_base=100
    )
    assert status(chain, [base, delta], certificate=young).status is Status.GOOD


def test_a_hold_lifted_by_a_later_delta(chain):
    serial = chain.leaf.serial_number
    base = chain.crl([serial], this_update=NOW - DAY, number=100, reason="certificate_hold")
    assert status(chain, [base]).reason == "certificate_hold"
    lifted = chain.crl(
        [serial],
        this_update=NOW - HOUR,
        next_update=NOW + HOUR,
        number=101,
        delta_base=100,
        reason="remove_from_crl",
    )
    assert status(chain, [base, lifted]).status is Status.GOOD


@pytest.mark.parametrize("reason", ["key_compromise", "superseded", "unspecified"])
def test_remove_from_crl_never_lifts_a_revocation_for_good(chain, reason):
    """Only a hold can be lifted (RFC 5280 5.3.1): a delta that says removeFromCRL for a key
    revoked as compromised leaves it revoked (a hostile tester's case)."""
    serial = chain.leaf.serial_number
    base = chain.crl(
        [serial], this_update=NOW - DAY, next_update=NOW + DAY, number=100, reason=reason
    )
    removed = chain.crl(
        [serial],
        this_update=NOW - HOUR,
        next_update=NOW + HOUR,
        number=101,
        delta_base=100,
        reason="remove_from_crl",
    )
    answer = status(chain, [base, removed])
    assert answer.status is Status.REVOKED and answer.reason == reason


def test_remove_from_crl_in_a_base_crl_lifts_nothing(chain):
    serial = chain.leaf.serial_number
    held = chain.crl([serial], this_update=NOW - DAY, number=100, reason="certificate_hold")
    later_base = chain.crl(
        [serial], this_update=NOW - HOUR, next_update=NOW + HOUR, number=101,
        reason="remove_from_crl",
    )  # fmt: skip
    assert status(chain, [held, later_base]).status is Status.REVOKED


@pytest.mark.parametrize("kind", ["pem", "der"])
def test_crl_files_are_read_in_either_encoding(chain, tmp_path, kind):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    data = chain.crl([chain.leaf.serial_number])
    if kind == "pem":
        data = x509.load_der_x509_crl(data).public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "list.crl"
    path.write_bytes(data)
    ca = tmp_path / "ca.cer"
    ca.write_bytes(chain.issuing.der)
    answer = check(chain.leaf, [path], [ca], now=NOW)
    assert (answer.status, answer.origin) == (Status.REVOKED, "list.crl")
    assert [a.detail for a in answer.attempts] == ["crl_listed"]
    assert read_crl_files([tmp_path / "missing.crl", path]) == [("list.crl", data)]


# --- the real test material ---------------------------------------------------------------------

GOST_STORES = [
    "individual_revoked.p12",
    "individual_valid.p12",
    "legal_ceo_valid.p12",
    "legal_signer_valid.p12",
    "legal_infosystem_valid.p12",
]


@pytest.mark.parametrize("name", GOST_STORES)
def test_the_material_crls_predate_the_gost_certificates(material, name):
    """`individual_revoked.p12` with its folder's CRLs: they verify under the CA beside them
    (GOST), and were made a year before the certificate, so the answer is unknown, with that
    reason — never good."""
    store = open_store(material / "gost2015-2026" / name, MATERIAL_PASSWORD)
    answer = store.revocation
    assert (answer.status, answer.source, answer.detail) == (
        Status.UNKNOWN,
        "crl",
        "crl_before_certificate",
    )
    assert {a.detail for a in answer.attempts} == {"crl_before_certificate"}
    assert store.verdict(store.certificate.not_valid_before_utc + DAY).renewable is True
    # The CRLs do verify: forged ones beside the same CA would be "crl_bad_signature".
    cas = sorted((material / "gost2015-2026" / "ca").glob("*.cer"))
    crls = sorted((material / "gost2015-2026" / "crl").glob("*.crl"))
    assert check(store.certificate, crls, cas, shipped=False).detail == "crl_before_certificate"
    assert check(store.certificate, crls, [], shipped=False).detail == "no_issuer"


@pytest.mark.parametrize("folder", ["personal/revoked", "organization/revoked"])
def test_the_sdk2020_revoked_stores_are_refused_as_expired_first(material, folder):
    for path in sorted((material / "sdk2020" / folder).glob("*.p12")):
        store = open_store(path, MATERIAL_PASSWORD)
        assert store.verdict().reason == "expired", path.name
        assert store.revocation.status is Status.UNKNOWN  # nothing beside them to say so
