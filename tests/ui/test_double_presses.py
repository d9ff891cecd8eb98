"""A button pressed twice at once does its action once (hostile walk, session 6): the second
click of a double click, queued behind the first or landing just as it ends, made a second set
of demo keys and saved the calendar file twice. Pressed again later, it acts again."""

from __future__ import annotations

import asyncio

from wizard_steps import model, to_code, to_open

from wizard.ui.models.common import PressGuard


def test_make_demo_keys_pressed_twice_makes_one_set(tmp_path):
    async def scenario():
        m = model(tmp_path)
        to_open(m)
        await asyncio.gather(m.keys.make_demo_keys(), m.keys.make_demo_keys())
        await m.keys.make_demo_keys()  # the second click, landing as the first ends
        await m.close()
        return m

    m = asyncio.run(scenario())
    made = sorted(p.name for p in (tmp_path / "demo-keys").iterdir())
    assert made == ["individual"], made
    assert m.keys.keys_ok and m.fault is None


def test_the_calendar_pressed_twice_is_offered_once(tmp_path):
    saved: list[str] = []

    async def save(name: str, data: bytes) -> bool:
        saved.append(name)
        return True

    async def scenario():
        m = model(tmp_path)
        await to_code(m)
        m.progress.set_code(m.progress.demo_sms)
        await m.progress.confirm_code()
        assert m.screen == "done", m.progress.work_error
        first = await asyncio.gather(m.done.save_calendar(save), m.done.save_calendar(save))
        again = await m.done.save_calendar(save)
        await m.close()
        return first, again

    first, again = asyncio.run(scenario())
    assert sorted(first) == [False, True] and again is False
    assert len(saved) == 1 and saved[0].endswith(".ics")


def test_a_press_after_the_moment_acts_again():
    now = [0.0]
    presses = PressGuard(window=1.0, clock=lambda: now[0])
    assert presses.begin("x") and not presses.begin("x")  # while it runs
    presses.end("x")
    assert not presses.begin("x")  # just after
    assert presses.begin("y")  # another button
    now[0] = 1.5
    assert presses.begin("x")


def test_a_failed_action_may_be_tried_again_at_once():
    presses = PressGuard(window=1.0, clock=lambda: 0.0)

    async def scenario() -> list[bool]:
        seen = []
        for _ in range(2):
            try:
                async with presses.once("save") as go:
                    seen.append(go)
                    raise OSError("the save dialog failed")
            except OSError:
                pass
        async with presses.once("save") as go:
            seen.append(go)
        async with presses.once("save") as go:  # right after a success: a repeat
            seen.append(go)
        return seen

    assert asyncio.run(scenario()) == [True, True, True, False]
