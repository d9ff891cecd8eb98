"""Issue #11, item 1: the right verdict first. At step 3, once the keys are open and their own
verdicts are good, the wizard asks its own authority (wizard.renewal.acceptance.judge_issuer)
whether it renews keys of their issuer; refused, it says so at once, in words and with what to do,
and Continue stays disabled, saying why. Never after submitting.

The real NCA GOST test stores are read from ../shared/nca-test-material (password Qwerty12).
That batch expires on 2027-05-08: from then on the stores' own verdict ("expired") comes first
and the issuer is not asked, which the tests check instead (as tests/test_cli_gost.py does)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import flet as ft
import pytest
from wizard_steps import (
    enter_demo_code,
    fill_application,
    identifiers,
    model,
    shown_text,
    to_open,
    type_password,
    view,
)

import wizard.renewal.acceptance as acceptance
from wizard.errors import AuthorityUnreachable, NotRenewable
from wizard.i18n import LANGUAGES, translate
from wizard.keys.certificate import utc_now
from wizard.keys.store import open_store
from wizard.ui.model import PickedFile, WizardModel

MATERIAL_PASSWORD = "Qwerty12"  # the material's README
BUTTONS = (ft.Button, ft.FilledButton, ft.FilledTonalButton, ft.OutlinedButton, ft.TextButton)
NCA_ISSUER = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022"


@pytest.fixture(autouse=True)
def no_trust(monkeypatch):
    """No QOLTANBA_TRUST from the developer's shell: each test says what the demo trusts."""
    monkeypatch.delenv("QOLTANBA_TRUST", raising=False)


def _nca_store(material: Path, name: str = "individual_valid.p12") -> Path:
    return material / "gost2015-2026" / name


def _still_valid(store: Path) -> bool:
    """The NCA GOST test batch is valid until 2027-05-08 (its certificates say so)."""
    return open_store(store, MATERIAL_PASSWORD).verdict(utc_now()).renewable


def _picked(path: Path) -> list[PickedFile]:
    return [PickedFile(name=path.name, data=path.read_bytes(), path=path)]


async def _open_and_check(m: WizardModel, files: list[PickedFile], password: str) -> None:
    """Step 3 as its buttons do it: the files chosen, the password typed, "Open keys" (which
    opens them, then asks the authority: revocation, then the issuer)."""
    m.keys.set_files(files)
    m.keys.set_password(password)
    m.keys.open_keys()
    await m.keys.check_with_authority()


def _buttons(m: WizardModel, label: str) -> list[ft.Control]:
    """The buttons with this label on the current screen."""
    found: list[ft.Control] = []

    def walk(value) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, ft.BaseControl):
            if isinstance(value, BUTTONS) and value.content == label:
                found.append(value)
            for name in ("content", "controls"):
                walk(getattr(value, name, None))

    walk(view(m))
    return found


