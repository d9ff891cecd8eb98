"""NCA certificate subjects, built in the NCA's encoding order (DOMAIN.md §5), and the demo holders
that `qoltanba demo-keys` issues (clearly fictional; their IINs pass the checksum)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from wizard.keys.oids import Holder


@dataclass(frozen=True)
class Identity:
    surname: str
    name: str
    patronymic: str
    iin: str
    locality: str = ""
    region: str = ""
    organization: str = ""
    bin: str = ""
    country: str = "KZ"


def subject(identity: Identity) -> bytes:
    """CN=SURNAME NAME, SURNAME, SERIALNUMBER=IIN…, C, L, ST, O, OU=BIN…, G=patronymic (DER)."""
    attributes = [
        (NameOID.COMMON_NAME, f"{identity.surname} {identity.name}".strip()),
        (NameOID.SURNAME, identity.surname),
        (NameOID.SERIAL_NUMBER, f"IIN{identity.iin}" if identity.iin else ""),
        (NameOID.COUNTRY_NAME, identity.country),
        (NameOID.LOCALITY_NAME, identity.locality),
        (NameOID.STATE_OR_PROVINCE_NAME, identity.region),
        (NameOID.ORGANIZATION_NAME, identity.organization),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{identity.bin}" if identity.bin else ""),
        (NameOID.GIVEN_NAME, identity.patronymic),
    ]
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes if value])
    return name.public_bytes()


_PERSON = {
    "surname": "ДЕМОВА",
    "name": "АЙГЕРІМ",
    "patronymic": "ДЕМОҚЫЗЫ",
    "iin": "900101400013",
    "locality": "АЛМАТЫ",
    "region": "АЛМАТЫ",
}
_COMPANY = {"organization": 'ТОО "ДЕМО КОМПАНИЯ"', "bin": "100140000013"}

DEMO_HOLDERS: dict[Holder, Identity] = {
    Holder.INDIVIDUAL: Identity(**_PERSON),
    Holder.LEGAL_HEAD: Identity(**{**_PERSON, **_COMPANY}),
    Holder.LEGAL_SIGNER: Identity(**{**_PERSON, **_COMPANY, "iin": "850505300021"}),
    Holder.LEGAL_EMPLOYEE: Identity(
        **{
            **_PERSON,
            **_COMPANY,
            "surname": "ДЕМОВ",
            "name": "ЕРЛАН",
            "patronymic": "ДЕМОҰЛЫ",
            "iin": "850505300021",
        }
    ),
}
