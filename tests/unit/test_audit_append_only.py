"""No code path rewrites the audit log: the package's Python and SQL are scanned for an UPDATE,
DELETE or TRUNCATE of ``audit_log`` (the database refuses them too: migration 016's trigger,
tested in tests/integration/test_audit_log.py)."""

from __future__ import annotations

import pathlib
import re

import paystate

PACKAGE = pathlib.Path(paystate.__file__).parent
REWRITE = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+(ONLY\s+)?\"?audit_log\b",
                     re.IGNORECASE)
# The trigger's own definition names the events it refuses.
REFUSAL = "BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log"


def test_no_code_updates_deletes_or_truncates_the_audit_log() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in (".py", ".sql"):
            continue
        text = path.read_text().replace(REFUSAL, "")
        found += [(str(path.relative_to(PACKAGE)), m.group(0)) for m in REWRITE.finditer(text)]
    assert found == []


def test_the_scan_sees_a_rewrite() -> None:
    for text in ("UPDATE audit_log SET", "delete from audit_log where", 'TRUNCATE "audit_log"',
                 "TRUNCATE TABLE ONLY audit_log"):
        assert REWRITE.search(text), text
    assert not REWRITE.search("INSERT INTO audit_log")
