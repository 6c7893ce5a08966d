"""Config files with unknown keys: the error names the key and the closest valid one."""

from pathlib import Path

import pytest
import yaml

from rs_vlm.lightning_cli import run_lightning_cli
from rs_vlm.reliability.config_keys import class_init_keys, suggest_config_keys

MODEL = {
    'class_path': 'rs_vlm.modules.RemoteCLIPModule',
    'init_args': {'model_name': 'rs-vit-tiny'},
}
DATA = {'class_path': 'rs_vlm.datamodules.CaptionDataModule', 'init_args': {'batch_size': 2}}


def _run(tmp_path: Path, config: dict, capsys: pytest.CaptureFixture) -> str:
    path = tmp_path / 'config.yaml'
    path.write_text(yaml.safe_dump(config), encoding='utf-8')
    assert run_lightning_cli(['fit', '--config', str(path)]) != 0
    return capsys.readouterr().err


def test_unknown_init_arg_names_the_closest(tmp_path: Path, capsys) -> None:
    model = {**MODEL, 'init_args': {'model_name': 'rs-vit-tiny', 'warmup_step': 5}}
    err = _run(tmp_path, {'model': model, 'data': DATA}, capsys)
    assert "unknown key 'warmup_step'" in err
    assert "did you mean 'warmup_steps'" in err  # closest first


@pytest.mark.torchgeo
def test_unknown_datamodule_arg_names_the_closest(tmp_path: Path, capsys) -> None:
    data = {**DATA, 'init_args': {'batchsize': 2}}
    err = _run(tmp_path, {'model': MODEL, 'data': data}, capsys)
    assert "unknown key 'batchsize' in rs_vlm.datamodules.CaptionDataModule" in err
    assert "'batch_size'" in err


def test_unknown_trainer_key_names_the_closest(tmp_path: Path, capsys) -> None:
    err = _run(tmp_path, {'trainer': {'max_step': 3}, 'model': MODEL, 'data': DATA}, capsys)
    assert "unknown key 'trainer.max_step'" in err
    assert "did you mean 'trainer.max_steps'" in err


def test_unknown_top_level_section_names_the_closest(tmp_path: Path, capsys) -> None:
    err = _run(tmp_path, {'modle': MODEL, 'data': DATA}, capsys)
    assert "unknown key 'modle" in err and "'model'" in err


def test_hint_says_when_nothing_is_close() -> None:
    message = (
        "Problem with given class_path 'rs_vlm.modules.RemoteCLIPModule':\n"
        "        Option 'zzzqqq' is not accepted"
    )
    assert suggest_config_keys(message) == [
        "unknown key 'zzzqqq' in rs_vlm.modules.RemoteCLIPModule init_args: "
        'no valid key is close to it'
    ]
    assert 'lr' in class_init_keys('rs_vlm.modules.RemoteCLIPModule')
    assert class_init_keys('no_such_module.Thing') == []
