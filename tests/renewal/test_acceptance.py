"""The right verdict first (wizard/renewal/acceptance.py): from what the authority says it accepts,
keys it cannot renew are said so before anything is made, in words and with what to do.

The prediction is checked against the mock authority itself: for every key (demo RSA and GOST
keys, a foreign CA's key, the real NCA test keys RSA and GOST) and every way of trusting the NCA
test CAs (QOLTANBA_TRUST: none, the CA folder, the root alone, the issuing CA alone, the older
batch's CAs, the whole material), "not accepted" comes exactly when the mock refuses the key's
login with ``certificate_untrusted``. The NCA material is read from ../shared/nca-test-material."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import shutil
from pathlib import Path

import httpx
import pytest

from wizard.authority.client import HttpAuthority
from wizard.authority.interface import AuthorityInfo
from wizard.authority.mock import create_app
from wizard.authority.mock.ledger import DATABASE_NAME
from wizard.authority.mock.problems import Refusal
from wizard.errors import AuthorityUnreachable, NotRenewable
from wizard.i18n import LANGUAGES, translate
from wizard.keys import cms, profile
from wizard.keys.keypair import generate
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import build_request
from wizard.keys.store import KeyStore, open_store, open_store_bytes
from wizard.keys.writer import save_store
from wizard.renewal import acceptance
from wizard.renewal.acceptance import (
    Acceptance,
    check_issuer,
    is_nca_test_issuer,
    issuer_acceptance,
    judge_issuer,
)
from wizard.renewal.process import current_keys

MATERIAL_PASSWORD = "Qwerty12"  # README of the material
DEMO_PASSWORD = "Current2025ab"
INSIDE_GOST_BATCH = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)
INSIDE_2020_BATCH = dt.datetime(2020, 6, 1, 12, tzinfo=dt.UTC)
GOST_CA = "gost2015-2026/ca"
# What QOLTANBA_TRUST may name (relative to the material), and which batches it then lets in.
TRUST = {
    "none": ((), set()),
    "gost-ca-folder": ((GOST_CA,), {"gost"}),
    "gost-root-only": ((f"{GOST_CA}/root_test_gost_2022.cer",), set()),
    "gost-issuing-only": ((f"{GOST_CA}/nca_gost2022_test.cer",), {"gost"}),
    "sdk2020-ca": (("sdk2020/ca",), {"rsa2020"}),
    "whole-material": ((".",), {"gost", "rsa2020"}),
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    """An authority's books with its DEMO CAs made once (RSA generation is the slow part)."""
    folder = tmp_path_factory.mktemp("authority-books")
    create_app(folder).state.authority.close()
    return folder / DATABASE_NAME


def open_app(tmp: Path, books: Path, trusted, when: dt.datetime, *, demo: bool = True):
    folder = tmp / f"authority-{len(list(tmp.glob('authority-*')))}"
    folder.mkdir()
    shutil.copyfile(books, folder / DATABASE_NAME)
    return create_app(folder, trusted=list(trusted), demo=demo, clock=lambda: when)


def over_http(app) -> HttpAuthority:
    return HttpAuthority("http://authority.test", transport=httpx.ASGITransport(app=app))


def info_of(app) -> AuthorityInfo:
    async def ask():
        async with over_http(app) as authority:
            return await authority.info()

    return asyncio.run(ask())


def refusal_reason(app, store: KeyStore, when: dt.datetime) -> str | None:
    """What the mock says when this key logs in: its refusal reason, or None (let in)."""
    engine = app.state.authority
    challenge = base64.b64decode(engine.challenge()["challenge"])
    signed = cms.sign(
        challenge, store.private_key, store.contents.certificates[0], signing_time=when
    )
    try:
        engine.login({"cms": b64(signed)})
    except Refusal as refused:
        return refused.reason
    return None


@pytest.fixture(scope="module")
def demo_stores(tmp_path_factory, books) -> dict[str, list[KeyStore]]:
    """A demo holder's current keys of each scheme, issued by the demo authority."""
    tmp = tmp_path_factory.mktemp("demo-keys")
    app = open_app(tmp, books, (), dt.datetime.now(dt.UTC))

    async def issue(scheme: Scheme) -> list[KeyStore]:
        subject = profile.subject(profile.DEMO_HOLDERS[Holder.INDIVIDUAL])
        usages = ("both",) if scheme is Scheme.GOST2015 else ("auth", "sign")
        keys = {usage: generate(scheme) for usage in usages}
        requests = [(u, build_request(keys[u], subject)) for u in usages]
        async with over_http(app) as authority:
            issued = await authority.demo_issue_holder(scheme.value, "individual", 30, requests)
        folder = tmp / scheme.name
        folder.mkdir()
        return [
            open_store(
                save_store(folder, keys[c.usage], c.certificate, DEMO_PASSWORD), DEMO_PASSWORD
            )
            for c in issued.certificates
        ]

    return {
        "demo-rsa": asyncio.run(issue(Scheme.RSA)),
        "demo-gost": asyncio.run(issue(Scheme.GOST2015)),
    }


