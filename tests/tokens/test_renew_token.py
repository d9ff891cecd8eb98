"""`qoltanba renew --token` on a SoftHSM2 token against the demo authority, end to end.

Checked with tools independent of Qoltanba's token code: OpenSC's pkcs11-tool (what is on the
token, its access flags, the exported certificates and public keys), OpenSSL (`openssl verify`
of each new certificate against the CA certificates written onto the token), the demo
authority's own books (one application), and python-pkcs11's attributes read directly.
Interruptions are real: the run is SIGKILLed at a journal write (tests/hostile/crash_support.py).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

PIN_VAR = "QOLTANBA_TEST_PIN"
ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "hostile"
CHILD = "import crash_support; crash_support.main()"


def _renew_argv(token, *extra: str) -> list[str]:
    return [
        *("--lang", "en", "renew", "--token", "--module", str(token.module)),
        *("--pin-env", PIN_VAR, "--email", "aigerim@example.kz", "--locality", "Алматы"),
        *extra,
    ]


def _demo(qoltanba, token) -> dict:
    run = qoltanba("--lang", "en", "demo-keys", "--token", "--module", token.module,
                   "--pin-env", PIN_VAR, "--json", env={PIN_VAR: token.pin})  # fmt: skip
    assert run.code == 0, run
    return json.loads(run.out)


def _renew(qoltanba, token, *extra: str, pin: str | None = None):
    return qoltanba(*_renew_argv(token, *extra), env={PIN_VAR: pin or token.pin})


def _objects(listing: str) -> list[dict[str, str]]:
    """pkcs11-tool --list-objects, parsed into one dict per object."""
    objects: list[dict[str, str]] = []
    for line in listing.splitlines():
        if re.match(r"^\S.* Object", line):
            objects.append({"kind": line.split(" Object")[0].strip(), "head": line})
        elif objects and ":" in line:
            key, _, value = line.strip().partition(":")
            objects[-1][key.strip()] = value.strip()
    return objects


def _exported(token, pkcs11_tool) -> dict[str, bytes]:
    """Every certificate and public key on the token as pkcs11-tool exports them, and every
    private key's listed attributes."""
    found: dict[str, bytes] = {}
    for item in _objects(token.tool(pkcs11_tool, "--list-objects")):
        kind = {"Certificate": "cert", "Public Key": "pubkey"}.get(item["kind"])
        if kind:
            found[f"{kind}:{item['ID']}"] = token.tool_bytes(
                pkcs11_tool, "--read-object", "--type", kind, "--id", item["ID"]
            )
        elif item["kind"] == "Private Key":
            found[f"privkey:{item['ID']}"] = repr(sorted(item.items())).encode()
    return found


def _private_keys(token, pkcs11_tool) -> list[dict[str, str]]:
    listing = _objects(token.tool(pkcs11_tool, "--list-objects"))
    return [o for o in listing if o["kind"] == "Private Key"]


def _applications(token) -> list[tuple[str, str]]:
    ledger = token.home / "demo-authority" / "authority.sqlite3"
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        return [tuple(r) for r in db.execute("SELECT number, state FROM applications")]


def _journal(token):
    from wizard.renewal.journal import RenewalJournal

    return RenewalJournal(token.home / "journal.sqlite3").all()


def _killed(token, tmp_path: Path, label: str, phase: str) -> subprocess.CompletedProcess:
    """The same `renew --token`, SIGKILLed at the journal write ``label`` (phase ``phase``)."""
    log = tmp_path / "crash.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(HOSTILE), str(ROOT))),
        "SOFTHSM2_CONF": str(token.conf),
        "QOLTANBA_HOME": str(token.home),
        PIN_VAR: token.pin,
        "QOLTANBA_CRASH_SPEC": json.dumps({"kill": ["journal", label, 1, phase], "log": str(log)}),
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *_renew_argv(token, "--storage", "kaztoken")],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == -9, result.stdout + result.stderr  # killed, as asked
    assert '"killed"' in log.read_text(), log.read_text()
    return result


