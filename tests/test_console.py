"""The instructor tools' one voice: info by default, --quiet for warnings and errors only, --verbose for every step."""

from __future__ import annotations

import argparse

import pytest

from a5kit import console


def said(argv: list[str], capsys) -> tuple[str, str]:
    parser = argparse.ArgumentParser()
    console.add_switch(parser)
    log = console.configure(parser.parse_args(argv))
    log.debug("a step")
    log.info("what was done")
    log.warning("something to know")
    log.error("what failed")
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_by_default_what_was_done_goes_to_stdout_and_warnings_and_errors_to_stderr(capsys):
    out, err = said([], capsys)
    assert out == "what was done\n"
    assert err == "warning: something to know\nwhat failed\n"


def test_quiet_keeps_only_warnings_and_errors(capsys):
    out, err = said(["--quiet"], capsys)
    assert out == "" and "warning: something to know" in err and "what failed" in err


def test_verbose_adds_every_step(capsys):
    out, _ = said(["-v"], capsys)
    assert out == "a step\nwhat was done\n"


def test_quiet_and_verbose_together_are_refused(capsys):
    with pytest.raises(SystemExit):
        said(["-q", "-v"], capsys)
    assert "not allowed with" in capsys.readouterr().err
