"""What a renewal's new certificates must chain to (wizard/renewal/trust.py): a demo authority's
DEMO roots and QOLTANBA_TRUST; for any other authority the NCA's pinned roots and the roots its
adapter declares, never the CA certificates it sends about itself (no trust on first use). The
anchors are decided before submitting and recorded; a renewal submitted before they were
recorded is held to the same policy when its certificates arrive."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.client import HttpAuthority
from wizard.authority.interface import AuthorityInfo
from wizard.authority.mock import create_app
from wizard.errors import CertificateRefused, UsageError
from wizard.keys.anchors import pinned_certificates
from wizard.keys.store import open_store
from wizard.keys.writer import save_store
from wizard.renewal.journal import RenewalJournal, RenewalState
from wizard.renewal.process import RenewalDetails, Renewer, current_keys
from wizard.renewal.trust import RenewalTrust, demo_roots

OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    return create_app(tmp_path_factory.mktemp("authority"), demo=True)


def demo_info(app) -> AuthorityInfo:
    engine = app.state.authority
    return AuthorityInfo("demo", True, ("RSA",), tuple(engine.chain))


def test_a_demo_authority_is_trusted_for_its_demo_roots_only(demo_app, throwaway_ca):
    info = demo_info(demo_app)
    engine = demo_app.state.authority
    now = dt.datetime.now(dt.UTC)
    anchors = RenewalTrust(demo_trust=()).anchors(info, now)
    assert anchors == [engine.root.der, engine.gost_root.der]  # issuing CAs are no anchors
    # A self-signed CA it publishes that does not say DEMO is not trusted even from a demo.
    impostor = AuthorityInfo(
        "demo", True, ("RSA",), (*info.ca_certificates, der(throwaway_ca.cert))
    )
    assert der(throwaway_ca.cert) not in RenewalTrust(demo_trust=()).anchors(impostor, now)
    assert [c.subject for c in demo_roots(impostor.ca_certificates)] == [
        engine.root.certificate.subject,
        engine.gost_root.certificate.subject,
    ]


def test_a_demo_authority_also_trusts_qoltanba_trust(demo_app, throwaway_ca, tmp_path, monkeypatch):
    folder = tmp_path / "trusted"
    folder.mkdir()
    (folder / "extra.cer").write_bytes(der(throwaway_ca.cert))
    now = dt.datetime.now(dt.UTC)
    given = RenewalTrust(demo_trust=(folder,)).anchors(demo_info(demo_app), now)
    assert der(throwaway_ca.cert) in given
    monkeypatch.setenv("QOLTANBA_TRUST", str(folder))
    assert der(throwaway_ca.cert) in RenewalTrust().anchors(demo_info(demo_app), now)
    monkeypatch.setenv("QOLTANBA_TRUST", str(tmp_path / "nowhere"))
    with pytest.raises(UsageError):  # a trust path that is not there is said, never ignored
        RenewalTrust().anchors(demo_info(demo_app), now)


def test_any_other_authority_gets_the_pinned_roots_and_the_declared_ones(demo_app, throwaway_ca):
    sent = demo_info(demo_app).ca_certificates
    info = AuthorityInfo("Real CA", False, ("RSA",), sent)
    pinned_roots = {
        p.der
        for p in pinned_certificates()
        if p.is_root and p.file.endswith(("2020.cer", "2022.cer"))
    }
    plain = RenewalTrust().anchors(info, NOW)
    assert set(plain) == pinned_roots and not set(plain) & set(sent)  # never what it sends
    declared = RenewalTrust(declared_roots=(der(throwaway_ca.cert),)).anchors(info, NOW)
    assert set(declared) == pinned_roots | {der(throwaway_ca.cert)}
    later = throwaway_ca.cert.not_valid_after_utc + dt.timedelta(days=1)
    assert der(throwaway_ca.cert) not in RenewalTrust(
        declared_roots=(der(throwaway_ca.cert),)
    ).anchors(info, later)  # an expired declared root no longer counts


class Setup:
    """The mock in-process and a journal; demo current keys issued by it."""

    def __init__(self, tmp_path: Path, app) -> None:
        self.tmp, self.app = tmp_path, app
        self.journal = RenewalJournal(tmp_path / "home" / "journal.sqlite3")

    def authority(self) -> HttpAuthority:
        return HttpAuthority("http://authority.test", transport=httpx.ASGITransport(app=self.app))

    def stores(self) -> list[Path]:
        from wizard.authority.testing import demo_holder

        async def issue():
            async with self.authority() as authority:
                return await demo_holder(authority)

        holder = asyncio.run(issue())
        folder = self.tmp / "current"
        folder.mkdir()
        return [
            save_store(folder, holder.keys[u], holder.certificates[u], OLD_PASSWORD)
            for u in ("auth", "sign")
        ]

    def renew(self, stores: list[Path], *, stop_at_the_code: bool = False):
        async def go():
            async with self.authority() as authority:
                renewer = Renewer(self.journal, authority, "demo", max_wait=5)
                current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])
                details = RenewalDetails("a@example.kz", "Алматы", self.tmp / "new", NEW_PASSWORD)

                async def code(number, attempts_left):
                    if stop_at_the_code:
                        raise UsageError("otp_unavailable")
                    return (await authority.demo_codes(number))[-1]

                return await renewer.run(current, details, code)

        return asyncio.run(go())


def test_the_anchors_are_recorded_before_submitting(tmp_path, demo_app):
    setup = Setup(tmp_path, demo_app)
    with pytest.raises(UsageError):
        setup.renew(setup.stores(), stop_at_the_code=True)
    (renewal,) = setup.journal.all()
    assert renewal.state is RenewalState.AWAITING_CODE and renewal.application
    engine = demo_app.state.authority
    assert renewal.record.submission is not None
    recorded = list(renewal.record.submission.anchors or ())
    assert recorded == [engine.root.der, engine.gost_root.der]


@pytest.mark.parametrize("demo", [True, False])
def test_a_renewal_submitted_before_anchors_were_recorded_is_held_to_the_policy(
    tmp_path, demo_app, demo
):
    # An older Qoltanba pinned whatever info() said: such a renewal, once its certificates come,
    # is judged by the policy instead (a demo: its DEMO roots; a real one: the pinned NCA roots).
    setup = Setup(tmp_path, demo_app)
    stores = setup.stores()
    with pytest.raises(UsageError):
        setup.renew(stores, stop_at_the_code=True)
    (renewal,) = setup.journal.all()
    assert renewal.record.submission is not None
    older = replace(renewal.record.submission, anchors=None, demo=demo)
    setup.journal.record(renewal, submission=older)
    if demo:
        assert setup.renew(stores).state is RenewalState.DONE
        return
    with pytest.raises(CertificateRefused) as refused:
        setup.renew(stores)
    assert refused.value.params["detail"] == "untrusted_issuer"
    (ended,) = setup.journal.all()
    assert ended.state is RenewalState.REFUSED
    assert not list((tmp_path / "new").glob("*.p12"))