def _openssl_verify(bundle: Path, der: bytes, tmp_path: Path, name: str) -> None:
    pem = tmp_path / f"{name}.pem"
    pem.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(["openssl", "verify", "-CAfile", str(bundle), str(pem)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr


def test_renew_on_the_token_end_to_end(qoltanba, soft_token, pkcs11_tool, tmp_path):
    made = _demo(qoltanba, soft_token)
    old_ids = {k["object_id"] for k in made["keys"]}
    before = _exported(soft_token, pkcs11_tool)
    assert len(before) == 6

    run = _renew(qoltanba, soft_token, "--storage", "kaztoken", "--json")
    assert run.code == 0, run
    report = json.loads(run.out)
    assert set(report) >= {"application", "status", "files", "not_after", "token"}
    assert report["status"] == "done" and report["application"]
    assert report["token"]["serial"] == made["token"]["serial"]
    assert "PIN: set" in run.err  # the PIN state, said before the PIN is tried

    # Two new private keys, on the token, sensitive and never extractable (pkcs11-tool says).
    listing = _objects(soft_token.tool(pkcs11_tool, "--list-objects"))
    private = {o["ID"]: o for o in listing if o["kind"] == "Private Key"}
    certificates = {o["ID"]: o for o in listing if o["kind"] == "Certificate"}
    new_ids = set(private) - old_ids
    assert len(private) == 4 and len(new_ids) == 2
    assert new_ids == {o["object_id"] for o in report["objects"]}
    for object_id in new_ids:
        access = {a.strip() for a in private[object_id]["Access"].split(",")}
        assert {"sensitive", "always sensitive", "never extractable", "local"} <= access
        assert "extractable" not in access
        # its certificate under the same CKA_ID, with the same NCA label
        assert certificates[object_id]["label"] == private[object_id]["label"]
    new_labels = sorted(private[i]["label"] for i in new_ids)
    assert [label for label in report["files"] if label in new_labels] == [
        label for label in report["files"] if re.match(r"^(AUTH_)?RSA256_[0-9a-f]{40}$", label)
    ]
    assert sorted(report["files"][:2]) == new_labels
    assert any(label.startswith("AUTH_RSA256_") for label in new_labels)

    # The same, as python-pkcs11 reads the attributes; the secret parts cannot be read.
    from pkcs11 import Attribute, ObjectClass
    from pkcs11 import exceptions as p11

    from wizard.keys.tokens.device import open_module

    with open_module(soft_token.module) as module:
        info = module.token(label=soft_token.label)
        with module.login(info, soft_token.pin) as session:
            for object_id in new_ids:
                wanted = {
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.ID: bytes.fromhex(object_id),
                }
                [key] = session.session.get_objects(wanted)
                assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
                assert key[Attribute.ALWAYS_SENSITIVE] is True
                assert key[Attribute.NEVER_EXTRACTABLE] is True
                assert key[Attribute.TOKEN] is True and key[Attribute.PRIVATE] is True
                with pytest.raises((p11.AttributeSensitive, p11.AttributeTypeInvalid)):
                    key[Attribute.PRIVATE_EXPONENT]

    # Each new certificate: for the key under its CKA_ID, chained (OpenSSL) to the CA
    # certificates written onto the token, valid 3 years (a token storage).
    ca_ids = set(certificates) - set(private)
    assert len(ca_ids) == 2  # issuing and root, as the NCA asks them installed
    bundle = tmp_path / "token-cas.pem"
    bundle.write_bytes(
        b"".join(
            x509.load_der_x509_certificate(
                soft_token.tool_bytes(pkcs11_tool, "--read-object", "--type", "cert", "--id", i)
            ).public_bytes(serialization.Encoding.PEM)
            for i in sorted(ca_ids)
        )
    )
    now = datetime.now(UTC)
    for object_id in new_ids:
        der = soft_token.tool_bytes(
            pkcs11_tool, "--read-object", "--type", "cert", "--id", object_id
        )
        _openssl_verify(bundle, der, tmp_path, object_id)
        public = soft_token.tool_bytes(
            pkcs11_tool, "--read-object", "--type", "pubkey", "--id", object_id
        )
        certificate = x509.load_der_x509_certificate(der)
        assert serialization.load_der_public_key(public) == certificate.public_key()
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        assert abs(lifetime - timedelta(days=3 * 365)) < timedelta(days=3)
        assert certificate.not_valid_after_utc > now + timedelta(days=3 * 365 - 3)
        # the subject is the current one's
        old = x509.load_der_x509_certificate(before[f"cert:{sorted(old_ids)[0]}"])
        assert certificate.subject == old.subject

    # The old objects are byte-identical; nothing else changed.
    after = _exported(soft_token, pkcs11_tool)
    assert {name: after[name] for name in before} == before
    assert len(after) == 6 + 6 + 2

    # The requests carried no PKCS#12 key-store extension (DOMAIN.md has none for a token).
    from wizard.keys.request import check_request

    [renewal] = _journal(soft_token)
    assert renewal.record.origin.token == made["token"]["serial"]
    assert renewal.record.origin.folder is None
    assert renewal.record.details is not None and renewal.record.details.storage == "kaztoken"
    assert {k.token_object for k in renewal.record.keys} == new_ids
    assert all(not k.file for k in renewal.record.keys)
    for _, request in renewal.record.requests:
        assert check_request(request).key_store is False

    # Exactly one application; the same command again says done and files nothing.
    assert len(_applications(soft_token)) == 1
    again = _renew(qoltanba, soft_token, "--storage", "kaztoken", "--json")
    assert again.code == 0, again
    assert json.loads(again.out)["application"] == report["application"]
    assert len(_applications(soft_token)) == 1
    assert _exported(soft_token, pkcs11_tool) == after
    status = json.loads(qoltanba("status", "--json").out)["renewals"]
    assert [(r["status"], r["token"], r["folder"]) for r in status] == [
        ("done", made["token"]["serial"], None)
    ]
    # `inspect --token` shows the new keys as renewable keys like the old ones.
    inspected = qoltanba("inspect", "--token", "--module", soft_token.module, "--pin-env",
                         PIN_VAR, "--json", env={PIN_VAR: soft_token.pin})  # fmt: skip
    assert inspected.code == 0, inspected
    by_id = {r["object_id"]: r for r in json.loads(inspected.out)}
    assert set(by_id) == old_ids | new_ids
    assert all(by_id[i]["renewable"] and by_id[i]["days_left"] > 1000 for i in new_ids)


def test_killed_after_submission_the_same_command_finishes_and_files_once(
    qoltanba, soft_token, pkcs11_tool, tmp_path
):
    _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    _killed(soft_token, tmp_path, "signed>submitted", "after")
    [renewal] = _journal(soft_token)
    assert renewal.state.value == "submitted" and renewal.application
    assert len(_applications(soft_token)) == 1
    assert len(_private_keys(soft_token, pkcs11_tool)) == 4  # the new pair, not yet certified

    run = _renew(qoltanba, soft_token, "--storage", "kaztoken", "--json")
    assert run.code == 0, run
    report = json.loads(run.out)
    assert report["application"] == renewal.application and report["status"] == "done"
    assert len(_applications(soft_token)) == 1  # never filed twice
    assert len(_private_keys(soft_token, pkcs11_tool)) == 4
    after = _exported(soft_token, pkcs11_tool)
    assert {name: after[name] for name in before} == before


def test_killed_between_making_the_keys_and_recording_them_leaves_no_stray_key(
    qoltanba, soft_token, pkcs11_tool, tmp_path
):
    _demo(qoltanba, soft_token)
    _killed(soft_token, tmp_path, "detailed>keys_saved", "before")
    [renewal] = _journal(soft_token)
    assert renewal.state.value == "detailed" and not renewal.record.keys
    assert len(_private_keys(soft_token, pkcs11_tool)) == 4  # made, never recorded
    run = _renew(qoltanba, soft_token, "--storage", "kaztoken", "--json")
    assert run.code == 0, run
    # the unrecorded pair was removed before new ones were made: 2 old + 2 new, all certified
    listing = _objects(soft_token.tool(pkcs11_tool, "--list-objects"))
    private = {o["ID"] for o in listing if o["kind"] == "Private Key"}
    public = {o["ID"] for o in listing if o["kind"] == "Public Key"}
    certified = {o["ID"] for o in listing if o["kind"] == "Certificate"}
    assert len(private) == 4 and private == public and private <= certified
    assert len(_applications(soft_token)) == 1


def test_token_absent_at_resume_waits_then_resumes_and_files_once(
    qoltanba, soft_token, pkcs11_tool, tmp_path, monkeypatch
):
    made = _demo(qoltanba, soft_token)
    serial = made["token"]["serial"]
    _killed(soft_token, tmp_path, "signed>submitted", "after")
    [waiting] = _journal(soft_token)
    # The token unplugged: SoftHSM2 with no token in its slots.
    empty = tmp_path / "unplugged"
    (empty / "tokens").mkdir(parents=True)
    conf = empty / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {empty / 'tokens'}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    for lang, word in (("en", "plug the token in"), ("ru", "подключите токен"),
                       ("kk", "токенді қосып")):  # fmt: skip
        argv = _renew_argv(soft_token, "--storage", "kaztoken", "--json")
        argv[1] = lang
        absent = qoltanba(*argv, env={PIN_VAR: soft_token.pin})
        assert absent.code == 4, absent
        assert absent.err.count("\n") == 1 and "Traceback" not in absent.err
        assert word in absent.err and serial in absent.err and waiting.application in absent.err
        answer = json.loads(absent.out)
        assert answer["error"] == "renewal_token_absent_submitted"
        assert answer["application"] == waiting.application
    [still] = _journal(soft_token)
    assert (still.state, still.record) == (waiting.state, waiting.record)  # still pending

    monkeypatch.setenv("SOFTHSM2_CONF", str(soft_token.conf))  # plugged in again
    run = _renew(qoltanba, soft_token, "--storage", "kaztoken", "--json")
    assert run.code == 0, run
    assert json.loads(run.out)["application"] == waiting.application
    assert len(_applications(soft_token)) == 1


def test_a_wrong_pin_is_exit_3_and_changes_nothing(qoltanba, soft_token, pkcs11_tool):
    _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    run = _renew(qoltanba, soft_token, "--storage", "kaztoken", pin="Wr0ngPin9")
    assert run.code == 3, run
    assert "the token itself said so" in run.err and "Traceback" not in run.err
    assert run.err.splitlines()[-1].startswith("qoltanba: Wrong PIN")
    assert _journal(soft_token) == []
    assert _exported(soft_token, pkcs11_tool) == before


def test_keys_another_demo_issued_are_refused_at_once_and_the_token_is_untouched(
    qoltanba, soft_token, pkcs11_tool, tmp_path
):
    """Another home's demo authority has its own DEMO CA: it does not renew these keys, and says
    so before anything is made on the token (wizard.renewal.acceptance), not after submitting."""
    _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    other = tmp_path / "other-home"
    run = qoltanba(
        *_renew_argv(soft_token, "--storage", "kaztoken", "--json"),
        env={PIN_VAR: soft_token.pin, "QOLTANBA_HOME": str(other)},
    )
    assert run.code == 5, run
    answer = json.loads(run.out)
    assert (answer["error"], answer["reason"]) == ("not_renewable", "issuer_not_accepted")
    assert "qoltanba demo-keys" in answer["message"] and "Traceback" not in run.err
    assert _exported(soft_token, pkcs11_tool) == before
    from wizard.renewal.journal import RenewalJournal

    assert RenewalJournal(other / "journal.sqlite3").all() == []


@pytest.mark.parametrize(
    ("extra", "code", "error"),
    [
        ((), 2, "token_storage_unknown"),  # SoftHSM2 names no kind of token
        (("--storage", "pkcs12"), 2, "renew_token_file_options"),
        (("--storage", "floppy"), 2, "renewal_bad_storage"),
        (("--storage", "kaztoken", "--out", "new"), 2, "renew_token_file_options"),
        (("--storage", "kaztoken", "--new-password-env", "X"), 2, "renew_token_file_options"),
        (("--storage", "kaztoken", "--email", "no-at-sign"), 2, "renewal_bad_email"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    qoltanba, soft_token, pkcs11_tool, extra, code, error
):
    _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    run = _renew(qoltanba, soft_token, *extra, "--json")
    assert run.code == code, run
    assert json.loads(run.out)["error"] == error
    assert "Traceback" not in run.err and run.err.strip().splitlines()[-1].startswith("qoltanba:")
    assert _journal(soft_token) == []
    assert _exported(soft_token, pkcs11_tool) == before


def test_a_cancelled_renewal_loses_its_new_keys_never_the_current_ones(
    qoltanba, soft_token, pkcs11_tool, tmp_path
):
    made = _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    _killed(soft_token, tmp_path, "keys_saved>requests_built", "before")
    [renewal] = _journal(soft_token)
    assert len(_private_keys(soft_token, pkcs11_tool)) == 4
    cancelled = qoltanba("cancel", "--renewal", renewal.id, "--json")
    assert cancelled.code == 0, cancelled
    # `cancel` has no PIN: the new pair stays until the next run on this token removes it.
    run = _renew(qoltanba, soft_token, "--storage", "kaztoken", "--json")
    assert run.code == 0, run
    after = _exported(soft_token, pkcs11_tool)
    assert {name: after[name] for name in before} == before
    ids = {o["ID"] for o in _private_keys(soft_token, pkcs11_tool)}
    recorded = {k.token_object for k in renewal.record.keys}
    assert len(ids) == 4 and not ids & recorded
    assert {k["object_id"] for k in made["keys"]} <= ids
    assert len(_applications(soft_token)) == 1  # the cancelled one was never filed


def test_only_a_never_certified_new_key_pair_is_ever_destroyed(qoltanba, soft_token, pkcs11_tool):
    """What a rejection or a cancel with the token at hand does (TokenHome.discard): the new pair
    with its recorded public key goes; an ID with a certificate (every current key) never."""
    from wizard.keys.oids import Scheme
    from wizard.keys.tokens.device import open_module
    from wizard.keys.tokens.keys import (
        destroy_uncertified_key_pair,
        generate_key_pair,
        token_key_stores,
    )

    made = _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    with open_module(soft_token.module) as module:
        info = module.token(label=soft_token.label)
        with module.login(info, soft_token.pin, rw=True) as session:
            current = token_key_stores(session)
            for store in current:
                spki = store.private_key.public_key_info()
                assert destroy_uncertified_key_pair(session, store.object_id, spki) is False
                assert destroy_uncertified_key_pair(session, store.object_id) is False
            key, object_id = generate_key_pair(session, Scheme.RSA, "sign")
            other = current[0].private_key.public_key_info()
            assert destroy_uncertified_key_pair(session, object_id, other) is False  # not ours
            assert len(_private_keys(soft_token, pkcs11_tool)) == 3
            assert destroy_uncertified_key_pair(session, object_id, key.public_key_info())
    assert _exported(soft_token, pkcs11_tool) == before
    assert {k["object_id"] for k in made["keys"]} == {
        o["ID"] for o in _private_keys(soft_token, pkcs11_tool)
    }


def test_a_factory_pin_is_warned_about_and_the_renewal_goes_on(qoltanba, factory_token):
    _demo(qoltanba, factory_token)
    run = _renew(qoltanba, factory_token, "--storage", "etoken", "--json")
    assert run.code == 0, run
    assert "factory PIN" in run.err and "--change-pin" in run.err
    report = json.loads(run.out)
    assert report["status"] == "done" and report["storage"] == "etoken"
