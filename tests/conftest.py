"""Shared test helpers: the NCA test material kept beside the project, and synthetic NCA-shaped
RSA certificates, CRLs and stores made on the spot with `cryptography`.

The material (``<project root>/../shared/nca-test-material``) is read, never copied. Where it is
absent the tests that need it are skipped, except in CI (``CI`` set), where they fail instead.

Use what is here through fixtures (``material``, ``material_file`` with the ``material_files``
marker, ``throwaway_ca``, ``make_ca``, ``impostor_key``), never ``import conftest``: the suite has
more than one conftest.py, and which one that import finds depends on the order of collection.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MATERIAL = PROJECT_ROOT.parent / "shared" / "nca-test-material"
# README of the material: "Password of every .p12 here: Qwerty12".
MATERIAL_PASSWORD = "Qwerty12"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def material_present() -> bool:
    return MATERIAL.is_dir() and any(MATERIAL.rglob("*.p12"))


def material_root() -> Path:
    """The material folder; skips the calling test where it is absent (fails in CI)."""
    if material_present():
        return MATERIAL
    reason = (
        f"NCA test material not found at {MATERIAL} (it is kept outside the repository, "
        "see ../shared/nca-test-material/README.md)"
    )
    if in_ci():
        pytest.fail(f"{reason}; CI must provide it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def material() -> Path:
    """Root of the NCA test material (skip locally, fail in CI, when it is absent)."""
    return material_root()


def material_files(*patterns: str) -> list[str]:
    """Paths, relative to the material root, of the material's files matching any pattern."""
    if not material_present():
        return []
    found = {p.relative_to(MATERIAL).as_posix() for pat in patterns for p in MATERIAL.glob(pat)}
    return sorted(found)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "material_files(*patterns): parametrise the test's `material_file` argument over the "
        "material's files matching the glob patterns (default: every .p12)",
    )


def pytest_generate_tests(metafunc):
    """A test taking ``material_file`` runs once per matching file of the material.

    Where the material is absent it runs once, and the ``material`` fixture skips it (fails in CI).
    """
    if "material_file" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("material_files")
    patterns = marker.args if marker and marker.args else ("**/*.p12",)
    found = material_files(*patterns)
    if not material_present():
        metafunc.parametrize("material_file", [None], ids=["material-absent"], indirect=True)
        return
    assert found, f"no material file matches {patterns}"
    metafunc.parametrize("material_file", found, ids=found, indirect=True)


@pytest.fixture
def material_file(request, material) -> Path:
    """One file of the material (see the ``material_files`` marker)."""
    return material / request.param


# ---------------------------------------------------------------------------------------------
# Synthetic NCA-shaped certificates (DOMAIN.md §5), RSA so that `cryptography` can make them.

