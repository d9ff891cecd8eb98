"""Where a token's PKCS#11 module is: the known default paths per OS, p11-kit's registry on Linux,
or the path the user gives (``--module PATH``). No python-pkcs11 here: finding is not loading.

Paths are the vendors' installers' defaults as their documentation and packages show them. The
file names of the Kaztoken and aKey modules could not be checked from here (no vendor
documentation was reachable): on Linux they are found when their installer registers them with
p11-kit, and everywhere ``--module PATH`` names them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from wizard.errors import StoreError, TokenError
from wizard.keys.safe_read import check_regular

# vendor -> the module's default paths, per platform ("linux", "windows", "macos").
_SYSTEM32 = r"C:\Windows\System32"
KNOWN_MODULES: dict[str, dict[str, tuple[str, ...]]] = {
    "linux": {
        "etoken": (
            "/usr/lib/libeTPkcs11.so",
            "/usr/lib64/libeTPkcs11.so",
            "/usr/lib/x86_64-linux-gnu/libeTPkcs11.so",
        ),
        "jacarta": (
            "/usr/lib/libjcPKCS11-2.so",
            "/usr/lib64/libjcPKCS11-2.so",
            "/usr/lib/x86_64-linux-gnu/libjcPKCS11-2.so",
        ),
        "opensc": (
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        ),
        "softhsm2": (
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib64/pkcs11/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ),
        "p11-kit": (
            "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
            "/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
            "/usr/lib64/p11-kit-proxy.so",
            "/usr/lib/p11-kit-proxy.so",
        ),
    },
    "windows": {
        "etoken": (rf"{_SYSTEM32}\eTPKCS11.dll",),
        "jacarta": (rf"{_SYSTEM32}\jcPKCS11-2.dll",),
        "opensc": (
            rf"{_SYSTEM32}\opensc-pkcs11.dll",
            r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
        ),
        "softhsm2": (r"C:\SoftHSM2\lib\softhsm2-x64.dll", r"C:\SoftHSM2\lib\softhsm2.dll"),
    },
    "macos": {
        "etoken": ("/usr/local/lib/libeTPkcs11.dylib",),
        "jacarta": ("/Library/Frameworks/jcPKCS11-2.framework/jcPKCS11-2",),
        "opensc": ("/Library/OpenSC/lib/opensc-pkcs11.so",),
        "softhsm2": (
            "/opt/homebrew/lib/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ),
    },
}
# p11-kit's registry: one *.module file per installed module (``module: NAME-or-PATH``).
P11_KIT_REGISTRIES = ("/usr/share/p11-kit/modules", "/etc/pkcs11/modules")
P11_KIT_MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib64/pkcs11", "/usr/lib/pkcs11")
# The first bytes of a shared library: ELF, Mach-O (32/64-bit, both byte orders, universal), PE.
_LIBRARY_MAGIC = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"MZ",
)


@dataclass(frozen=True)
class ModuleCandidate:
    """A PKCS#11 module found on this machine: who makes it and where it is."""

    vendor: str  # etoken, jacarta, kaztoken, akey, opensc, softhsm2, p11-kit, registered, given
    path: Path


def platform_name() -> str:
    """linux, windows, macos, android, ios or the raw sys.platform."""
    if sys.platform == "android" or hasattr(sys, "getandroidapilevel"):
        return "android"
    if "ANDROID_ROOT" in os.environ and "ANDROID_DATA" in os.environ:
        return "android"
    if sys.platform == "ios":
        return "ios"
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return sys.platform


def refuse_mobile(system: str | None = None) -> None:
    """Android and iOS have no PKCS#11: say so instead of looking for a module."""
    if (system or platform_name()) in ("android", "ios"):
        raise TokenError("tokens_not_on_mobile")


def _registered(registries: tuple[str, ...] = P11_KIT_REGISTRIES) -> list[ModuleCandidate]:
    """Modules registered with p11-kit (Linux): what vendors' packages install there."""
    found: list[ModuleCandidate] = []
    for folder in registries:
        try:
            entries = sorted(Path(folder).glob("*.module"))
        except OSError:
            continue
        for entry in entries:
            try:
                lines = entry.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                key, _, value = line.partition(":")
                if key.strip() != "module" or not value.strip():
                    continue
                name = value.strip()
                paths = [Path(name)] if os.path.isabs(name) else []
                paths += [Path(d) / name for d in P11_KIT_MODULE_DIRS if not os.path.isabs(name)]
                for path in paths:
                    found.append(ModuleCandidate(entry.stem, path))
    return found


def candidates(system: str | None = None) -> list[ModuleCandidate]:
    """Every place a module may be on this platform, vendors' modules first, the p11-kit proxy
    (which offers all registered modules at once) last."""
    system = system or platform_name()
    refuse_mobile(system)
    known = KNOWN_MODULES.get(system, {})
    found = [ModuleCandidate(vendor, Path(p)) for vendor, paths in known.items() for p in paths]
    if system == "linux":
        proxy = [c for c in found if c.vendor == "p11-kit"]
        found = [c for c in found if c.vendor != "p11-kit"] + _registered() + proxy
    return found


def find_modules(system: str | None = None) -> list[ModuleCandidate]:
    """The candidates that exist here, each real file once (links to one module count once)."""
    seen: set[str] = set()
    present: list[ModuleCandidate] = []
    for candidate in candidates(system):
        try:
            if not candidate.path.is_file():
                continue
            real = os.path.realpath(candidate.path)
        except (OSError, ValueError):
            continue
        if real in seen:
            continue
        seen.add(real)
        present.append(candidate)
    return present


def check_module_file(path: str | os.PathLike[str]) -> Path:
    """``path`` when it is a regular file that looks like a shared library; TokenError
    ("token_module_missing" / "token_module_not_pkcs11", with ``path``) otherwise. Loading a
    library runs its code, so nothing that is not one is ever handed to the loader."""
    module = Path(path)
    name = str(module)
    try:
        check_regular(module)
    except StoreError as exc:  # missing, a folder, a FIFO, a device, unreadable
        if exc.code == "store_missing":
            raise TokenError("token_module_missing", path=name) from exc
        raise TokenError("token_module_not_pkcs11", path=name) from exc
    try:
        with open(module, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise TokenError("token_module_not_pkcs11", path=name) from exc
    if not any(head.startswith(magic) for magic in _LIBRARY_MAGIC):
        raise TokenError("token_module_not_pkcs11", path=name)
    return module


# What a token says of itself (C_GetTokenInfo's manufacturer, model, label) -> the NCA's name of
# its storage kind (the application's "storage", as wizard.renewal.process.TOKEN_STORAGES has
# them). Vendors' strings as their drivers are documented to answer; Kaztoken's and aKey's could
# not be checked from here, so they are matched by name only. Unknown: None (--storage says).
_STORAGE_HINTS = (
    ("kaztoken", ("kaztoken", "kaz token")),
    ("idcard", ("id card", "idcard", "kazakhstan id", "qazaqstan id")),
    ("jacarta", ("jacarta",)),
    ("etoken", ("etoken", "safenet")),
    ("akey", ("akey",)),
)


def storage_kind(manufacturer: str, model: str, label: str = "") -> str | None:
    """The storage kind a token is (kaztoken, idcard, jacarta, etoken, akey), or None when what
    it says of itself names none of them (a SoftHSM2 test token, an unknown device)."""
    text = " ".join((manufacturer, model, label)).lower()
    for kind, hints in _STORAGE_HINTS:
        if any(hint in text for hint in hints):
            return kind
    return None
