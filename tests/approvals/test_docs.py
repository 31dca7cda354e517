"""docs/approvals.md and docs/decisions/ say what the code does.

The rules table in docs/approvals.md is generated from approvals.policy.APPROVAL_TABLE; after changing
the table, regenerate it with
    HERALD_WRITE_DOCS=1 .venv/bin/pytest tests/approvals/test_docs.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from approvals import policy
from campaigns.choices import Section

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = DOCS / "approvals.md"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S
)
ACTION_ORDER = policy.ACTIONS
MODES = {
    policy.Mode.DIRECT: "the campaign",
    policy.Mode.REVISION: "a proposal for approval",
    policy.Mode.NONE: "—",
    policy.PROPOSAL: "proposal",
}
PHASES = {None: "any", policy.Phase.NEW: "not yet", policy.Phase.RAN: "done"}


def _sections(sections: frozenset[Section]) -> str:
    if sections == frozenset(Section):
        return "everything"
    if not sections:
        return "nothing"
    return ", ".join(s.label for s in Section if s in sections)


def render_approval_table() -> str:
    lines = [
        "| State | First run | Time | Role | May edit | Edits go to | Allowed | Notice |",
        "|---" * 8 + "|",
    ]
    for (state, phase, time, role), cell in policy.APPROVAL_TABLE.items():
        allowed = ", ".join(a.value for a in ACTION_ORDER if a in cell.actions) or "—"
        notice = f"`{cell.notice.value}`" if cell.notice else "—"
        lines.append(
            f"| {state.label} | {PHASES[phase]} | {time.value} | {role.value}"
            f" | {_sections(cell.sections)} | {MODES[cell.mode]} | {allowed} | {notice} |"
        )
    return "\n".join(lines) + "\n"


GENERATED = {"approval-table": render_approval_table}


def test_the_docs_table_is_the_policy_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    if os.environ.get("HERALD_WRITE_DOCS"):
        text = _BLOCK.sub(lambda m: m[1] + GENERATED[m["name"]]() + m[4], text)
        DOC.write_text(text, encoding="utf-8")
    found = {m["name"]: m["body"] for m in _BLOCK.finditer(text)}
    assert set(found) == set(GENERATED), "docs/approvals.md lacks a generated block"
    for name, render in GENERATED.items():
        assert found[name] == render(), (
            f"docs/approvals.md table '{name}' is out of date with approvals/policy.py; "
            "regenerate it with HERALD_WRITE_DOCS=1 (see tests/approvals/test_docs.py)"
        )


def test_every_decision_is_linked_and_every_link_exists() -> None:
    # docs/approvals.md links the workflow's decisions, the other pages theirs.
    text = "".join(page.read_text(encoding="utf-8") for page in sorted(DOCS.glob("*.md")))
    linked = set(re.findall(r"\(decisions/([a-z0-9-]+\.md)\)", text))
    on_disk = {p.name for p in (DOCS / "decisions").glob("*.md")}
    assert linked == on_disk
    # The code names its decisions too: each file it names exists.
    for path in (Path(policy.__file__),):
        for name in re.findall(r"docs/decisions/([a-z0-9-]+\.md)", path.read_text()):
            assert name in on_disk, name


def test_the_notice_texts_in_the_docs_are_the_code_s() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    for notice, message in policy.NOTICE_TEXT.items():
        assert f"`{notice.value}`" in text
        assert message in text, notice
