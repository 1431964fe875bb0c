"""Shared fixtures: paths to the small topology files in tests/fixtures."""

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
DEMOS = Path(__file__).parent.parent / "labs" / "demo"


@pytest.fixture
def fixture_text():
    def read(name: str) -> str:
        return (FIXTURES / name).read_text()

    return read


@pytest.fixture
def demo_text():
    def read(name: str) -> str:
        return (DEMOS / f"{name}.yaml").read_text()

    return read
