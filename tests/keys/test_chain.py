"""`wizard.keys.chain.verify_chain`, the one chain check the renewal and the mock share: real NCA
production chains (RSA and GOST 2015 512, pinned in the package), the mock's DEMO chains of both
schemes, and every way a path must fail (wrong signature, expired or non-CA intermediate, no
anchor, a loop), all at an explicit ``now``."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from wizard.authority.mock.ca import create_ca, issue
from wizard.keys.anchors import pinned_certificates
from wizard.keys.chain import MAX_CHAIN, verify_chain
from wizard.keys.keypair import RsaKeyPair
from wizard.keys.oids import Scheme

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def pinned(name: str) -> x509.Certificate:
    (found,) = [p.certificate for p in pinned_certificates() if p.file == name]
    return found


def tampered(certificate: x509.Certificate) -> x509.Certificate:
    """The same certificate with one byte of its signature flipped."""
    from cryptography.hazmat.primitives.serialization import Encoding

    der = bytearray(certificate.public_bytes(Encoding.DER))
    der[-5] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der))


@pytest.fixture(scope="module")
def demo_chains():
    """A DEMO root and issuing CA of each scheme, and an end-entity certificate from each."""
    made = {}
    for scheme in (Scheme.RSA, Scheme.GOST2015):
        root = create_ca(f"TEST {scheme.name} ROOT", NOW - dt.timedelta(days=30), scheme=scheme)
        issuing = create_ca(
            f"TEST {scheme.name} ISSUING", NOW - dt.timedelta(days=30), parent=root, scheme=scheme
        )
        key = RsaKeyPair.generate() if scheme is Scheme.RSA else _gost_key()
        leaf = issue(
            issuing,
            subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "HOLDER")]),
            public_key_info=key.public_key_info(),
            usage="both" if scheme is Scheme.GOST2015 else "sign",
            holder=(),
            email="holder@example.kz",
            not_before=NOW - dt.timedelta(days=1),
            not_after=NOW + dt.timedelta(days=364),
        )
        made[scheme] = (leaf, issuing.certificate, root.certificate)
    return made


def _gost_key():
    from wizard.keys.gost.keypair import GostKeyPair

    return GostKeyPair.generate()


@pytest.mark.parametrize("scheme", [Scheme.RSA, Scheme.GOST2015])
def test_a_demo_chain_of_each_scheme_verifies(demo_chains, scheme):
    leaf, issuing, root = demo_chains[scheme]
    assert verify_chain(leaf, [issuing], [root], NOW) == [issuing, root]
    # An anchor found on the way ends the path there.
    assert verify_chain(leaf, [issuing], [issuing, root], NOW) == [issuing]


@pytest.mark.parametrize(
    ("issuing", "root", "other_root"),
    [
        ("nca_rsa_2022.cer", "root_rsa_2020.cer", "root_rsa.cer"),
        ("nca_gost_2022.cer", "root_gost_2022.cer", "root_gost_2020.cer"),
    ],
)
def test_the_real_nca_issuing_cas_verify_under_their_pinned_roots_only(issuing, root, other_root):
    # The NCA's production chains (RSA; GOST R 34.10-2015 512 in Kazakhstan's byte order).
    ca, anchor, other = pinned(issuing), pinned(root), pinned(other_root)
    assert verify_chain(ca, [], [anchor], NOW) == [anchor]
    assert verify_chain(ca, [], [other], NOW) is None
    assert verify_chain(tampered(ca), [], [anchor], NOW) is None


@pytest.mark.parametrize("scheme", [Scheme.RSA, Scheme.GOST2015])
def test_a_signature_that_does_not_verify_breaks_the_path(demo_chains, scheme):
    leaf, issuing, root = demo_chains[scheme]
    assert verify_chain(tampered(leaf), [issuing], [root], NOW) is None
    assert verify_chain(leaf, [tampered(issuing)], [root], NOW) is None


def test_without_its_anchor_or_its_intermediate_there_is_no_path(demo_chains):
    leaf, issuing, root = demo_chains[Scheme.RSA]
    assert verify_chain(leaf, [issuing], [], NOW) is None
    assert verify_chain(leaf, [], [root], NOW) is None
    _, other_issuing, other_root = demo_chains[Scheme.GOST2015]
    assert verify_chain(leaf, [issuing, other_issuing], [other_root], NOW) is None


def test_every_ca_on_the_way_must_be_valid_at_now(demo_chains):
    leaf, issuing, root = demo_chains[Scheme.RSA]
    before = issuing.not_valid_before_utc - dt.timedelta(seconds=1)
    after = issuing.not_valid_after_utc
    assert verify_chain(leaf, [issuing], [root], before) is None
    assert verify_chain(leaf, [issuing], [root], after) is None
    # Anchors are the caller's policy: the chain check takes them as given.
    assert verify_chain(leaf, [issuing], [root], issuing.not_valid_before_utc) == [issuing, root]


def _certificate(subject: str, issuer: str, key, signer, *, ca: bool) -> x509.Certificate:
    """A minimal certificate: ``subject`` holding ``key``, named and signed by ``issuer``."""
    from cryptography.hazmat.primitives import hashes

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, text)])

    return (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


@pytest.mark.parametrize("flagged", [True, False])
def test_an_intermediate_that_is_no_ca_is_never_a_step(rsa_keys, flagged):
    root_key, middle_key, leaf_key, _ = rsa_keys
    root = _certificate("ROOT", "ROOT", root_key, root_key, ca=True)
    middle = _certificate("MIDDLE", "ROOT", middle_key, root_key, ca=flagged)
    leaf = _certificate("LEAF", "MIDDLE", leaf_key, middle_key, ca=False)
    found = verify_chain(leaf, [middle], [root], NOW)
    assert found == ([middle, root] if flagged else None)


def test_a_loop_of_cross_signed_cas_ends_without_a_path(rsa_keys):
    a_key, b_key, leaf_key, root_key = rsa_keys
    a_by_b = _certificate("A", "B", a_key, b_key, ca=True)
    b_by_a = _certificate("B", "A", b_key, a_key, ca=True)
    leaf = _certificate("LEAF", "A", leaf_key, a_key, ca=False)
    root = _certificate("ROOT", "ROOT", root_key, root_key, ca=True)
    assert verify_chain(leaf, [a_by_b, b_by_a], [root], NOW) is None
    # The same CAs with an anchor at the end of the loop: found, and never longer than allowed.
    found = verify_chain(leaf, [a_by_b, b_by_a], [b_by_a], NOW)
    assert found == [a_by_b, b_by_a] and len(found) <= MAX_CHAIN
