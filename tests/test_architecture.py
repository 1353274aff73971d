"""docs/architecture.md's import rules between the three programs and the wire, checked on the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

SRC = ROOT / "src"
DOC = ROOT / "docs" / "architecture.md"


def _imports(package: str) -> list[tuple[str, str, bool]]:
    """(importing module, imported a5kit module, lazily) for every a5kit import in ``package`` (e.g. a5kit.checking)."""
    folder = SRC / Path(*package.split("."))
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    found = []
    for path in files:
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                names = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names]
            else:
                continue
            found += [(module, name, node.col_offset > 0) for name in names if name.startswith("a5kit")]
    return found


def _is_module(name: str) -> bool:
    path = SRC / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


def _into(package: str, target: str) -> list[tuple[str, str, bool]]:
    return [(m, n, lazy) for m, n, lazy in _imports(package) if n == target or n.startswith(target + ".")]


def test_the_rules_are_stated_in_the_architecture_document():
    text = re.sub(r"\s+", " ", DOC.read_text())
    assert "`checking` never imports `grader` or `protocol`" in text
    assert "`protocol` imports only `checking.plain` of the kit" in text
    assert "`kernel_server` imports `protocol` and `checking`" in text and "never `grader`" in text
    assert "never `kernel_server`" in text


def test_checking_imports_neither_the_grader_nor_the_wire():
    assert _into("a5kit.checking", "a5kit.grader") == [] and _into("a5kit.checking", "a5kit.protocol") == []


@pytest.mark.parametrize(
    ("target", "allowed"),
    [("a5kit.kernel_server", "a5kit.kernel_server.probes"), ("a5kit.public_checks", "a5kit.public_checks.stored")],
)
def test_checking_imports_only_one_module_of_the_server_and_of_the_content_and_only_lazily(target, allowed):
    found = _into("a5kit.checking", target)
    assert found and all(name == allowed and lazy for _, name, lazy in found), found


def test_the_wire_imports_only_plain_data_of_the_kit():
    assert {name for _, name, _ in _imports("a5kit.protocol")} == {"a5kit.checking.plain"}


def test_the_kernel_server_never_imports_the_grader():
    assert _into("a5kit.kernel_server", "a5kit.grader") == []


def test_the_grader_never_imports_the_kernel_server():
    assert _into("a5kit.grader", "a5kit.kernel_server") == []


def test_only_nbmeta_reads_nbgrader_cell_metadata():
    """nbmeta is the only reader of nbgrader cell metadata (the "nbgrader" key of a cell's metadata)."""
    readers = [
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if re.search(r"""\[["']nbgrader["']\]|get\(["']nbgrader["']""", p.read_text()) and p.name != "nbmeta.py"
    ]
    assert readers == []