def _count_judgements(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = acceptance.judge_issuer

    async def counted(*args, **kwargs):
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(acceptance, "judge_issuer", counted)
    return calls


def _counting_opens(m: WizardModel, opened: list[str]) -> WizardModel:
    """``m``, its every opening of an authority recorded (the spec) in ``opened``."""
    real = m._services.open_authority

    def counting(spec: str):
        opened.append(spec)
        return real(spec)

    m._services.open_authority = counting  # type: ignore[method-assign]
    return m


def test_nca_test_keys_are_refused_at_step_3_with_what_to_do(tmp_path, material, monkeypatch):
    store = _nca_store(material)
    valid = _still_valid(store)
    calls = _count_judgements(monkeypatch)

    async def scenario() -> tuple[WizardModel, dict[str, str]]:
        m = model(tmp_path)
        to_open(m)
        await _open_and_check(m, _picked(store), MATERIAL_PASSWORD)
        seen = {}
        for lang in LANGUAGES:
            m.set_language(lang)
            seen[lang] = shown_text(m)
        m.set_language("en")
        m.continue_from_keys()  # pressed anyway: nothing happens
        await m.close()
        return m, seen

    m, seen = asyncio.run(scenario())
    keys = m.keys
    assert m.screen == "open" and not keys.keys_ok
    if not valid:  # the batch has expired (2027-05-08): its own verdict says so, first
        assert [card.reason for card in keys.cards] == ["expired"]
        assert keys.issuer_refusal is None and calls == []
        return
    assert calls == [1]  # asked once
    refusal = keys.issuer_refusal
    assert refusal is not None and isinstance(refusal.error, NotRenewable)
    assert refusal.params["reason"] == "issuer_not_accepted"
    assert refusal.params["advice"] == "demo_trust"  # an NCA test CA: QOLTANBA_TRUST, or demo keys
    assert refusal.params["issuer"] == NCA_ISSUER
    assert [(c.renewable, c.reason) for c in keys.cards] == [(False, "issuer_not_accepted")]
    assert not keys.issuer_checking
    # said at once, in every language, in words, with what to do; Continue says why it waits
    for lang, text in seen.items():
        assert refusal.text(lang) in text, lang
        assert "QOLTANBA_TRUST" in text and NCA_ISSUER in text
        assert "certificate_untrusted" not in text and "issuer_not_accepted" not in text
        # the demo named in the person's words, not by its English name (hostile walk)
        why = translate("verdict_ui.why_issuer_demo", lang, issuer=NCA_ISSUER)
        assert why in text, lang
        if lang != "en":
            assert refusal.params["authority"] not in text, lang
        assert translate("verdict.renewable", lang) not in text
    assert m.why_not_continue is not None and m.why_not_continue.key == "verdict_ui.why_issuer_demo"
    # "Make demo keys for me" is offered right there, beside the refusal (and at the top)
    assert len(_buttons(m, translate("open.make_demo", "en"))) == 2
    assert "issuer-verdict" in {i for c in view(m) for i in identifiers(c)}
    # nothing was started: no renewal in the journal, no folder, no PENDING_ file anywhere
    assert m._journal.all() == []
    assert not list(tmp_path.rglob("PENDING_*"))


def test_make_demo_keys_right_there_replaces_the_refused_keys(tmp_path, material):
    store = _nca_store(material)
    if not _still_valid(store):
        pytest.skip("the NCA GOST test batch has expired (2027-05-08)")

    async def scenario() -> WizardModel:
        m = model(tmp_path)
        to_open(m)
        await _open_and_check(m, _picked(store), MATERIAL_PASSWORD)
        assert m.keys.issuer_refusal is not None
        await m.keys.make_demo_keys()  # the button beside the refusal
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.keys.issuer_refusal is None and m.keys.keys_ok
    assert all(card.renewable for card in m.keys.cards)
    assert m.why_not_continue is None
    assert "issuer-verdict" not in {i for c in view(m) for i in identifiers(c)}


def test_with_qoltanba_trust_the_nca_test_keys_are_renewed(tmp_path, material, monkeypatch):
    """QOLTANBA_TRUST names the NCA test CA: the demo authority renews that CA's keys. It is read
    when the wizard opens its authority (wizard.authority.builtin.DemoAdapter.open)."""
    store = _nca_store(material)
    if not _still_valid(store):
        pytest.skip("the NCA GOST test batch has expired (2027-05-08)")
    monkeypatch.setenv("QOLTANBA_TRUST", str(material / "gost2015-2026" / "ca"))
    calls = _count_judgements(monkeypatch)

    async def scenario() -> WizardModel:
        m = model(tmp_path)
        to_open(m)
        await _open_and_check(m, _picked(store), MATERIAL_PASSWORD)
        assert m.keys.keys_ok and m.keys.issuer_refusal is None, m.keys.issuer_refusal
        assert translate("verdict.renewable", "en") in shown_text(m)
        assert m.why_not_continue is None
        fill_application(m)
        type_password(m)
        await m.password.accept()
        assert m.screen == "code", (m.progress.work_error, m.fault)
        await enter_demo_code(m)
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert calls == [1]
    assert m.screen == "done", (m.progress.work_error, m.fault)
    files = [Path(f) for f in m.done.result["files"]]
    assert [f.name.split("_")[0] for f in files if f.suffix == ".p12"] == ["GOST512"]


def test_trust_set_after_the_authority_is_open_counts_from_the_next_start(
    tmp_path, material, monkeypatch
):
    """What the demo trusts is read once, when the wizard opens its authority: hence "then start
    Qoltanba again" in the refusal's advice."""
    store = _nca_store(material)
    if not _still_valid(store):
        pytest.skip("the NCA GOST test batch has expired (2027-05-08)")

    async def scenario() -> WizardModel:
        m = model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()  # the authority is open now
        monkeypatch.setenv("QOLTANBA_TRUST", str(material / "gost2015-2026" / "ca"))
        await _open_and_check(m, _picked(store), MATERIAL_PASSWORD)
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.keys.issuer_refusal is not None and not m.keys.keys_ok


def test_demo_keys_are_accepted_on_the_wizard_s_own_authority(tmp_path, monkeypatch):
    calls = _count_judgements(monkeypatch)
    opened: list[str] = []

    async def scenario() -> WizardModel:
        m = _counting_opens(model(tmp_path), opened)
        to_open(m)
        await m.keys.make_demo_keys()
        m.keys.open_keys()  # "Open keys" again: asked again, on the same authority
        await m.keys.check_with_authority()
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert calls == [1, 1] and opened == ["demo"]  # one authority, never a second one
    assert m.keys.keys_ok and m.keys.issuer_refusal is None and not m.keys.issuer_checking


def test_an_unreachable_authority_says_nothing_yet(tmp_path, monkeypatch):
    async def unreachable(*args, **kwargs):
        raise AuthorityUnreachable("authority_unreachable")

    monkeypatch.setattr(acceptance, "judge_issuer", unreachable)

    async def scenario() -> tuple[WizardModel, dict[str, str], object]:
        m = model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()
        seen = {}
        for lang in LANGUAGES:
            m.set_language(lang)
            seen[lang] = shown_text(m)
        m.keys.open_keys()  # opened again: nothing asked yet, nothing said yet
        said_then = m.keys.issuer_unasked
        await m.close()
        return m, seen, said_then

    m, seen, said_then = asyncio.run(scenario())
    assert m.keys.keys_ok and m.keys.issuer_refusal is None and m.fault is None
    assert m.why_not_continue is None  # it can go on, and be queued
    # said, though: the authority was not asked, and is asked again when the application is sent
    for lang, text in seen.items():
        assert translate("verdict_ui.issuer_unasked", lang) in text, lang
    assert said_then is None


def test_an_answer_for_keys_no_longer_open_is_ignored(tmp_path, material, monkeypatch):
    """The authority refuses the NCA keys while the person has meanwhile opened demo keys."""
    nca = _nca_store(material)
    if not _still_valid(nca):
        pytest.skip("the NCA GOST test batch has expired (2027-05-08)")

    async def scenario() -> WizardModel:
        m = model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()
        demo = list(m.keys.picked)

        async def slow_refusal(authority, stores, now):
            # other keys are opened while the authority is asked
            m.keys.set_files(demo)
            m.keys.open_keys()
            raise NotRenewable(reason="issuer_not_accepted", advice="demo_keys", issuer="X")

        monkeypatch.setattr(acceptance, "judge_issuer", slow_refusal)
        m.keys.set_files(_picked(nca))
        m.keys.set_password("Qwerty12")
        m.keys.open_keys()
        await m.keys.check_issuer()
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.keys.issuer_refusal is None and m.keys.picked[0].name.startswith("AUTH_")
    assert m.keys.keys_ok and all(card.renewable for card in m.keys.cards)


def test_an_expired_key_is_refused_for_itself_without_asking(tmp_path, material, monkeypatch):
    async def never(*args, **kwargs):
        raise AssertionError("an expired key is not judged by its issuer")

    monkeypatch.setattr(acceptance, "judge_issuer", never)
    expired = sorted((material / "sdk2020" / "personal" / "active").glob("*.p12"))
    files = [PickedFile(name=p.name, data=p.read_bytes(), path=p) for p in expired]

    async def scenario() -> WizardModel:
        m = model(tmp_path)
        to_open(m)
        await _open_and_check(m, files, MATERIAL_PASSWORD)
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.keys.cards and {card.reason for card in m.keys.cards} == {"expired"}
    assert m.keys.issuer_refusal is None and m.fault is None


def test_another_authority_chosen_at_step_1_has_the_keys_opened_again(tmp_path, monkeypatch):
    """Keys opened and judged for the demo authority; back at step 1 another authority is chosen:
    step 3 no longer shows the demo's verdict (its word is not the other's) but says, in every
    language, to open the keys again, and Continue waits; opened again, they are judged by the
    authority chosen now. The same authority confirmed again keeps them open."""
    judged: list[object] = []
    real = acceptance.judge_issuer

    async def recorded(authority, stores, now):
        judged.append(authority)
        return await real(authority, stores, now)

    monkeypatch.setattr(acceptance, "judge_issuer", recorded)
    opened: list[str] = []

    async def scenario() -> tuple[WizardModel, dict[str, str]]:
        m = _counting_opens(model(tmp_path), opened)
        to_open(m)
        await m.keys.make_demo_keys()
        assert m.keys.keys_ok and m.keys.opened_for == "demo"
        m.go("start")
        m.confirm_start()  # the same authority: nothing to open again
        assert m.keys.keys_ok and m.keys.reopen_note is None
        m.go("start")
        m.set_mode(False)
        m.set_authority_url("http://127.0.0.1:9")  # nothing listens there
        m.confirm_start()
        assert m.screen == "storage", m.mode_error
        m.confirm_storage()
        assert not m.keys.keys_ok and m.keys.cards == [] and m.keys.picked, "files kept"
        assert m.why_not_continue is not None  # Continue waits for the keys opened again
        seen = {}
        for lang in LANGUAGES:
            m.set_language(lang)
            seen[lang] = shown_text(m)
        m.set_language("en")
        m.keys.open_keys()  # "Open keys": the password is still typed
        await m.keys.check_with_authority()
        await m.close()
        return m, seen

    m, seen = asyncio.run(scenario())
    for lang, text in seen.items():
        assert translate("verdict_ui.authority_changed", lang) in text, lang
        assert translate("verdict.renewable", lang) not in text, lang
    assert opened == ["demo", "http://127.0.0.1:9"], opened
    assert len(judged) == 2 and judged[0] is not judged[1]  # the second by the new authority
    assert m.keys.opened_for == "http://127.0.0.1:9" and m.keys.reopen_note is None
    assert m.keys.keys_ok  # unreachable: it says nothing yet (checked again when sent)
