"""deploy/GUIDE.md, executed: every fenced block is a file to write, commands to run, servers to start,
an nginx configuration, a systemctl session or Kubernetes manifests, as its `test=` info string says (the
guide's "How the snippets are tested" documents the kinds). A block this file does not recognise fails
test_every_block_is_tested, so the guide cannot grow an untested snippet.

Each `##` section runs on a fresh "machine" (tools/guide_machine.py): a short temporary directory standing for
`/`, where /srv/esg/current is the project directory and the built esg, esgctl, python, gunicorn and circus are
on PATH; the only changes to a snippet are the paths and ports a user would change (Machine.sub).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))

from deploy_support import REPO  # noqa: E402
from guide_machine import Machine  # noqa: E402

GUIDE = REPO / "deploy" / "GUIDE.md"
KINDS = ("file", "run", "serve", "nginx", "systemctl", "kubernetes")


@dataclass
class Block:
    line: int            # where the block starts in GUIDE.md (1-based)
    lang: str
    kind: str | None
    attrs: dict
    text: str

    def where(self) -> str:
        return f"deploy/GUIDE.md:{self.line} ({self.lang} test={self.kind})"


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)


def parse_guide(path: Path = GUIDE) -> list[Section]:
    sections = [Section("(top)")]
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            sections.append(Section(line[3:].strip()))
        elif line.startswith("```"):
            words = shlex.split(line[3:])
            attrs = dict(word.split("=", 1) for word in words[1:] if "=" in word)
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"deploy/GUIDE.md: the block at line {len(lines)} is not closed"
            kind = attrs.pop("test", None)
            sections[-1].blocks.append(Block(i - len(body), words[0] if words else "", kind, attrs,
                                             "\n".join(body) + "\n"))
        i += 1
    return sections


SECTIONS = parse_guide()
RUNNABLE = [s.title for s in SECTIONS if any(b.kind != "file" for b in s.blocks)]


def test_every_block_is_tested():
    blocks = [b for s in SECTIONS for b in s.blocks]
    assert len(blocks) > 20, "the guide lost its snippets?"
    unknown = [b.where() for b in blocks if b.kind not in KINDS]
    assert not unknown, f"blocks without a test= kind this test knows ({', '.join(KINDS)}): {unknown}"
    assert all(b.attrs.get("name") for b in blocks if b.kind == "file"), "test=file needs name="
    for title in ("The command line", "From Python: `esg.run`", "Gunicorn", "Supervisor", "Circus", "Behind nginx",
                  "HTTPS", "systemd", "Kubernetes", "Releases and rollback", "A fleet"):
        assert title in RUNNABLE, f"the guide has no runnable section {title!r}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("title", RUNNABLE)
def test_section(title, tmp_path):
    earlier_files = []
    for section in SECTIONS:
        if section.title == title:
            break
        earlier_files += [b for b in section.blocks if b.kind == "file"]
    section = next(s for s in SECTIONS if s.title == title)
    machine = Machine(tmp_path)
    try:
        for block in earlier_files:
            machine.write_file(block.attrs["name"], block.text)
        for block in section.blocks:
            try:
                if block.kind == "file":
                    machine.write_file(block.attrs["name"], block.text)
                else:
                    getattr(machine, block.kind)(block.text, **block.attrs)
            except AssertionError as error:
                raise AssertionError(f"{block.where()}:\n{block.text}\n{error}") from None
            except pytest.fail.Exception as error:
                pytest.fail(f"{block.where()}:\n{block.text}\n{error}", pytrace=False)
    finally:
        machine.close()


def test_substitutions_are_paths_and_ports_only(tmp_path):
    """What Machine.sub changes in a snippet: the documented paths and ports, nothing else."""
    machine = Machine(tmp_path)
    try:
        text = "esg example:app --port 8000 --uds /run/esg/a.sock # 18000 /srv/esgx"
        out = machine.sub(text)
        assert out == (f"esg example:app --port {machine.ports[8000]} --uds {machine.root}/run/esg/a.sock # 18000 "
                       f"{machine.root}/srv/esgx"), out
    finally:
        machine.close()
