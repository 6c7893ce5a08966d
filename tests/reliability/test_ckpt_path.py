"""``rs-vlm fit|validate --ckpt_path``: hostile and broken files, hyper-parameter precedence.

A checkpoint's ``hyper_parameters`` reach the config parser; a file that passes
``weights_only`` loading must still not make it import a class the config does not name, and
must not override what the user set. Broken files must end in one clear error naming them.
"""

import os
import sys
from pathlib import Path

import pytest
import torch
from corpus_helpers import fit_config, write_caption_corpus

from rs_vlm.lightning_cli import RSVLMLightningCLI, run_lightning_cli

pytestmark = pytest.mark.slow


class _Planted:
    """A harmless object whose pickle calls ``os.system`` (a classic malicious checkpoint)."""

    def __reduce__(self) -> tuple:
        return (os.system, ('true',))


@pytest.fixture(scope='module')
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('ckpt_path')
    csv_path = write_caption_corpus(root / 'data', 12)
    config = fit_config(root / 'run', csv_path, max_epochs=1)
    assert run_lightning_cli(['fit', '--config', str(config)]) == 0
    torch.use_deterministic_algorithms(False)
    return {'root': root, 'csv': csv_path, 'ckpt': root / 'run' / 'checkpoints' / 'last.ckpt'}


def _variant(trained: dict, name: str, **hparams: object) -> Path:
    checkpoint = torch.load(trained['ckpt'], map_location='cpu', weights_only=True)
    checkpoint['hyper_parameters'].update(hparams)
    path = trained['root'] / name
    torch.save(checkpoint, path)
    return path


def _run(trained: dict, run: str, *extra: str, epochs: int = 1) -> int:
    config = fit_config(trained['root'] / run, trained['csv'], max_epochs=epochs)
    code = run_lightning_cli(['fit', '--config', str(config), *extra])
    torch.use_deterministic_algorithms(False)
    return code


@pytest.mark.parametrize('key', ['_class_path', 'model_config'])
def test_class_path_in_hyperparameters_is_not_imported(
    trained, tmp_path, monkeypatch, capsys, key
) -> None:
    marker = tmp_path / 'imported'
    module = tmp_path / 'planted_module.py'
    module.write_text(f'open({str(marker)!r}, "w").close()\nclass Thing:\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop('planted_module', None)
    if key == '_class_path':
        planted: object = 'planted_module.Thing'
        expected = "was written by model class 'planted_module.Thing'"
    else:
        planted = {'class_path': 'planted_module.Thing', 'init_args': {}}
        expected = "names class 'planted_module.Thing', which the config does not name"
    path = _variant(trained, f'planted{key}.ckpt', **{key: planted})
    assert _run(trained, f'planted{key}', '--ckpt_path', str(path)) == 1
    error = capsys.readouterr().err
    assert f"{path}, key 'hyper_parameters.{key}'" in error
    assert expected in error
    assert not marker.exists()
    assert 'planted_module' not in sys.modules


def test_checkpoint_of_another_model_class_is_refused(trained, capsys) -> None:
    path = _variant(trained, 'other.ckpt', _class_path='calendar.TextCalendar')
    assert _run(trained, 'other', '--ckpt_path', str(path)) == 1
    error = capsys.readouterr().err
    assert "was written by model class 'calendar.TextCalendar'" in error and str(path) in error


def test_interpolation_in_hyperparameters_is_refused(trained, capsys) -> None:
    path = _variant(trained, 'interp.ckpt', pretrained='${oc.env:HOME}/weights.pt')
    assert _run(trained, 'interp', '--ckpt_path', str(path)) == 1
    error = capsys.readouterr().err
    assert "key 'hyper_parameters.pretrained': hyper-parameter holds a ${...}" in error


def test_explicit_values_win_and_checkpoint_fills_the_rest(trained, caplog) -> None:
    """--model.init_args.lr=0.123 stays 0.123; warmup_steps, left at the config's default,
    is taken from the checkpoint (written with 7)."""
    path = _variant(trained, 'hp.ckpt', lr=0.001, warmup_steps=7)
    config = fit_config(trained['root'] / 'hp', trained['csv'], max_epochs=1)
    text = config.read_text(encoding='utf-8').replace('warmup_steps: 3', '')
    config.write_text(text, encoding='utf-8')
    cli = RSVLMLightningCLI(
        args=[
            'fit',
            '--config',
            str(config),
            '--model.init_args.lr=0.123',
            '--ckpt_path',
            str(path),
        ]
    )
    torch.use_deterministic_algorithms(False)
    assert cli.model.hparams.lr == 0.123
    assert cli.model.hparams.warmup_steps == 7
    assert cli.model.hparams.model_name == 'rs-vit-tiny'
    assert 'sets model lr=0.123; the checkpoint was trained with 0.001' in caplog.text


@pytest.mark.parametrize(
    ('name', 'content', 'expected'),
    [
        ('empty.ckpt', b'', 'not a readable torch checkpoint'),
        ('one_byte.ckpt', b'P', 'not a readable torch checkpoint (1 bytes'),
        ('truncated.ckpt', None, 'not a readable torch checkpoint'),
        ('pickle.ckpt', 'pickle', 'refused to unpickle'),
    ],
)
def test_broken_checkpoint_files_name_the_file(trained, capsys, name, content, expected) -> None:
    path = trained['root'] / name
    if content is None:
        data = trained['ckpt'].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif content == 'pickle':
        torch.save({'state_dict': {}, 'payload': _Planted()}, path)
    else:
        path.write_bytes(content)
    for command in ('fit', 'validate'):
        config = fit_config(trained['root'] / f'broken_{command}', trained['csv'], max_epochs=1)
        assert run_lightning_cli([command, '--config', str(config), '--ckpt_path', str(path)]) == 1
        error = capsys.readouterr().err
        assert f'rs-vlm {command}: error: {path}: {expected}' in error
        assert 'Traceback' not in error


def test_ckpt_path_last_without_a_checkpoint_is_an_error(trained, capsys) -> None:
    assert _run(trained, 'fresh', '--ckpt_path', 'last') == 1
    error = capsys.readouterr().err
    assert '--ckpt_path last: no last checkpoint found' in error
    assert str(trained['root'] / 'fresh' / 'checkpoints') in error
    assert not (trained['root'] / 'fresh' / 'checkpoints').exists()  # nothing was trained


def test_missing_checkpoint_file_is_named(trained, capsys) -> None:
    missing = trained['root'] / 'nope.ckpt'
    assert _run(trained, 'missing', '--ckpt_path', str(missing)) == 1
    assert f'{missing}: no such checkpoint file' in capsys.readouterr().err
