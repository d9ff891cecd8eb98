"""The mock authority's books hold the DEMO CAs' private keys unencrypted: the data folder is 0700
and the database file, with SQLite's -journal / -wal / -shm beside it, 0600, whichever way the
authority is started (create_app, `qoltanba authority serve --data DIR`, the in-process demo
under QOLTANBA_HOME/demo-authority), whatever the umask, and also when an older version left them
wider. (POSIX modes: the suite runs on Linux.)"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from wizard.authority.connect import open_authority
from wizard.authority.mock import create_app
from wizard.authority.mock.ledger import DATABASE_NAME


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private(folder: Path) -> None:
    assert mode(folder) == 0o700, oct(mode(folder))
    database = folder / DATABASE_NAME
    assert mode(database) == 0o600, oct(mode(database))
    for companion in folder.iterdir():
        assert mode(companion) & 0o077 == 0, (companion.name, oct(mode(companion)))


@contextlib.contextmanager
def umask(value: int):
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_data_folder_and_its_database_are_private_whatever_the_umask(tmp_path):
    folder = tmp_path / "nested" / "books"
    with umask(0):  # everything readable and writable by all, unless the mode says otherwise
        app = create_app(folder)
    try:
        assert_private(folder)
        # The private keys really are in that file, unencrypted: what the modes protect.
        assert b"PRIVATE KEY" in (folder / DATABASE_NAME).read_bytes()
    finally:
        app.state.authority.close()


def test_sqlite_companion_files_are_private_too(tmp_path):
    folder = tmp_path / "books"
    with umask(0):
        app = create_app(folder)
        ledger = app.state.authority.ledger
        try:
            with ledger.transaction() as db:
                db.execute("PRAGMA journal_mode=WAL")
            with ledger.transaction() as db:
                db.execute("INSERT INTO revocations VALUES ('ab', '2026-01-01T00:00:00+00:00')")
            names = {p.name for p in folder.iterdir()}
            assert {f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm"} <= names, names
            assert_private(folder)
        finally:
            app.state.authority.close()


def test_books_left_readable_by_an_older_version_are_tightened(tmp_path, ca_template):
    folder = tmp_path / "old-books"
    folder.mkdir()
    shutil.copyfile(ca_template, folder / DATABASE_NAME)
    stale = folder / f"{DATABASE_NAME}-wal"
    stale.write_bytes(b"")
    for path, wide in ((folder, 0o755), (folder / DATABASE_NAME, 0o644), (stale, 0o644)):
        path.chmod(wide)
    create_app(folder).state.authority.close()
    assert_private(folder)


def test_an_existing_folder_that_is_not_the_books_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "someone-else.txt").write_text("not ours")
    shared.chmod(0o755)
    create_app(shared).state.authority.close()
    assert mode(shared) == 0o755  # not ours to change; the database in it is private still
    assert mode(shared / DATABASE_NAME) == 0o600


def test_the_served_authority_keeps_private_books(served):
    # `qoltanba authority serve --data DIR`, a real process; DIR did not exist before.
    assert_private(served.data)


def test_the_in_process_demo_keeps_private_books(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with umask(0):
        authority = open_authority("demo", home)
    try:
        assert_private(home / "demo-authority")
    finally:
        import asyncio

        asyncio.run(authority.aclose())
