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
