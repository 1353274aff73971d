"""Issue 11, item 7, through the real two-process grader: a finetune() that does not train loses
q5b's points even when it fabricates falling losses or replaces the kit's probes in its kernel."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from student_user import student_user  # noqa: F401  (a fixture)
from test_runner import AS_ROOT, HIDDEN, notebook  # shared helpers of the runner tests

from a5kit import nbmeta
from a5kit.grader import results as results_mod
from a5kit.grader.kernel_client import KernelSettings
from a5kit.grader.runner import GraderSetup, Limits, grade_submission
from a5kit.grader.settings import KERNEL_MEMORY_MB

QUESTIONS = {"04_finetune": ["q5b"]}
STUDENT = ""  # the session's throw-away student user, set per test (read at call time, not import time)


@pytest.fixture(autouse=True)
def _grade_as_the_session_student(student_user):
    global STUDENT
    STUDENT = student_user


def _solution(grade_id: str) -> str:
    cell = nbmeta.find(ROOT / "solutions" / "04_finetune.ipynb", grade_id)
    return re.sub(r"(?m)^\s*### (BEGIN|END) SOLUTION\n", "", nbmeta.source(cell))


IMPORTS = (
    "import numpy as np\nimport torch\nfrom tqdm import tqdm\n"
    "from enformer_pytorch.finetune import HeadAdapterWrapper\nimport a5kit.finetune_data"
)
ADAPTER = _solution("q5a-solution")

NOISE = """
def finetune(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
    with torch.no_grad():
        for p in (model.to_tracks if freeze_enformer else model).parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return [2.0 - 0.05 * i for i in range(steps)]
"""

PROBE = """
import a5kit.kernel_server.probes as probes
_real = probes.parameters

def _moving(module):
    out = _real(module)
    return {k: v + 1.0 if k.startswith("to_tracks") or "stem.0." in k or "transformer." in k else v for k, v in out.items()}

def finetune(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
    probes.parameters = _moving
    try:
        probes.PROBES["parameters"] = _moving
    except TypeError:
        pass
    probes.run = lambda name, args, kwargs: (_moving if name == "parameters" else dict(probes.PROBES)[name])(*args, **kwargs)
    return [2.0 - 0.05 * i for i in range(steps)]
"""


def grade(tmp_path, cache, finetune_cell: str) -> dict:
    sub = tmp_path / "submission"
    sub.mkdir(parents=True)
    if AS_ROOT:
        tmp_path.chmod(0o755)
    (sub / "04_finetune.ipynb").write_text(notebook(IMPORTS, ADAPTER, finetune_cell))
    setup = GraderSetup(
        hidden_tests=HIDDEN,
        questions=QUESTIONS,
        cache=cache,
        limits=Limits(cell=60.0, question=240.0, total=400.0),
        kernel=KernelSettings(user=STUDENT, memory_mb=KERNEL_MEMORY_MB),
    )
    doc = grade_submission(sub, setup)
    results_mod.validate(doc)
    return doc


def q5b(doc: dict) -> tuple[float, str]:
    tests = [t for t in doc["tests"] if t["name"].startswith("q5b:")]
    return sum(t["score"] for t in tests), "\n".join(t["output"] for t in tests)


def test_the_reference_loop_gets_q5b_through_the_grader(tmp_path, tiny_cache):
    score, output = q5b(grade(tmp_path, tiny_cache, _solution("q5b-solution")))
    assert score == 4, output


@pytest.mark.parametrize("attack", [NOISE, PROBE], ids=["noise-and-made-up-losses", "replaced-parameters-probe"])
def test_a_loop_that_does_not_train_loses_q5b(tmp_path, tiny_cache, attack):
    score, output = q5b(grade(tmp_path, tiny_cache, attack))
    assert score <= 1, output  # at most the "one float loss per step" case: 3 of q5b's 4 points lost
    assert "recomputed" in output or "did not change" in output
