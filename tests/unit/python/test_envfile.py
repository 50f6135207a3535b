"""esg.envfile: python-dotenv's syntax, expansion, and never overriding the environment."""

import os

import pytest

from esg import envfile
from esg.errors import AppLoadError, ConfigFileError


def read(tmp_path, text):
    path = tmp_path / ".env"
    path.write_text(text)
    return envfile.read(str(path))


def test_plain_export_quoted_and_comments(tmp_path):
    values = read(tmp_path, "# comment\nA=1\nexport B=two\nC='single $A literal'\nD=value # inline\nE=\nNOEQ\n")
    assert values == {"A": "1", "B": "two", "C": "single $A literal", "D": "value", "E": ""}


def test_double_quotes_escape_expand_and_span_lines(tmp_path, monkeypatch):
    monkeypatch.delenv("ESG_UNIT_UNSET", raising=False)
    values = read(tmp_path, 'A=x\nB="tab\\tnew\\n${A} ${ESG_UNIT_UNSET:-fallback}"\nC="two\nlines"\n')
    assert values["B"] == "tab\tnew\nx fallback"
    assert values["C"] == "two\nlines"


def test_environment_wins_over_the_file_in_expansion_and_load(tmp_path, monkeypatch):
    monkeypatch.setenv("ESG_UNIT_SET", "from-env")
    monkeypatch.delenv("ESG_UNIT_NEW", raising=False)
    path = tmp_path / ".env"
    path.write_text("ESG_UNIT_SET=from-file\nESG_UNIT_NEW=${ESG_UNIT_SET}\n")
    envfile.load(str(path))
    assert os.environ["ESG_UNIT_SET"] == "from-env"
    assert os.environ["ESG_UNIT_NEW"] == "from-env"


def test_unreadable_file_names_the_option(tmp_path):
    with pytest.raises(ConfigFileError, match=r"--env-file: cannot read '.*missing'"):
        envfile.read(str(tmp_path / "missing"))
    (tmp_path / "latin1").write_bytes(b"A=\xe9\n")
    with pytest.raises(ConfigFileError, match="is not UTF-8 text"):
        envfile.read(str(tmp_path / "latin1"))
    assert issubclass(ConfigFileError, AppLoadError), "a bad --env-file is an app-load failure (exit 3)"
