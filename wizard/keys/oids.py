"""NCA RK object identifiers and certificate profiles (DOMAIN.md §5, §6), as plain data."""

from __future__ import annotations

from enum import StrEnum

# Extended key usage: what a key is for, and who holds it.
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
INDIVIDUAL = "1.2.398.3.3.4.1.1"
LEGAL_ENTITY = "1.2.398.3.3.4.1.2"


class Holder(StrEnum):
    """Who holds the key, as the NCA's EKU role OIDs say (DOMAIN.md §5)."""

    INDIVIDUAL = "individual"
    LEGAL_HEAD = "legal-head"  # first head
    LEGAL_SIGNER = "legal-signer"  # person with signing right
    LEGAL_FINANCE = "legal-finance"  # signs financial documents
    LEGAL_HR = "legal-hr"  # approves employees' applications
    LEGAL_EMPLOYEE = "legal-employee"
    LEGAL_INFOSYSTEM = "legal-infosystem"
    LEGAL_ENTITY = "legal-entity"  # a legal entity's key with no role OID
    UNKNOWN = "unknown"

    @property
    def is_legal(self) -> bool:
        return self.value.startswith("legal")


ROLE_OIDS: dict[str, Holder] = {
    "1.2.398.3.3.4.1.2.1": Holder.LEGAL_HEAD,
    "1.2.398.3.3.4.1.2.2": Holder.LEGAL_SIGNER,
    "1.2.398.3.3.4.1.2.3": Holder.LEGAL_FINANCE,
    "1.2.398.3.3.4.1.2.4": Holder.LEGAL_HR,
    "1.2.398.3.3.4.1.2.5": Holder.LEGAL_EMPLOYEE,
    "1.2.398.3.3.4.1.2.6": Holder.LEGAL_INFOSYSTEM,
}
HOLDER_ROLE_OID: dict[Holder, str] = {holder: oid for oid, holder in ROLE_OIDS.items()}

# Certificate policies.
POLICY_GOST512 = "1.2.398.3.3.2"
POLICY_SIGN_LEGAL = "1.2.398.3.3.2.1"
POLICY_AUTH_LEGAL = "1.2.398.3.3.2.2"
POLICY_SIGN_INDIVIDUAL = "1.2.398.3.3.2.3"
POLICY_AUTH_INDIVIDUAL = "1.2.398.3.3.2.4"
NCA_POLICY_PREFIX = "1.2.398.3.3."

# The NCA key-store extension of a request: SEQUENCE { OID 1.2.398.3.3.5.1.1 } = a PKCS#12 file.
KEY_STORE_EXTENSION = "1.2.398.3.3.5"
KEY_STORE_PKCS12 = "1.2.398.3.3.5.1.1"

# Key algorithms.
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
GOST2015_512_KEY = "1.2.398.3.10.1.1.2.2"  # GOST R 34.10-2015 512, Kazakhstan's own OID
GOST2015_512_CURVE = "1.2.398.3.10.1.1.2.2.1"
GOST2015_512_SIGNATURE = "1.2.398.3.10.1.1.2.3.2"
STREEBOG_512 = "1.2.398.3.10.1.3.3"
GOST2004_KEY = "1.2.398.3.10.1.1.1.1"  # legacy GOST 34.310-2004 (GOSTKNCA_ stores)
GOST2004_SIGNATURE = "1.2.398.3.10.1.1.1.2"
RUSSIAN_GOST2012_512_KEY = "1.2.643.7.1.1.1.2"


class Scheme(StrEnum):
    """Key scheme of a store, as Qoltanba names it (`algorithm` in `inspect --json`)."""

    RSA = "RSA"
    GOST2015 = "GOST 2015 512"
    GOST2004 = "GOST 2004"
    OTHER = "other"


# File-name prefixes the NCA uses: <PREFIX>_<subject key identifier hex>.p12
PREFIX_AUTH_RSA = "AUTH_RSA256"
PREFIX_SIGN_RSA = "RSA256"
PREFIX_SIGN_GOST2004 = "GOSTKNCA"
PREFIX_GOST512 = "GOST512"
