"""Demo keys: a demo holder's current keys, issued by the demo authority, so that a renewal can be
tried start to finish without real keys (`qoltanba demo-keys` and the wizard's demo mode)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wizard.authority.interface import DemoAuthority
from wizard.keys import profile
from wizard.keys.files import prepare_new_folder, refuse_folder_with_keys
from wizard.keys.keypair import generate
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import build_request
from wizard.keys.writer import save_store


@dataclass(frozen=True)
class DemoKeys:
    folder: Path
    files: tuple[Path, ...]
    holder: Holder
    scheme: Scheme


async def issue_demo_keys(
    authority: DemoAuthority,
    folder: Path,
    password: str,
    *,
    scheme: Scheme = Scheme.RSA,
    holder: Holder = Holder.INDIVIDUAL,
    days_left: int = 20,
) -> DemoKeys:
    """Generate the holder's keys, have the demo authority certify them, and save the stores
    (encrypted with ``password``) in a new folder. ``authority`` is an open demo authority (the
    built-in ones, or any adapter's `DemoAuthority`); its refusals (ApplicationRejected) and
    troubles (AuthorityUnreachable, AuthorityProtocolError) reach the caller as they are."""
    folder = prepare_new_folder(Path(folder))
    refuse_folder_with_keys(folder)  # one holder's keys to a folder, never mixed
    subject = profile.subject(profile.DEMO_HOLDERS[holder])
    usages = ("both",) if scheme is Scheme.GOST2015 else ("auth", "sign")
    keys = {usage: generate(scheme) for usage in usages}
    requests = [(usage, build_request(keys[usage], subject)) for usage in usages]
    issued = await authority.demo_issue_holder(scheme.value, holder.value, days_left, requests)
    files = tuple(
        save_store(folder, keys[item.usage], item.certificate, password)
        for item in issued.certificates
    )
    return DemoKeys(folder=folder, files=files, holder=holder, scheme=scheme)
