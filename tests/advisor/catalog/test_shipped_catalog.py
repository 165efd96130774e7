"""config/catalog.toml, the starting organisation catalog, imports whole over endoflife.date."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.cli import main
from tests.conftest import FIXTURES, REPO


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "advisor.toml"
    config.write_text(f'[advisor]\nstate_dir = "{tmp_path}"\n')
    monkeypatch.delenv("FLEETSIGHT_ADVISOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("FLEETSIGHT_ADVISOR_CONFIG", str(config))
    return tmp_path


def test_the_shipped_catalog_imports_without_a_rejected_entry(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["catalog", "import", "endoflife", str(FIXTURES / "endoflife")]) == 0
    capsys.readouterr()

    code = main(["catalog", "import", "org", str(REPO / "config" / "catalog.toml")])
    imported = capsys.readouterr()
    main(["catalog", "show", "libreoffice"])
    shown = capsys.readouterr().out

    assert code == 0, imported.err
    assert "rejected" not in imported.out + imported.err
    assert "dpkg:libreoffice-core" in shown
    assert "free" in shown