def nca_stores(material: Path) -> dict[str, tuple[str, dt.datetime, list[KeyStore]]]:
    """name -> (batch, a moment inside its validity, its stores that can sign)."""
    found = {}
    for path in sorted(material.glob("gost2015-2026/*.p12")):
        found[path.name] = ("gost", INSIDE_GOST_BATCH, [open_store(path, MATERIAL_PASSWORD)])
    for path in sorted(material.glob("sdk2020/**/*RSA256_*.p12")):
        found[str(path.relative_to(material))] = (
            "rsa2020",
            INSIDE_2020_BATCH,
            [open_store(path, MATERIAL_PASSWORD)],
        )
    assert any(batch == "gost" for batch, _, _ in found.values())
    assert any(batch == "rsa2020" for batch, _, _ in found.values())
    return found


# ---------------------------------------------------------------------------------------------
# The prediction is the mock's own answer


@pytest.mark.parametrize("config", sorted(TRUST))
def test_not_accepted_exactly_when_the_mock_refuses_the_key_as_untrusted(
    tmp_path, material, books, demo_stores, throwaway_ca, config
):
    paths, batches = TRUST[config]
    trusted = [material / p for p in paths]
    cert, key = throwaway_ca.issue(kind="auth")
    foreign = open_store_bytes(throwaway_ca.store(cert, key), MATERIAL_PASSWORD)
    now = dt.datetime.now(dt.UTC)
    cases = {
        **{name: ("demo", now, stores) for name, stores in demo_stores.items()},
        "foreign-ca": ("foreign", now, [foreign]),
        **nca_stores(material),
    }
    apps: dict[dt.datetime, object] = {}
    for name, (batch, when, stores) in cases.items():
        if when not in apps:
            apps[when] = open_app(tmp_path, books, trusted, when)
        app = apps[when]
        info = info_of(app)
        assert info.demo and info.accepted_issuers, "the demo says whom it accepts"
        answer = issuer_acceptance(info, stores, when)
        for store in stores:
            reason = refusal_reason(app, store, when)
            predicted = issuer_acceptance(info, [store], when).acceptance
            assert predicted is not Acceptance.UNKNOWN
            assert (predicted is Acceptance.NOT_ACCEPTED) == (reason == "certificate_untrusted"), (
                config,
                name,
                predicted,
                reason,
            )
        expected = batch == "demo" or batch in batches
        assert answer.acceptance is (Acceptance.ACCEPTED if expected else Acceptance.NOT_ACCEPTED)
        if not expected:
            refusal = answer.refusal
            assert isinstance(refusal, NotRenewable)
            assert refusal.params["reason"] == "issuer_not_accepted"
            assert refusal.params["issuer"] == stores[0].facts.issuer
            advice = "demo_keys" if batch == "foreign" else "demo_trust"
            assert refusal.params["advice"] == advice, (name, refusal.params)


def test_an_authority_that_is_not_a_demo_sends_people_to_the_issuer(
    tmp_path, material, books, demo_stores
):
    app = open_app(tmp_path, books, [material / GOST_CA], INSIDE_GOST_BATCH, demo=False)
    info = info_of(app)
    assert not info.demo and info.accepted_issuers
    gost = open_store(material / "gost2015-2026" / "individual_valid.p12", MATERIAL_PASSWORD)
    assert check_issuer(info, [gost], INSIDE_GOST_BATCH) is Acceptance.ACCEPTED
    assert refusal_reason(app, gost, INSIDE_GOST_BATCH) is None
    demo = demo_stores["demo-gost"]
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(NotRenewable) as refused:
        check_issuer(info, demo, now)
    assert refused.value.params["advice"] == "other_authority"
    assert refused.value.params["authority"] == info.name
    for lang in LANGUAGES:
        line = refused.value.message(lang)
        assert "QOLTANBA DEMO GOST ISSUING CA" in line and info.name in line
        assert "QOLTANBA_TRUST" not in line and "demo-keys" not in line
    later = open_app(tmp_path, books, [material / GOST_CA], now, demo=False)
    assert refusal_reason(later, demo[0], now) == "certificate_untrusted"


def test_a_current_key_set_is_judged_whole(material, demo_stores, throwaway_ca, books, tmp_path):
    now = dt.datetime.now(dt.UTC)
    info = info_of(open_app(tmp_path, books, (), now))
    keys = current_keys(demo_stores["demo-rsa"])
    assert check_issuer(info, keys, now) is Acceptance.ACCEPTED
    cert, key = throwaway_ca.issue(kind="sign")
    foreign = open_store_bytes(throwaway_ca.store(cert, key), MATERIAL_PASSWORD)
    auth = next(s for s in demo_stores["demo-rsa"] if s.facts.usage == ("auth",))
    answer = issuer_acceptance(info, [auth, foreign], now)
    assert answer.acceptance is Acceptance.NOT_ACCEPTED
    assert answer.refusal.params["issuer"] == "QOLTANBA TEST CA"


# ---------------------------------------------------------------------------------------------
# What the person reads


