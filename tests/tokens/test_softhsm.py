"""Keys on a SoftHSM2 token: `qoltanba tokens`, `demo-keys --token`, `inspect --token`, and the
key-pair functions a renewal uses, checked with OpenSC's pkcs11-tool and OpenSSL (independent of
python-pkcs11), and signatures made on the token verified with `cryptography`."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wizard.errors import StoreError, TokenError

PIN_VAR = "QOLTANBA_TEST_PIN"
CONTRACT_FIELDS = {
    "algorithm",
    "usage",
    "iin",
    "bin",
    "organization",
    "holder",
    "not_before",
    "not_after",
    "days_left",
    "renewable",
    "certificate",
}


def _demo(qoltanba, token, *extra: str):
    run = qoltanba(
        "--lang",
        "en",
        "demo-keys",
        "--token",
        "--module",
        token.module,
        "--pin-env",
        PIN_VAR,
        "--json",
        *extra,
        env={PIN_VAR: token.pin},
    )
    assert run.code == 0, run
    return json.loads(run.out)


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


def _session(token, *, rw: bool = False):
    from wizard.keys.tokens.device import open_module

    module = open_module(token.module)
    info = module.token(label=token.label)
    return module, module.login(info, token.pin, rw=rw)


def test_tokens_lists_the_token_its_pin_state_and_no_keys_yet(qoltanba, soft_token):
    run = qoltanba("tokens", "--module", soft_token.module, "--json")
    assert run.code == 0, run
    report = json.loads(run.out)
    [token] = report["tokens"]
    assert token["label"] == soft_token.label
    assert token["manufacturer"] == "SoftHSM project" and token["model"] == "SoftHSM v2"
    assert re.fullmatch(r"[0-9a-f]{16}", token["serial"])
    assert token["pin"] == {
        "initialized": True,
        "tries": "unknown",
        "count_low": False,
        "final_try": False,
        "locked": False,
        "factory_pin": False,
        "pin_pad": False,
    }
    assert token["gost512"] is False  # SoftHSM2 has no GOST R 34.10-2012/2015 512
    assert token["keys"] == []
    text = qoltanba("--lang", "en", "tokens", "--module", soft_token.module)
    assert text.code == 0 and soft_token.label in text.out and "NCALayer" in text.out


def test_demo_keys_onto_the_token_then_inspect_shows_the_file_facts(qoltanba, soft_token):
    made = _demo(qoltanba, soft_token)
    assert sorted(k["usage"] for k in made["keys"]) == ["auth", "sign"]
    run = qoltanba("inspect", "--token", "--module", soft_token.module, "--pin-env", PIN_VAR,
                   "--json", env={PIN_VAR: soft_token.pin})  # fmt: skip
    assert run.code == 0, run
    reports = json.loads(run.out)
    assert isinstance(reports, list) and len(reports) == 2
    by_id = {r["object_id"]: r for r in reports}
    assert set(by_id) == {k["object_id"] for k in made["keys"]}
    for report in reports:
        assert set(report) >= CONTRACT_FIELDS
        assert report["renewable"] is True, report
        assert report["token"]["label"] == soft_token.label
        assert report["token"]["serial"] == made["token"]["serial"]
        assert report["certificate"].startswith("-----BEGIN CERTIFICATE-----")
        prefix = "AUTH_RSA256_" if report["usage"] == ["auth"] else "RSA256_"
        assert report["label"] == f"{prefix}{report['subject_key_id']}"
        # revocation asked as for a file store: the demo authority's OCSP knows these keys
        assert (report["revocation"]["status"], report["revocation"]["source"]) == (
            "good",
            "ocsp",
        ), report["revocation"]
        assert report["revocation_checked"] is True
    assert sorted(tuple(r["usage"]) for r in reports) == [("auth",), ("sign",)]
    listing = json.loads(qoltanba("tokens", "--module", soft_token.module, "--json").out)
    keys = listing["tokens"][0]["keys"]
    assert {k["object_id"] for k in keys} == set(by_id)
    assert all(k["certificate"]["nca_profile"] for k in keys)
    # Text: the same facts, one block per key.
    text = qoltanba("--lang", "en", "inspect", "--token", "--module", soft_token.module,
                    "--pin-env", PIN_VAR, env={PIN_VAR: soft_token.pin})  # fmt: skip
    assert text.code == 0 and text.out.count("Can be renewed online.") == 2


def test_new_keys_are_sensitive_and_never_extractable_by_pkcs11_tool(
    qoltanba, soft_token, pkcs11_tool
):
    made = _demo(qoltanba, soft_token)
    objects = _objects(soft_token.tool(pkcs11_tool, "--list-objects"))
    private = [o for o in objects if o["kind"] == "Private Key"]
    certificates = [o for o in objects if o["kind"] == "Certificate"]
    assert len(private) == 2 and len(certificates) == 2
    for key in private:
        access = {a.strip() for a in key["Access"].split(",")}
        assert {"sensitive", "always sensitive", "never extractable", "local"} <= access, key
        assert "extractable" not in access
    ids = {k["object_id"] for k in made["keys"]}
    assert {k["ID"] for k in private} == ids == {c["ID"] for c in certificates}
    assert {k["label"] for k in private} == {c["label"] for c in certificates}
    # Its secret parts cannot be read, whatever is asked (python-pkcs11, the token's answer).
    from pkcs11 import Attribute, ObjectClass
    from pkcs11 import exceptions as p11

    module, session = _session(soft_token)
    with module, session:
        keys = list(session.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        assert len(keys) == 2
        for key in keys:
            for secret in (Attribute.PRIVATE_EXPONENT, Attribute.PRIME_1, Attribute.VALUE):
                with pytest.raises((p11.AttributeSensitive, p11.AttributeTypeInvalid)):
                    key[secret]


def _demo_ca_certificates(home: Path) -> list[bytes]:
    from wizard.authority.adapters import OpenOptions, resolve

    async def fetch() -> list[bytes]:
        async with resolve("demo", "en").open(OpenOptions(home=home)) as authority:
            return list((await authority.info()).ca_certificates)

    return asyncio.run(fetch())


def test_certificates_on_the_token_chain_to_the_demo_ca_by_openssl(
    qoltanba, soft_token, pkcs11_tool, tmp_path
):
    made = _demo(qoltanba, soft_token)
    cas = _demo_ca_certificates(soft_token.home)
    assert cas
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(
        b"".join(x509.load_der_x509_certificate(c).public_bytes(serialization.Encoding.PEM)
                 for c in cas)
    )  # fmt: skip
    for key in made["keys"]:
        der = soft_token.tool_bytes(
            pkcs11_tool, "--read-object", "--type", "cert", "--id", key["object_id"]
        )
        leaf = tmp_path / f"{key['object_id']}.der"
        leaf.write_bytes(der)
        result = subprocess.run(
            ["openssl", "verify", "-CAfile", str(bundle), str(leaf)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:  # openssl verify reads PEM only on some versions
            pem = leaf.with_suffix(".pem")
            subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(leaf), "-out",
                            str(pem)], check=True, capture_output=True)  # fmt: skip
            result = subprocess.run(["openssl", "verify", "-CAfile", str(bundle), str(pem)],
                                    capture_output=True, text=True, check=False)  # fmt: skip
        assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr
        # The certificate is for the key under the same CKA_ID (public key as the token has it).
        public = soft_token.tool_bytes(
            pkcs11_tool, "--read-object", "--type", "pubkey", "--id", key["object_id"]
        )
        certificate = x509.load_der_x509_certificate(der)
        assert serialization.load_der_public_key(public) == certificate.public_key()


def _exported(token, pkcs11_tool) -> dict[str, bytes]:
    """Every certificate and public key on the token, as pkcs11-tool exports them."""
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


def test_more_keys_leave_the_existing_objects_byte_identical(qoltanba, soft_token, pkcs11_tool):
    _demo(qoltanba, soft_token)
    before = _exported(soft_token, pkcs11_tool)
    assert len(before) == 6
    _demo(qoltanba, soft_token, "--holder", "legal-head")
    after = _exported(soft_token, pkcs11_tool)
    assert len(after) == 12
    assert {name: after[name] for name in before} == before


def test_signatures_made_on_the_token_verify_with_cryptography(qoltanba, soft_token):
    from wizard.keys.cms import sign, verify_signed
    from wizard.keys.request import build_request, certificate_subject, check_request
    from wizard.keys.tokens.keys import token_key_stores

    _demo(qoltanba, soft_token)
    module, session = _session(soft_token)
    with module, session:
        stores = token_key_stores(session)
        assert len(stores) == 2
        for store in stores:
            key = store.private_key
            assert key is not None and store.key_matches is True
            data = b"qoltanba token signature"
            signature = key.sign(data)
            public = store.certificate.public_key()
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            # Unchanged: a request (proof of possession) and a CMS made with the token's key.
            certificate_der = store.contents.certificates[0]
            request = build_request(key, certificate_subject(certificate_der), email="a@b.kz")
            checked = check_request(request)
            assert checked.public_key_info == key.public_key_info()
            cms = sign(b"{}", key, certificate_der, signing_time=datetime.now(UTC))
            assert verify_signed(cms).signer_certificate == certificate_der
            with pytest.raises(StoreError) as refused:
                key.private_key_info()
            assert refused.value.code == "token_key_not_extractable"


def test_generate_find_and_write_certificate_as_a_renewal_will(qoltanba, soft_token, tmp_path):
    from wizard.keys.oids import Scheme
    from wizard.keys.tokens.keys import (
        find_key_pair,
        generate_key_pair,
        token_key_stores,
        write_certificate,
    )

    _demo(qoltanba, soft_token)
    module, session = _session(soft_token, rw=True)
    with module, session:
        current = token_key_stores(session)
        old = [s.contents.certificates[0] for s in current]
        key, object_id = generate_key_pair(
            session,
            Scheme.RSA,
            "sign",
            not_equal_to=[s.private_key.public_key_info() for s in current],
        )
        assert len(object_id) == 20
        assert object_id not in {s.object_id for s in current}
        spki = key.public_key_info()
        again = find_key_pair(session, object_id, spki)
        assert again.public_key_info() == spki
        with pytest.raises(TokenError) as changed:
            find_key_pair(session, object_id, current[0].private_key.public_key_info())
        assert changed.value.code == "token_key_changed"
        with pytest.raises(TokenError) as missing:
            find_key_pair(session, b"\x01" * 20, spki)
        assert missing.value.code == "token_key_missing"
        # A certificate for another key under this ID is refused; nothing is written.
        with pytest.raises(StoreError) as wrong:
            write_certificate(session, object_id, old[0])
        assert wrong.value.code == "certificate_wrong_key"
        # The current keys cannot be given a second certificate either (never overwritten).
        with pytest.raises(TokenError) as exists:
            write_certificate(session, current[0].object_id, old[1])
        assert exists.value.code == "token_certificate_exists"
        write_certificate(session, current[0].object_id, old[0])  # the same one: no-op
        assert [s.contents.certificates[0] for s in token_key_stores(session)] == old


def test_gost_keys_are_refused_on_a_token_without_gost_mechanisms(qoltanba, soft_token):
    for lang in ("en", "ru", "kk"):
        run = qoltanba(
            *("--lang", lang, "demo-keys", "--token", "--module", soft_token.module),
            *("--pin-env", PIN_VAR, "--scheme", "gost"),
            env={PIN_VAR: soft_token.pin},
        )
        assert run.code == 4, run
        assert "NCALayer" in run.err and run.err.count("\n") == 1
        assert "Traceback" not in run.err


def test_token_absent_is_one_line_exit_4(qoltanba, soft_token):
    run = qoltanba("--lang", "en", "inspect", "--token", "--module", soft_token.module,
                   "--token-label", "no-such-token", "--pin-env", PIN_VAR,
                   env={PIN_VAR: soft_token.pin})  # fmt: skip
    assert run.code == 4 and "plug it in" in run.err and run.err.count("\n") == 1
