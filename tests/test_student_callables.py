"""No callable of the student package, public or private, offered as a student's answer, earns a hidden point.

For every graded function of every autograded question, every public function of the student
package that can take that function's positional arguments is offered in its place (arguments
passed positionally, so parameter names do not matter), and the question's hidden cases run on it.
Any point it earns means the package ships (part of) an answer, as ``reference_one_hot`` and the
private ``a5kit.models._one_hot`` once did (a leading underscore hides nothing from a student).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Callable

import nbformat
import pytest
from conftest import ROOT

from a5kit import nbmeta, release
from a5kit.checking import LocalSubmission, load_cases, run_cases
from a5kit.checking.core import reference_module

HIDDEN = ROOT / "autograder" / "tests"
# Plumbing that moves processes, files and downloads around, not numbers: calling it with a
# student's arguments would start kernels or write files, and none of it computes an answer.
PLUMBING = {
    "a5kit.__main__",
    "a5kit._files",
    "a5kit.cache",
    "a5kit.config",
    "a5kit.data",
    "a5kit.grader.batch",
    "a5kit.grader.intake",
    "a5kit.grader.kernel_client",
    "a5kit.kernel_server.server",
    "a5kit.grader.launcher",
    "a5kit.grader.memory",
    "a5kit.grader.results",
    "a5kit.grader.runner",
    "a5kit.protocol",
    "a5kit.grader.budget",
    "a5kit.grader.notebook_run",
    "a5kit.grader.remote",
}
WRITES_FILES = {
    "a5kit.motifs.write_dataset",
    "a5kit.motifs.write_tsv",
    "a5kit.motifs.main",
    "a5kit.public_checks.stored.write",
    "a5kit.inputs.record_all",
}


def student_modules() -> list[str]:
    """The importable modules of the student package (dist/student/src/a5kit), plumbing left out."""
    names = []
    for relative in release.student_package_files(ROOT):
        if relative.suffix != ".py":
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if name not in PLUMBING:
            names.append(name)
    return names


def public_functions() -> dict[str, Callable]:
    """Every function defined in a student module, private ones included, by qualified name."""
    found = {}
    for module_name in student_modules():
        module = importlib.import_module(module_name)
        for name, func in vars(module).items():
            qualified = f"{module_name}.{name}"
            if (
                inspect.isfunction(func)
                and not name.startswith("__")
                and func.__module__ == module_name
                and qualified not in WRITES_FILES
            ):
                found[qualified] = func
    return found


def graded_functions() -> dict[str, dict[str, tuple[int, int]]]:
    """question -> {function name: (required, all) positional parameters in the solution} for every
    solution function the question's test modules name (``sub.call("name", ...)``, ``FUNCTION = "name"``)."""
    signatures: dict[str, tuple[int, int]] = {}
    for source in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(source, as_version=4).cells:
            if cell.cell_type == "code" and nbmeta.is_solution(cell):
                code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                for node in ast.parse(code).body:  # top-level functions only: not a model's forward()
                    if isinstance(node, ast.FunctionDef):
                        n = len(node.args.posonlyargs) + len(node.args.args)
                        signatures[node.name] = (n - len(node.args.defaults), n)
    graded = {}
    for path in sorted(HIDDEN.glob("q*.py")):
        called = set(
            re.findall(
                r'"(\w+)"', path.read_text() + (ROOT / "src" / "a5kit" / "public_checks" / path.name).read_text()
            )
        )
        graded[path.stem] = {name: signatures[name] for name in sorted(called) if name in signatures}
    return graded


def accepts(func: Callable, n_args: tuple[int, int]) -> bool:
    """True when ``func`` can be called with as many positional arguments as the solution takes (required to all)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    for n in range(n_args[0], n_args[1] + 1):
        try:
            signature.bind(*range(n))
            return True
        except TypeError:
            pass
    return False


def offered(candidate: Callable) -> Callable:
    """The candidate as a student's function: every argument passed positionally."""

    def answer(*args, **kwargs):
        try:
            return candidate(*args, *kwargs.values())
        except (SystemExit, KeyboardInterrupt) as err:  # a command-line helper: no answer
            raise RuntimeError(f"{type(err).__name__}") from None

    return answer


def hidden_points(question: str, namespace: dict) -> float:
    cases = [c for c in load_cases(question, HIDDEN) if c.hidden]
    return sum(r.score for r in run_cases(cases, LocalSubmission(namespace)))


@pytest.fixture
def sandbox(tiny_cache, tmp_path, monkeypatch):
    """Replay from the tiny cache (as the grader does: the model outputs the cases need come from it
    instead of running a model for every candidate), a scratch working directory and a hidden seed."""
    monkeypatch.setenv("A5KIT_MODE", "replay")
    monkeypatch.setenv("A5KIT_CACHE", str(tiny_cache))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("A5KIT_HIDDEN_SEED", "97531")
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.slow
def test_no_public_callable_of_the_student_package_earns_a_hidden_point(sandbox):
    import matplotlib.pyplot as plt

    functions = public_functions()
    offenders = []
    for question, graded in graded_functions().items():
        for name, n_args in graded.items():
            for qualified, func in functions.items():
                if accepts(func, n_args):
                    points = hidden_points(question, {name: offered(func)})
                    plt.close("all")
                    if points > 0:
                        offenders.append(f"{qualified} as {name}() earns {points:g} hidden points of {question}")
    assert offenders == []


def test_the_search_covers_every_autograded_question_and_the_student_modules():
    graded = graded_functions()
    assert set(graded) == {p.stem for p in HIDDEN.glob("q*.py")} and all(graded.values())
    assert graded["q2a"] == {"one_hot_encode_dna": (1, 1)} and graded["q2b"] == {"plot_one_hot": (1, 2)}
    functions = public_functions()
    assert "a5kit.public_checks.q4d.check_closest" in functions and "a5kit.inputs.variant_sequences" in functions
    assert not [
        n for n in functions if n.split(".")[1] in ("release", "autograder", "demo", "bench")
    ]  # not in the student package


def test_a_reference_implementation_offered_as_the_answer_is_caught(sandbox):
    """The control: the search would have caught reference_one_hot (now only on the instructor side)."""
    reference = reference_module(HIDDEN)
    assert accepts(reference.one_hot, graded_functions()["q2a"]["one_hot_encode_dna"])
    assert hidden_points("q2a", {"one_hot_encode_dna": offered(reference.one_hot)}) > 0
