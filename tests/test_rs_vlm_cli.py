"""The ``rs-vlm`` dispatcher: commands, predict actions and their mistakes."""

import pytest

from rs_vlm.cli import main


def test_a_mistyped_predict_action_names_the_closest(capsys: pytest.CaptureFixture) -> None:
    assert main(['predict', 'clasify', '--model', 'rs-vit-tiny']) == 2
    err = capsys.readouterr().err
    assert "unknown action 'clasify' (did you mean classify?)" in err
    assert 'classify, embed, index, map, search' in err


def test_an_unknown_predict_word_lists_the_actions(capsys: pytest.CaptureFixture) -> None:
    assert main(['predict', 'zzz']) == 2
    err = capsys.readouterr().err
    assert "unknown action 'zzz'; expected one of" in err and 'did you mean' not in err


def test_predict_help_lists_the_actions_before_lightnings_options(
    capsys: pytest.CaptureFixture,
) -> None:
    assert main(['predict', '--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith('rs-vlm predict <action> [options]: classify, embed, index, map, search')
    assert '--trainer.max_steps' in out  # Lightning's own predict options follow


def test_an_unknown_command_prints_the_usage(capsys: pytest.CaptureFixture) -> None:
    assert main(['fitt']) == 2
    assert "rs-vlm: unknown command 'fitt'" in capsys.readouterr().err
