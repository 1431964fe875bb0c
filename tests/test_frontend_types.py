"""The browser app's hand-written TypeScript says what its data is: no `any` (the compiler checks
the rest when the bundle is built). The generated API types are left out."""

import re
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[1] / "frontend" / "src"
ANY = re.compile(r"(?:[:<,|(]|\bas)\s*any\b(?!\w)|\bany\[\]")


def code(line: str) -> str:
    """The line without its comment and its quoted text."""
    line = re.sub(r"`[^`]*`|\"[^\"]*\"|'[^']*'", '""', line)
    return line.split("//", 1)[0]


def test_no_any_in_the_hand_written_typescript():
    files = [p for p in SOURCES.rglob("*.ts") if p.name != "api-types.ts"]
    assert len(files) > 20
    found = [
        f"{path.relative_to(SOURCES)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ANY.search(code(line))
    ]
    assert found == []


def test_the_check_sees_an_any():
    assert ANY.search(code("  const x: any = 1;")) and ANY.search(code("f(y as any)"))
    assert ANY.search(code("let z: Record<string, any> = {};")) and ANY.search(code("w: any[]"))
    assert not ANY.search(code('  say("any document will do"); // any'))
