"""deploy/atlas.env.example names every setting the code reads, so an operator sees them all."""

from __future__ import annotations

import re

from app.config import PROJECT_ROOT


def test_the_environment_template_lists_every_setting():
    read = set()
    for folder in ("app", "importers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"\bATLAS_[A-Z0-9_]+\b", path.read_text()))
    template = (PROJECT_ROOT / "deploy" / "atlas.env.example").read_text()
    listed = set(re.findall(r"^#?(ATLAS_[A-Z0-9_]+|DATABASE_URL|SECRET_KEY)=", template,
                            re.MULTILINE))
    missing = sorted((read | {"DATABASE_URL", "SECRET_KEY"}) - listed)
    assert not missing, f"not in deploy/atlas.env.example: {missing}"
