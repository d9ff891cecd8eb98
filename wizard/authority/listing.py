"""`qoltanba authority list`: the installed adapters, why one cannot be used, the roots each
declares, and the NCA certificates Qoltanba pins (the JSON object and its text lines)."""

from __future__ import annotations

from typing import Any

from wizard.authority.adapters import available_authorities
from wizard.i18n import translate
from wizard.keys.anchors import pinned_certificates
from wizard.keys.certificate import utc_now
from wizard.keys.chain import valid_at


def adapters_report(lang: str) -> dict[str, Any]:
    """The `authority list --json` object: ``adapters`` (name, title, usable, reason, builtin,
    opens_by_name, roots) and ``pinned_roots`` (file, subject, sha256, not_after, root, valid)."""
    now = utc_now()
    adapters = [
        {
            "name": choice.name,
            "title": choice.title,
            "usable": choice.usable,
            "reason": choice.reason,
            "builtin": choice.builtin,
            "opens_by_name": choice.opens_by_name,
            "roots": [
                {"subject": r.subject, "sha256": r.sha256, "not_after": r.not_after}
                for r in choice.roots
            ],
        }
        for choice in available_authorities(lang)
    ]
    pinned = [
        {
            "file": p.file,
            "subject": p.certificate.subject.rfc4514_string(),
            "sha256": p.sha256,
            "not_after": p.certificate.not_valid_after_utc.isoformat(),
            "root": p.is_root,
            "valid": valid_at(p.certificate, now),
        }
        for p in pinned_certificates()
    ]
    return {"adapters": adapters, "pinned_roots": pinned}


def adapters_lines(report: dict[str, Any], lang: str) -> list[str]:
    """The same, as lines for a terminal: one per adapter, then what it needs or declares."""

    def t(key: str, **params: Any) -> str:
        return translate(key, lang, **params)

    adapters = report["adapters"]
    width = max(len(a["name"]) for a in adapters)
    ready, not_ready = t("adapters.list.usable"), t("adapters.list.unusable")
    state_width = max(len(ready), len(not_ready))
    indent = " " * (width + state_width + 4)
    lines = []
    for adapter in adapters:
        state = ready if adapter["usable"] else not_ready
        lines.append(f"{adapter['name']:<{width}}  {state:<{state_width}}  {adapter['title']}")
        if adapter["reason"]:
            lines.append(indent + t("adapters.list.why", reason=adapter["reason"]))
        if not adapter["opens_by_name"]:
            lines.append(indent + t("adapters.list.by_url"))
        for root in adapter["roots"]:
            until = root["not_after"][:10]
            lines.append(
                indent
                + t(
                    "adapters.list.root",
                    subject=root["subject"],
                    sha256=root["sha256"],
                    until=until,
                )
            )
    pinned = report["pinned_roots"]
    roots = sum(1 for p in pinned if p["root"] and p["valid"])
    lines.append(t("adapters.list.pinned", count=len(pinned), roots=roots))
    return lines