POLICY_SIGN_LEGAL = "1.2.398.3.3.2.1"
POLICY_AUTH_LEGAL = "1.2.398.3.3.2.2"
POLICY_SIGN_INDIVIDUAL = "1.2.398.3.3.2.3"
POLICY_AUTH_INDIVIDUAL = "1.2.398.3.3.2.4"
EKU_INDIVIDUAL = "1.2.398.3.3.4.1.1"
EKU_LEGAL = "1.2.398.3.3.4.1.2"
EKU_ROLES = {
    "legal-head": "1.2.398.3.3.4.1.2.1",
    "legal-signer": "1.2.398.3.3.4.1.2.2",
    "legal-finance": "1.2.398.3.3.4.1.2.3",
    "legal-hr": "1.2.398.3.3.4.1.2.4",
    "legal-employee": "1.2.398.3.3.4.1.2.5",
    "legal-infosystem": "1.2.398.3.3.4.1.2.6",
}

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def pkcs8(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def ski_bytes(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


@dataclass
class ThrowawayCA:
    """A throwaway RSA CA: its key, its certificate, and what it issues."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    spare_keys: list[rsa.RSAPrivateKey]

    @property
    def name(self) -> x509.Name:
        return self.cert.subject

    def issue(
        self,
        *,
        kind: str = "auth",
        holder: str = "individual",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        nca_policy: bool = True,
        is_ca: bool = False,
        key: rsa.RSAPrivateKey | None = None,
        serial: int | None = None,
        signer: rsa.RSAPrivateKey | None = None,
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """An end-entity certificate shaped like the NCA's old AUTH_RSA256 / RSA256 ones."""
        key = key or self.spare_keys[0]
        now = utcnow()
        not_before = not_before or now - dt.timedelta(days=30)
        not_after = not_after or now + dt.timedelta(days=335)
        legal = holder != "individual"
        names = [
            x509.NameAttribute(NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ"),
            x509.NameAttribute(NameOID.SURNAME, "ТЕСТОВ"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "IIN123456789011"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        ]
        if legal:
            names += [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'АО "ТЕСТ"'),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "BIN123456789021"),
            ]
        names.append(x509.NameAttribute(NameOID.GIVEN_NAME, "ТЕСТОВИЧ"))
        ekus = [
            ExtendedKeyUsageOID.CLIENT_AUTH
            if kind == "auth"
            else ExtendedKeyUsageOID.EMAIL_PROTECTION
        ]
        ekus.append(x509.ObjectIdentifier(EKU_LEGAL if legal else EKU_INDIVIDUAL))
        if holder in EKU_ROLES:
            ekus.append(x509.ObjectIdentifier(EKU_ROLES[holder]))
        if kind == "auth":
            policy = POLICY_AUTH_LEGAL if legal else POLICY_AUTH_INDIVIDUAL
        else:
            policy = POLICY_SIGN_LEGAL if legal else POLICY_SIGN_INDIVIDUAL
        # Outside the NCA profile: a policy under another arc, as a foreign authority would have.
        policy_oid = policy if nca_policy else "1.3.6.1.4.1.99999.1.1"
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(names))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=kind != "auth",
                    key_encipherment=kind == "auth",
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=is_ca,
                    crl_sign=is_ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(policy_oid), None)]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if is_ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        return builder.sign(signer or self.key, hashes.SHA256()), key

    def crl(
        self,
        revoked_serials: Iterable[int] = (),
        *,
        signer: rsa.RSAPrivateKey | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL in this CA's name, signed by its key (or by ``signer``, to forge one)."""
        now = utcnow()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.name)
            .last_update(now - dt.timedelta(days=1))
            .next_update(now + dt.timedelta(days=6))
        )
        for serial in revoked_serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - dt.timedelta(hours=1))
                .build()
            )
        return builder.sign(signer or self.key, hashes.SHA256())

    @staticmethod
    def store(
        cert: x509.Certificate,
        key: rsa.RSAPrivateKey,
        password: str = MATERIAL_PASSWORD,
        profile=None,
    ) -> bytes:
        """A store made by our writer, its bags named as the NCA names them (SKI)."""
        from wizard.keys.pkcs12 import Profile, write_pkcs12

        ski = ski_bytes(cert)
        return write_pkcs12(
            pkcs8(key),
            der(cert),
            password,
            friendly_name=ski.hex(),
            local_key_id=ski,
            profile=profile or Profile.NCA,
        )


def _make_ca(keys: list[rsa.RSAPrivateKey], name: str = "QOLTANBA TEST CA") -> ThrowawayCA:
    ca_key, *spare = keys
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        ]
    )
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=365))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    return ThrowawayCA(key=ca_key, cert=cert, spare_keys=spare)


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """A few RSA-2048 keys, made once per session (generation is the slow part)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]


@pytest.fixture(scope="session")
def throwaway_ca(rsa_keys) -> ThrowawayCA:
    """A throwaway RSA CA issuing NCA-shaped certificates (to rsa_keys[1] by default)."""
    return _make_ca(rsa_keys[:3])


@pytest.fixture(scope="session")
def make_ca():
    """Another throwaway CA: make_ca(keys, name), keys[0] being its own."""
    return _make_ca


@pytest.fixture(scope="session")
def impostor_key(rsa_keys) -> rsa.RSAPrivateKey:
    """A key that belongs to nobody above: forges CRLs, or mismatches a certificate."""
    return rsa_keys[3]
