import pytest

from a5kit import config


def test_mode_defaults_to_live():
    assert config.mode() == "live"


def test_unknown_mode_is_rejected_with_the_allowed_values(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "replya")
    with pytest.raises(config.ConfigError, match="live, record, replay, tiny"):
        config.mode()


@pytest.mark.parametrize(
    ("mode", "tiny_flag", "expected"),
    [("tiny", "", True), ("record", "1", True), ("record", "0", False), ("live", "1", False), ("replay", "1", False)],
)
def test_tiny_models_only_in_tiny_mode_or_tiny_record(monkeypatch, mode, tiny_flag, expected):
    monkeypatch.setenv("A5KIT_MODE", mode)
    monkeypatch.setenv("A5KIT_TINY", tiny_flag)
    assert config.use_tiny_models() is expected


# -- every A5KIT_* variable is declared in config.py and read only there ----------------------

import ast  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

SRC = Path(config.__file__).resolve().parent
READERS = {"get", "getenv", "__getitem__", "__contains__", "setdefault", "copy", "items", "keys", "values"}


def _environ_reads(tree: ast.AST) -> list[tuple[int, ast.AST | None]]:
    """(line, key expression) of each read of os.environ / os.getenv in a module (key None when not one name)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, name = node.func.value, node.func.attr
            on_environ = (isinstance(owner, ast.Attribute) and owner.attr == "environ") or (
                isinstance(owner, ast.Name) and owner.id == "environ"
            )
            if on_environ and name in ("get", "setdefault", "pop"):
                if name != "pop":  # pop restores what a helper set; it is a write
                    found.append((node.lineno, node.args[0] if node.args else None))
            elif isinstance(owner, ast.Name) and owner.id == "os" and name == "getenv":
                found.append((node.lineno, node.args[0] if node.args else None))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            value = node.value
            if (isinstance(value, ast.Attribute) and value.attr == "environ") or (
                isinstance(value, ast.Name) and value.id == "environ"
            ):
                found.append((node.lineno, node.slice))
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for right in node.comparators:
                if isinstance(right, ast.Attribute) and right.attr == "environ":
                    found.append((node.lineno, node.left))
    return found


def _a5kit_names() -> set[str]:
    """Module-level names across src/ bound to an "A5KIT_..." string (e.g. motifs.HIDDEN_SEED_ENV)."""
    names = set()
    for path in SRC.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and str(node.value.value).startswith("A5KIT_")
            ):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _names_a5kit(key: ast.AST | None, constants: set[str]) -> bool:
    if isinstance(key, ast.Constant):
        return isinstance(key.value, str) and key.value.startswith("A5KIT_")
    if isinstance(key, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and str(v.value).startswith("A5KIT_") for v in key.values[:1])
    if isinstance(key, ast.Name):
        return key.id in constants
    if isinstance(key, ast.Attribute):
        return key.attr in constants
    return False


def test_no_module_outside_config_reads_an_a5kit_variable_from_the_environment():
    constants = _a5kit_names()
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "config.py":
            continue
        for line, key in _environ_reads(ast.parse(path.read_text(), str(path))):
            if _names_a5kit(key, constants):
                offenders.append(f"{path.relative_to(SRC.parent)}:{line}")
    assert offenders == [], "read A5KIT_* variables through a5kit.config, not os.environ: " + ", ".join(offenders)


def test_the_scan_catches_the_ways_a_module_could_read_one():
    code = (
        'import os\nfrom os import environ\nX = "A5KIT_X"\n'
        'a = os.environ.get("A5KIT_MODE")\nb = os.environ["A5KIT_CACHE"]\nc = os.getenv("A5KIT_TINY")\n'
        'd = environ.get(X)\ne = "A5KIT_DEVICE" in os.environ\nos.environ["A5KIT_MODE"] = "replay"\nf = os.environ.get("HOME")\n'
    )
    reads = [line for line, key in _environ_reads(ast.parse(code)) if _names_a5kit(key, {"X"})]
    assert reads == [4, 5, 6, 7, 8]


def test_every_a5kit_variable_the_code_and_scripts_name_is_declared_in_config():
    texts = [p.read_text() for p in SRC.rglob("*.py")]
    root = SRC.parents[1]
    texts += [(root / "autograder" / name).read_text() for name in ("setup.sh", "run_autograder")] + [
        (root / "Makefile").read_text()
    ]
    named = {
        m for text in texts for m in re.findall(r"(?<!@)\bA5KIT_[A-Z0-9_]*[A-Z0-9]\b(?!@)", text)
    }  # not @@A5KIT_SPEC@@, a release token
    assert named - config.DECLARED == set(), "declare these in a5kit.config.VARIABLES (name, default, meaning)"
    assert all(v.meaning for v in config.VARIABLES) and len(config.DECLARED) == len(config.VARIABLES)


def test_an_undeclared_variable_cannot_be_read():
    with pytest.raises(KeyError, match="not declared"):
        config.get("A5KIT_NO_SUCH_THING")


def test_overriding_sets_values_for_this_process_without_touching_the_environment(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "tiny")
    with config.overriding(A5KIT_MODE="replay", A5KIT_EXPECTED=Path("/x/expected")):
        assert config.mode() == "replay" and config.expected_dir() == Path("/x/expected")
        assert os.environ["A5KIT_MODE"] == "tiny" and "A5KIT_EXPECTED" not in os.environ
        with config.overriding(A5KIT_EXPECTED=None):
            assert config.expected_dir() is None
        assert config.expected_dir() == Path("/x/expected")
    assert config.mode() == "tiny" and config.expected_dir() is None
