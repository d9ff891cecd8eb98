"""The wizard's model is a thin navigator composing one model per step (issue #11 item 8): a step
starts over by being made anew, so nothing stale survives it; screens call the step models'
methods and never assign their state; a change inside a step model re-renders the screen."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

from wizard_steps import model, to_code, to_keys, type_password

from wizard.i18n import translate
from wizard.ui.model import STEP_MODELS, Step, WizardModel

UI = Path(__file__).resolve().parents[2] / "wizard" / "ui"
# What builds the screens: it reads the models and calls their methods, nothing else.
SCREEN_CODE = [*sorted((UI / "screens").glob("*.py")), UI / "token_step.py", UI / "widgets.py"]
STEP_ATTRIBUTES = ("keys", "form", "password", "progress", "done", "cancel")
# m.<name> = ..., m.<step>.<name> = ..., m.<name> += ... (not ==, <=, >=, !=)
ASSIGNED = re.compile(r"\bm(?:\.\w+)+\s*(?:[-+*/%|&^]|//|<<|>>|\*\*)?=(?!=)")


def test_the_screens_never_assign_the_model():
    found = []
    for path in SCREEN_CODE:
        source = path.read_text(encoding="utf-8")
        for number, line in enumerate(source.splitlines(), 1):
            if "setattr(" in line or ASSIGNED.search(line):
                found.append(f"{path.name}:{number}: {line.strip()}")
        # the same through any name (``form = m.form; form.email = ...``): an attribute is only
        # ever assigned to on ``self``, inside a class of its own (token_step.TokenStep)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            else:
                continue
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute):
                        root = part
                        while isinstance(root, ast.Attribute):
                            root = root.value  # type: ignore[assignment]
                        if not (isinstance(root, ast.Name) and root.id == "self"):
                            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == [], "\n".join(found)


def test_the_check_finds_what_it_looks_for():
    for line in (
        'on_change=lambda e: setattr(m, "code", e.control.value),',
        "    m.email = value",
        "    m.form.application_ok = True",
        "    m.progress.stages_done += ['x']",
    ):
        assert "setattr(" in line or ASSIGNED.search(line), line
    for line in ("if m.code == '':", "enabled=m.keys.keys_ok", "m.form.set_email(value)"):
        assert not ("setattr(" in line or ASSIGNED.search(line)), line


def test_no_reset_list_is_kept_by_hand():
    """Starting over assigns fresh step models; no method clears fields one by one."""
    import inspect

    from wizard.ui.models import wizard

    assert not [name for name in dir(WizardModel) if name.startswith("_reset")]
    assert {"_fresh_keys", "_fresh_renewal"} <= set(dir(WizardModel))
    source = inspect.getsource(wizard)
    for cls in STEP_MODELS:  # made only by the navigator's constructor and its "fresh" methods
        assert issubclass(cls, Step)
        assert f"{cls.__name__}(self)" in source, cls


def _public(step: Step) -> dict:
    return {k: v for k, v in vars(step).items() if not k.startswith("_")}


def test_start_new_after_an_error_at_the_application_makes_every_step_anew(tmp_path):
    async def scenario() -> tuple[WizardModel, dict[str, Step]]:
        m = model(tmp_path)
        await to_keys(m)
        m.continue_from_keys()
        assert m.screen == "application"
        m.form.set_email("")
        m.form.confirm(True)
        m.form.submit()  # said at the e-mail field
        type_password(m)
        m.progress.set_code("123")
        assert m.form.email_error is not None and m.screen == "application"
        before = {name: getattr(m, name) for name in STEP_ATTRIBUTES}
        m.go("home")
        m.start_new()
        await m.close()
        return m, before

    m, before = asyncio.run(scenario())
    pristine = model(tmp_path / "another window")
    for name, old in before.items():
        new = getattr(m, name)
        assert new is not old and type(new) is type(old), name
        assert _public(new) == _public(getattr(pristine, name)), name  # as in a new window
    assert m.form.email_error is None and m.form.email == "" and not m.form.application_ok
    assert m.password.new_password == "" and m.progress.code == "" and m.keys.picked == []
    assert m.screen == "start" and m.fault is None


def test_start_again_after_a_refusal_keeps_only_the_application_s_details(tmp_path, monkeypatch):
    from wizard.errors import CertificateRefused
    from wizard.renewal.process import Renewer

    def wrong_key(self, renewal, issued):
        raise CertificateRefused(detail="wrong_key")

    async def scenario():
        m = model(tmp_path)
        await to_code(m)
        monkeypatch.setattr(Renewer, "verify_issued", wrong_key)
        m.progress.set_code(m.progress.demo_sms)
        await m.progress.confirm_code()
        assert m.screen == "status" and m.progress.rejection is not None
        before = {name: getattr(m, name) for name in STEP_ATTRIBUTES}
        m.start_again()  # "Start a new renewal" on the status screen
        await m.close()
        return m, before

    m, before = asyncio.run(scenario())
    assert m.screen == "application"
    assert m.keys is before["keys"] and m.keys.keys_ok  # the same current keys, still open
    for name in ("form", "password", "progress", "done", "cancel"):
        assert getattr(m, name) is not before[name], name
    old, form = before["form"], m.form
    assert (form.email, form.locality, form.folder, form.new_storage) == (
        old.email,
        old.locality,
        old.folder,
        old.new_storage,
    )
    assert not form.application_ok and form.folder_error is None  # ticked again, no error
    assert m.progress.rejection is None and m.password.new_password == ""


def test_a_late_answer_of_a_renewal_left_behind_stays_behind(tmp_path):
    """The renewal's models, left (home, "Renew"), are not the new renewal's: whatever the old
    run still writes lands in what was left behind."""

    async def scenario():
        m = model(tmp_path)
        await to_code(m)
        left = m.progress
        m.go("home")
        m.start_new()
        left._waiting(offline=True)  # e.g. the old run's answer arriving now
        await m.close()
        return m, left

    m, left = asyncio.run(scenario())
    assert left.offline and not m.progress.offline and m.progress.application is None
    assert m.screen == "start"  # the person's screen, not the old run's


def test_a_change_inside_a_step_model_re_renders_the_screen(tmp_path, headless):
    """In a real Flet session: the navigator is Flet's Observable and a step model's change
    notifies it; a field's error shows at the field and clears when the field is changed, and
    "Renew" again starts with no error left."""
    from wizard_steps import services

    def t(key: str, **params) -> str:
        return translate(key, "en", **params)

    async def scenario():
        async with headless(services(tmp_path)) as w:
            await w.click(t("home.renew"))
            await w.click(t("nav.continue"))
            await w.click(t("nav.continue"))
            await w.click(t("open.make_demo"))  # m.keys changes: its cards are shown
            await w.wait_for(lambda: w.shows(t("verdict.renewable")))
            await w.click(t("nav.continue"))
            assert w.shows(t("application.title"))
            await w.type("application.email", "")
            await w.tick("application.correct")  # m.form.confirm: "Continue" can be pressed
            await w.click(t("nav.continue"))
            said_at_field = w.field("application.email").error
            await w.type("application.email", "aigerim@example.kz")
            cleared = w.field("application.email").error
            await w.type("application.email", "")
            await w.tick("application.correct")
            await w.click(t("nav.continue"))
            again = w.field("application.email").error
            await w.click_tooltip(t("app.to_home"))
            await w.click(t("home.renew"))
            await w.click(t("nav.continue"))
            await w.click(t("nav.continue"))
            await w.click(t("open.make_demo"))
            await w.wait_for(lambda: w.shows(t("verdict.renewable")))
            await w.click(t("nav.continue"))
            fresh = (w.field("application.email").error, w.field("application.email").value)
            return said_at_field, cleared, again, fresh, w.crashes()

    said_at_field, cleared, again, (error, email), crashes = asyncio.run(scenario())
    assert said_at_field == t("application.email_empty") == again
    assert cleared is None
    assert error is None and email  # a new renewal: no stale error, the e-mail pre-filled
    assert crashes == []
