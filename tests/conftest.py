"""Shared test helpers: the NCA test material kept beside the project, and synthetic NCA-shaped
RSA certificates, CRLs and stores made on the spot with `cryptography`.

The material (``<project root>/../shared/nca-test-material``) is read, never copied. Where it is
absent the tests that need it are skipped, except in CI (``CI`` set), where they fail instead.

Use what is here through fixtures (``material``, ``material_file`` with the ``material_files``
marker, ``throwaway_ca``, ``make_ca``, ``impostor_key``), never ``import conftest``: the suite has
more than one conftest.py, and which one that import finds depends on the order of collection.

Each test process (the one process, or each pytest-xdist worker: ``--numprocesses=auto`` in
pyproject.toml) has a temporary folder of its own (TMPDIR, inherited by every child process): the
renewal locks and the last-resort reports' fallback live in the system's temporary folder, shared
by every QOLTANBA_HOME, so two workers renewing the same NCA test keys at once would hear "busy".
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
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


def _hypothesis_profile() -> None:
    """No per-example deadline: a loaded CI machine (every core busy with xdist workers and
    browsers) made a property test fail on time, not on a found case. What is checked stays."""
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "qoltanba", deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.load_profile("qoltanba")


_hypothesis_profile()


def pytest_addoption(parser, pluginmanager):
    """pyproject.toml's addopts name pytest-xdist's --numprocesses and --dist: with
    ``-p no:xdist`` they are accepted here, and mean nothing (one process)."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "pytest-xdist (not loaded: one process)")
    group.addoption("--numprocesses", dest="numprocesses", default=None, help="(xdist absent)")
    group.addoption("--dist", dest="dist", default="no", help="(xdist absent)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "material_files(*patterns): parametrise the test's `material_file` argument over the "
        "material's files matching the glob patterns (default: every .p12)",
    )
    _own_temporary_folder(config)


# The browser tests (tests/e2e) mostly wait for the wizard: they run on BROWSER_WORKERS workers
# of their own (xdist groups), beside one worker per core for the rest of the suite.
E2E = PROJECT_ROOT / "tests" / "e2e"
BROWSER_WORKERS = 2


def _selects_browser_tests(config) -> bool:
    """The command line's paths (or testpaths) include tests/e2e, or something inside it."""
    args = config.args or [str(config.rootpath / p) for p in config.getini("testpaths")]
    for arg in args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == E2E or E2E in path.parents or path in E2E.parents:
            return True
    return False


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: none without it
def pytest_xdist_auto_num_workers(config):
    """``--numprocesses=auto``: one worker per core, and the browser tests' own workers when
    they are selected (PYTEST_XDIST_AUTO_NUM_WORKERS, as in pytest-xdist, sets the number)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + (BROWSER_WORKERS if _selects_browser_tests(config) else 0)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: none without it
def pytest_xdist_make_scheduler(config, log):
    """``--dist=loadgroup``, the browser tests dealt in turn into BROWSER_WORKERS groups: each
    group runs on one worker, one test after another (one Chromium and one wizard at a time per
    group), while the other workers take the rest of the suite one test at a time.

    The groups are made here, from the node ids, and not with ``xdist_group`` marks: pytest 9.2's
    node ids can no longer be given the group suffix pytest-xdist 3.8 puts on them, so the marks
    are silently ignored (pytest-xdist issue #1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    prefix = E2E.relative_to(config.rootpath).as_posix() + "/"

    class BrowserGroups(LoadGroupScheduling):
        _browser: dict[str, int] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if not nodeid.startswith(prefix):
                return super()._split_scope(nodeid)
            if self._browser is None:  # the collection's order, the same on every worker
                ids = [i for i in self.collection or () if i.startswith(prefix)]
                self._browser = {i: n for n, i in enumerate(ids)}
            return f"browser-{self._browser[nodeid] % BROWSER_WORKERS + 1}"

    return BrowserGroups(config, log)


_OWN_TMP = pytest.StashKey[tuple[str, str | None]]()


def _own_temporary_folder(config) -> None:
    """TMPDIR (and ``tempfile.tempdir``) become a fresh folder of this process, removed at its
    end. pytest's own tmp_path folders stay where they were (PYTEST_DEBUG_TEMPROOT), so that the
    last runs' are kept for a look; an xdist worker's are given by the controller anyway."""
    system = tempfile.gettempdir()
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", system)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    folder = tempfile.mkdtemp(prefix=f"qoltanba-tests-{worker}-", dir=system)
    config.stash[_OWN_TMP] = (folder, os.environ.get("TMPDIR"))
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder


def pytest_unconfigure(config):
    folder, before = config.stash.get(_OWN_TMP, (None, None))
    if folder is None:
        return
    if before is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = before
    tempfile.tempdir = None
    shutil.rmtree(folder, ignore_errors=True)


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
