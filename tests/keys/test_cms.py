"""CMS signatures: the real NCA test signatures verify; ours verify in OpenSSL; tampering fails."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess

import pytest

from wizard.keys.cms import SignatureError, sign, verify_signed
from wizard.keys.store import open_store

PASSWORD = "Qwerty12"
RSA_SIGNED = [
    "sdk2020/personal/active/AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.cms",
    "sdk2020/personal/active/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.cms",
    "sdk2020/organization/active/AUTH_RSA256_d682726b55b3e62600ea8fe1c74e75fc96f47790.cms",
]
SIGN_STORE = "sdk2020/personal/active/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12"


@pytest.mark.parametrize("name", RSA_SIGNED)
def test_real_nca_signatures_verify(material, name):
    data = base64.b64decode((material / name).read_bytes())
    verified = verify_signed(data)
    assert verified.content == b"asdasd"
    stem = name.rsplit("/", 1)[1].removesuffix(".cms")
    cert_pem = (material / name.replace(".cms", ".cer")).read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    expected = x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER)
    assert verified.signer_certificate == expected, stem
    assert verified.signing_time is not None and verified.signing_time.year == 2020


@pytest.mark.parametrize("name", RSA_SIGNED)
def test_a_flipped_byte_in_a_real_signature_is_refused(material, name):
    data = bytearray(base64.b64decode((material / name).read_bytes()))
    data[-10] ^= 0x40  # inside the signature value, the last field
    with pytest.raises(SignatureError):
        verify_signed(bytes(data))


@pytest.fixture(scope="module")
def signer(material):
    return open_store(material / SIGN_STORE, PASSWORD)


def test_our_signature_verifies_here_and_in_openssl(tmp_path, signer):
    now = dt.datetime(2020, 6, 1, tzinfo=dt.UTC)
    data = sign(
        b"application", signer.private_key, signer.contents.certificates[0], signing_time=now
    )
    verified = verify_signed(data)
    assert verified.content == b"application"
    assert verified.signer_certificate == signer.contents.certificates[0]
    assert verified.signing_time == now
    path = tmp_path / "app.cms"
    path.write_bytes(data)
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", str(path)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"application"


def test_tampered_content_or_foreign_input_is_refused(signer):
    data = sign(
        b"application",
        signer.private_key,
        signer.contents.certificates[0],
        signing_time=dt.datetime.now(dt.UTC),
    )
    tampered = data.replace(b"application", b"applicatioN")
    assert tampered != data
    with pytest.raises(SignatureError):
        verify_signed(tampered)
    for junk in (b"", b"\x30\x00", b"not der", data[:-20]):
        with pytest.raises(SignatureError):
            verify_signed(junk)
