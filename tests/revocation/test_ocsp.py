"""OCSP without the network (wizard.keys.ocsp): an answer is believed only when it verifies —
signed by the issuing CA or a responder it delegated with id-kp-OCSPSigning, about this very
certificate, echoing the nonce, fresh — and is otherwise ``unknown`` with its reason, never
``good``. RSA and GOST R 34.10-2015 512 answers alike (every test runs for both chains)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as crypto_ocsp
from revocation_support import DAY, HOUR, NOW

from wizard.authority.mock.revocation import ocsp_error
from wizard.keys import ocsp
from wizard.keys.revocation import Status


def verdict(chain, data: bytes, request, *, now=NOW, certificate=None):
    return ocsp.verify_response(
        data, request, certificate or chain.leaf, chain.issuing.certificate, now=now, url="u"
    )


@pytest.fixture
def request_for(chain):
    return ocsp.build_request(chain.leaf, chain.issuing.certificate)


def test_the_request_names_the_certificate_with_a_fresh_nonce(chain):
    first = ocsp.build_request(chain.leaf, chain.issuing.certificate)
    second = ocsp.build_request(chain.leaf, chain.issuing.certificate)
    assert first.nonce and second.nonce and first.nonce != second.nonce
    assert len(first.nonce) == ocsp.NONCE_BYTES
    parsed = crypto_ocsp.load_der_ocsp_request(first.der)
    assert parsed.serial_number == chain.leaf.serial_number
    assert isinstance(parsed.hash_algorithm, hashes.SHA1)
    nonce = parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == first.nonce
    assert ocsp.build_request(chain.leaf, chain.issuing.certificate, nonce=None).nonce is None


def test_good(chain, request_for):
    answer = verdict(chain, chain.answer(request_for.nonce), request_for)
    assert (answer.status, answer.source, answer.detail) == (Status.GOOD, "ocsp", "responder_good")
    assert answer.checked and not answer.revoked
    assert answer.next_update == NOW - dt.timedelta(minutes=1) + HOUR
    assert answer.checked_at == NOW and answer.origin == "u"


def test_revoked_with_its_date_and_reason(chain, request_for):
    when = NOW - 3 * DAY
    data = chain.answer(
        request_for.nonce, status="revoked", revoked_at=when, reason="key_compromise"
    )
    answer = verdict(chain, data, request_for)
    assert (answer.status, answer.detail) == (Status.REVOKED, "responder_revoked")
    assert answer.revoked_at == when and answer.reason == "key_compromise"


def test_unknown_to_the_responder(chain, request_for):
    answer = verdict(chain, chain.answer(request_for.nonce, status="unknown"), request_for)
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "responder_unknown")


def test_a_responder_named_by_name_is_the_issuer_too(chain, request_for):
    answer = verdict(chain, chain.answer(request_for.nonce, by_name=True), request_for)
    assert answer.status is Status.GOOD


def test_a_delegated_responder_with_ocsp_signing(chain, request_for):
    certificate, key = chain.responder()
    data = chain.answer(
        request_for.nonce, signer=key, responder=certificate, included=(certificate,)
    )
    assert verdict(chain, data, request_for).status is Status.GOOD
    revoked = chain.answer(
        request_for.nonce,
        status="revoked",
        signer=key,
        responder=certificate,
        included=(certificate,),
    )
    assert verdict(chain, revoked, request_for).status is Status.REVOKED


def _unknown(chain, data, request, detail, **kw):
    answer = verdict(chain, data, request, **kw)
    assert (answer.status, answer.detail) == (Status.UNKNOWN, detail), answer
    assert not answer.checked
    return answer


@pytest.mark.parametrize("status", ["good", "revoked"])
def test_a_bad_signature_is_not_believed(chain, request_for, status):
    data = bytearray(chain.answer(request_for.nonce, status=status))
    # The signature is the last BIT STRING before the (absent) certs: flip its last byte.
    data[-1] ^= 0x01
    _unknown(chain, bytes(data), request_for, "response_bad_signature")


def test_an_answer_signed_by_another_key_under_the_issuers_name(chain, request_for):
    data = chain.answer(request_for.nonce, signer=chain.other.key, by_name=True)
    _unknown(chain, data, request_for, "response_bad_signature")


def test_a_foreign_responder_is_not_believed(chain, request_for):
    # A responder certificate issued by another CA (same name, another key), with OCSPSigning.
    certificate, key = chain.responder(signer=chain.other)
    data = chain.answer(
        request_for.nonce, signer=key, responder=certificate, included=(certificate,)
    )
    _unknown(chain, data, request_for, "responder_foreign")
    # Naming a responder whose certificate is not even included.
    missing = chain.answer(request_for.nonce, signer=key, responder=certificate)
    _unknown(chain, missing, request_for, "responder_foreign")


def test_a_delegated_responder_without_ocsp_signing_is_not_believed(chain, request_for):
    certificate, key = chain.responder(ocsp_signing=False)
    data = chain.answer(
        request_for.nonce, signer=key, responder=certificate, included=(certificate,)
    )
    _unknown(chain, data, request_for, "responder_not_delegated")


def test_a_delegated_responder_out_of_its_validity(chain, request_for):
    certificate, key = chain.responder()
    data = chain.answer(
        request_for.nonce,
        signer=key,
        responder=certificate,
        included=(certificate,),
        this_update=NOW + 20 * DAY - dt.timedelta(minutes=1),
    )
    _unknown(chain, data, request_for, "responder_not_delegated", now=NOW + 20 * DAY)


def test_a_wrong_certificate_id(chain, request_for):
    other_serial = chain.answer(request_for.nonce, serial=chain.leaf.serial_number + 1)
    _unknown(chain, other_serial, request_for, "response_wrong_certificate")
    # The right serial under another issuer's key hash (a CertID for the other CA).
    other_issuer = chain.answer(request_for.nonce, issuer=chain.other.certificate)
    _unknown(chain, other_issuer, request_for, "response_wrong_certificate")


def test_the_nonce_must_be_echoed(chain, request_for):
    _unknown(chain, chain.answer(None), request_for, "response_nonce_missing")
    _unknown(chain, chain.answer(b"x" * 32), request_for, "response_nonce_mismatch")
    # Not asked for, not needed.
    plain = ocsp.build_request(chain.leaf, chain.issuing.certificate, nonce=None)
    assert verdict(chain, chain.answer(None), plain).status is Status.GOOD


def test_stale_and_future_answers(chain, request_for):
    stale = chain.answer(request_for.nonce, this_update=NOW - 2 * DAY, next_update=NOW - DAY)
    _unknown(chain, stale, request_for, "response_stale")
    future = chain.answer(request_for.nonce, this_update=NOW + HOUR)
    _unknown(chain, future, request_for, "response_not_yet_valid")
    produced_later = chain.answer(request_for.nonce, produced_at=NOW + HOUR)
    _unknown(chain, produced_later, request_for, "response_not_yet_valid")
    # Without a nextUpdate an answer is good for an hour after its thisUpdate.
    old = chain.answer(request_for.nonce, this_update=NOW - 2 * HOUR, next_update=False)
    _unknown(chain, old, request_for, "response_stale")
    recent = chain.answer(request_for.nonce, next_update=False)
    assert verdict(chain, recent, request_for).status is Status.GOOD


def test_within_the_tolerance_either_way(chain, request_for):
    skewed = chain.answer(request_for.nonce, this_update=NOW + dt.timedelta(minutes=4))
    assert verdict(chain, skewed, request_for).status is Status.GOOD
    ending = chain.answer(
        request_for.nonce, this_update=NOW - 2 * HOUR, next_update=NOW - dt.timedelta(minutes=4)
    )
    assert verdict(chain, ending, request_for).status is Status.GOOD


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\x30\x03\x0a\x01\x00", b"\x30" + b"\xff" * 20],
    ids=["empty", "text", "successful-without-body", "broken-length"],
)
def test_garbage_is_unknown_never_a_traceback(chain, request_for, data):
    answer = verdict(chain, data, request_for)
    assert answer.status is Status.UNKNOWN
    assert answer.detail in ("response_malformed", "responder_refused")


def test_a_huge_body_is_refused_unread(chain, request_for):
    _unknown(chain, b"\x30" * (ocsp.MAX_RESPONSE_BYTES + 1), request_for, "response_too_large")


@pytest.mark.parametrize(
    "status", ["malformed_request", "internal_error", "try_later", "unauthorized"]
)
def test_an_unsuccessful_response_status(chain, request_for, status):
    _unknown(chain, ocsp_error(status), request_for, "responder_refused")


def test_an_answer_built_by_cryptography_verifies_too(rsa_chain):
    """Interoperability: the RSA path reads what another OCSP implementation writes."""
    chain = rsa_chain
    now = dt.datetime.now(dt.UTC)  # cryptography stamps producedAt with the real time
    request = ocsp.build_request(chain.leaf, chain.issuing.certificate)
    builder = (
        crypto_ocsp.OCSPResponseBuilder()
        .add_response(
            cert=chain.leaf,
            issuer=chain.issuing.certificate,
            algorithm=hashes.SHA1(),  # noqa: S303 - the CertID hash RFC 5019 requires
            cert_status=crypto_ocsp.OCSPCertStatus.REVOKED,
            this_update=now - HOUR,
            next_update=now + HOUR,
            revocation_time=now - DAY,
            revocation_reason=x509.ReasonFlags.superseded,
        )
        .responder_id(crypto_ocsp.OCSPResponderEncoding.HASH, chain.issuing.certificate)
        .add_extension(x509.OCSPNonce(request.nonce), critical=False)
    )
    response = builder.sign(chain.issuing.private_key, hashes.SHA256())
    data = response.public_bytes(serialization.Encoding.DER)
    answer = verdict(chain, data, request, now=now)
    assert (answer.status, answer.reason) == (Status.REVOKED, "superseded")
    # The same answer a day later is stale.
    assert verdict(chain, data, request, now=now + DAY).detail == "response_stale"


def test_urls_come_from_the_certificate(rsa_chain):
    from wizard.authority.mock.revocation import urls_for

    chain = rsa_chain
    from wizard.keys.keypair import generate

    urls = urls_for("http://127.0.0.1:9", "issuing")
    from wizard.authority.mock import ca as authorities

    certificate = authorities.issue(
        chain.issuing,
        subject=chain.leaf.subject,
        public_key_info=generate(chain.scheme).public_key_info(),
        usage="sign",
        holder=(),
        email=None,
        not_before=NOW,
        not_after=NOW + DAY,
        pki=urls,
    )
    assert ocsp.responder_urls(certificate) == [urls.ocsp]
    assert ocsp.ca_issuer_urls(certificate) == [urls.ca_issuers]
    assert ocsp.crl_urls(certificate) == [urls.crl, urls.delta]
    assert ocsp.responder_urls(chain.leaf) == []  # none written: none found