def test_an_authority_that_says_nothing_gets_no_verdict(demo_stores):
    info = AuthorityInfo("Some CA", False, ("RSA",), ())
    now = dt.datetime.now(dt.UTC)
    answer = issuer_acceptance(info, demo_stores["demo-gost"], now)
    assert answer.acceptance is Acceptance.UNKNOWN and answer.refusal is None
    assert check_issuer(info, demo_stores["demo-gost"], now) is Acceptance.UNKNOWN


@pytest.mark.parametrize("junk", [b"\x30\x03\x02\x01\x01", b"hello world"])
def test_an_issuer_list_without_one_certificate_is_a_broken_answer_not_a_refusal(demo_stores, junk):
    """A DER SEQUENCE that is no certificate passed the client's shape check: refusing every key
    with "practise with demo keys" for the demo's own keys would be a lie; it is a broken answer."""
    from wizard.errors import AuthorityProtocolError

    info = AuthorityInfo("Qoltanba demo authority", True, ("RSA",), (), (junk,))
    with pytest.raises(AuthorityProtocolError):
        issuer_acceptance(info, demo_stores["demo-gost"], dt.datetime.now(dt.UTC))


def _refusal(material: Path, advice: str) -> NotRenewable:
    if advice == "other_authority":
        info = AuthorityInfo("Example CA", False, ("RSA",), (), accepted_issuers=(b"x",))
    else:
        info = AuthorityInfo("Qoltanba demo authority", True, ("RSA",), (), (b"x",))
    gost = open_store(material / "gost2015-2026" / "legal_ceo_valid.p12", MATERIAL_PASSWORD)
    if advice == "demo_keys":
        return acceptance.refusal_for(info, _foreign_certificate())
    return acceptance.refusal_for(info, gost.certificate)


def _foreign_certificate():
    from cryptography import x509

    pem = Path(__file__).resolve().parents[2] / "wizard" / "keys" / "data" / "nca-roots"
    production = sorted(pem.glob("nca_rsa*.cer"))[0]  # the NCA's own production CA: not TEST
    return x509.load_der_x509_certificate(production.read_bytes())


@pytest.mark.parametrize("advice", acceptance.ADVICES)
def test_each_refusal_says_what_to_do_in_every_language(material, advice):
    refusal = _refusal(material, advice)
    assert refusal.params["advice"] == advice and refusal.exit_code == 5
    issuer = refusal.params["issuer"]
    for lang in LANGUAGES:
        line = refusal.message(lang)
        assert line.startswith(translate("error.not_renewable", lang)), line
        assert issuer in line and "{" not in line and "\n" not in line, line
        assert not re.search(r"\b[a-z]+(_[a-z]+)+\b", line), line  # no raw code
        if advice == "demo_trust":
            assert "QOLTANBA_TRUST" in line, line
        if advice in ("demo_trust", "demo_keys"):
            # the wizard's own button, by its label in this language, and the command
            assert translate("open.make_demo", lang) in line and "qoltanba demo-keys" in line
        else:
            assert refusal.params["authority"] in line and "QOLTANBA_TRUST" not in line
        if lang == "en":
            assert not re.search("[А-Яа-яӘәІіҢңҒғҮүҰұҚқӨөҺһ]", line.replace(issuer, "")), line


def test_which_issuers_are_nca_test_cas(material, throwaway_ca):
    for path in material.glob("*/**/*.p12"):
        store = open_store(path, MATERIAL_PASSWORD)
        assert is_nca_test_issuer(store.certificate), path
    cert, _ = throwaway_ca.issue()
    assert not is_nca_test_issuer(cert)  # "QOLTANBA TEST CA" is not the NCA's
    assert not is_nca_test_issuer(_foreign_certificate())  # the NCA's production CA


# ---------------------------------------------------------------------------------------------
# judge_issuer: one question, nothing caught


class Asked:
    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    async def info(self) -> AuthorityInfo:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_judge_issuer_asks_once_and_lets_troubles_through(tmp_path, books, demo_stores):
    now = dt.datetime.now(dt.UTC)
    info = info_of(open_app(tmp_path, books, (), now))
    asked = Asked(info)
    assert asyncio.run(judge_issuer(asked, demo_stores["demo-gost"], now)) is None
    assert asked.calls == 1
    foreign_info = AuthorityInfo(info.name, True, info.schemes, (), (info.ca_certificates[0],))
    asked = Asked(foreign_info)  # only the RSA issuing CA: a GOST demo key is not accepted
    with pytest.raises(NotRenewable) as refused:
        asyncio.run(judge_issuer(asked, demo_stores["demo-gost"], now))
    assert refused.value.params["reason"] == "issuer_not_accepted" and asked.calls == 1
    unknown = Asked(AuthorityInfo("Some CA", False, ("RSA",), ()))
    assert asyncio.run(judge_issuer(unknown, demo_stores["demo-gost"], now)) is None
    down = Asked(AuthorityUnreachable(retry_after=3))
    with pytest.raises(AuthorityUnreachable):
        asyncio.run(judge_issuer(down, demo_stores["demo-gost"], now))
    assert down.calls == 1
