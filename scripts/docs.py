"""`make docs`: write the parts of docs/ that come from the code.

docs/reference.md is the lab document's field reference (from its JSON Schema); the table in
docs/configuration.md lists every variable config/settings.py reads. tests/test_docs.py fails
when a committed file differs from what this writes.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEGIN = "<!-- the table is written from config/settings.py by `make docs`: edit the meanings there -->"
END = "<!-- end of the written table -->"


def reference() -> str:
    from topology.reference import document_reference

    return document_reference()


def configuration(current: str) -> str:
    """docs/configuration.md with its table written again from the settings."""
    import config.settings  # noqa: F401  (reading the settings records every variable)
    from config.environment import settings_table

    block = f"{BEGIN}\n\n{settings_table()}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(current):
        raise SystemExit(f"docs/configuration.md has lost its markers ({BEGIN})")
    return pattern.sub(lambda _: block, current)


def written() -> dict[Path, str]:
    config_path = ROOT / "docs" / "configuration.md"
    return {
        ROOT / "docs" / "reference.md": reference(),
        config_path: configuration(config_path.read_text()),
    }


if __name__ == "__main__":
    for path, text in written().items():
        if (path.read_text() if path.exists() else None) != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
