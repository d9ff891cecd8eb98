"""Demo keys onto a token: a demo holder's current keys, the key pairs generated on the token and
certified by the demo authority (``qoltanba demo-keys --token``), to practise and for the tests.

The same as wizard.renewal.demo.issue_demo_keys for a folder, with the authority given as an open
``DemoAuthority`` (typed only for the checker: wizard.keys never imports the authority package).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wizard.errors import TokenError
from wizard.keys import profile
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import build_request
from wizard.keys.tokens.device import TokenSession, device_errors
from wizard.keys.tokens.keys import TokenKeyPair, generate_key_pair, write_certificate

if TYPE_CHECKING:
    from wizard.authority.interface import DemoAuthority


@dataclass(frozen=True)
class DemoTokenKey:
    usage: str
    object_id: bytes
    certificate: bytes  # DER


async def issue_demo_token_keys(
    authority: DemoAuthority,
    session: TokenSession,
    *,
    scheme: Scheme = Scheme.RSA,
    holder: Holder = Holder.INDIVIDUAL,
    days_left: int = 20,
) -> list[DemoTokenKey]:
    """Generate the holder's key pairs on the token (read-write session), have the demo authority
    certify them, and write the certificates beside them. When the authority refuses or cannot
    be reached, the key pairs just made are destroyed again (they were never anyone's keys)."""
    if scheme is Scheme.GOST2015:
        token = session.token
        raise TokenError(
            "token_gost_untested" if token.gost512 else "token_gost_ncalayer", token=token.name
        )
    subject = profile.subject(profile.DEMO_HOLDERS[holder])
    made: dict[str, tuple[TokenKeyPair, bytes]] = {}
    try:
        for usage in ("auth", "sign"):
            made[usage] = generate_key_pair(session, scheme, usage)
        requests = [(usage, build_request(key, subject)) for usage, (key, _) in made.items()]
        issued = await authority.demo_issue_holder(scheme.value, holder.value, days_left, requests)
        for item in issued.certificates:
            if item.usage not in made:
                raise TokenError("token_demo_unexpected", usage=item.usage)
    except BaseException:
        _destroy(session, made.values())
        raise
    keys = []
    for item in issued.certificates:
        object_id = made[item.usage][1]
        write_certificate(session, object_id, item.certificate)
        keys.append(DemoTokenKey(item.usage, object_id, item.certificate))
    return keys


def _destroy(session: TokenSession, made: Iterable[tuple[TokenKeyPair, bytes]]) -> None:
    from pkcs11 import Attribute

    for _, object_id in made:
        try:
            with device_errors(session.token.name):
                for obj in list(session.session.get_objects({Attribute.ID: object_id})):
                    obj.destroy()
        except TokenError:
            pass
