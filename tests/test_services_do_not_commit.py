"""Services change state and never commit: only boundaries (routes, the API, commands, the
request hooks, jobs) and the unit of work do."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUNDARIES = {"routes.py", "hooks.py", "cli.py", "uow.py", "openapi.py"}


def test_no_service_module_commits():
    offenders = []
    for package in ("edc", "audit", "forms"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name in BOUNDARIES:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr == "commit" and \
                        isinstance(node.value, ast.Attribute) and node.value.attr == "session":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
