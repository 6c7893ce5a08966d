"""``rs-vlm fit`` through the CLI with the caption datamodule; the shipped configs parse."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from rs_vlm.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = Path(__file__).with_name('configs') / 'tiny-fit.yaml'


@pytest.fixture
def caption_csv(tmp_path: Path) -> Path:
    """Four small JPEGs and an open_clip-style CSV (filepath, title) beside them."""
    folder = tmp_path / 'images'
    folder.mkdir()
    rows = ['filepath,title']
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    for i, colour in enumerate(colours):
        Image.new('RGB', (40, 36), colour).save(folder / f'tile_{i}.jpg')
        rows.append(f'images/tile_{i}.jpg,a tile of farmland number {i}')
    csv = tmp_path / 'train.csv'
    csv.write_text('\n'.join(rows) + '\n', encoding='utf-8')
    return csv


@pytest.mark.slow
def test_fit_via_python_m_then_in_process(caption_csv: Path, tmp_path: Path) -> None:
    root = tmp_path / 'run'
    args = [
        'fit',
        '--config',
        str(TINY_CONFIG),
        f'--data.init_args.train_csv={caption_csv}',
        f'--trainer.default_root_dir={root}',
    ]
    result = subprocess.run(
        [sys.executable, '-m', 'rs_vlm', *args, '--trainer.max_steps=2'],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert '`Trainer.fit` stopped: `max_steps=2` reached' in result.stderr
    saved = yaml.safe_load((root / 'config.yaml').read_text())
    assert saved['data']['init_args']['tokenizer'] == 'rs-vit-tiny'  # ${...} resolved
    assert saved['trainer']['max_steps'] == 2

    assert main([*args, '--trainer.fast_dev_run=true']) == 0
    # A second saving run into the same folder is not refused; its config replaces the first.
    assert main([*args, '--trainer.max_steps=1']) == 0
    assert yaml.safe_load((root / 'config.yaml').read_text())['trainer']['max_steps'] == 1


def test_missing_image_is_reported_with_its_file(
    caption_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (caption_csv.parent / 'images' / 'tile_2.jpg').unlink()
    args = [
        'fit',
        '--config',
        str(TINY_CONFIG),
        f'--data.init_args.train_csv={caption_csv}',
        f'--trainer.default_root_dir={tmp_path / "run"}',
        '--trainer.fast_dev_run=true',
        '--data.init_args.batch_size=4',
    ]
    assert main(args) == 1  # a clear error naming the file, no traceback
    error = capsys.readouterr().err
    assert re.search(r'rs-vlm fit: error: .*train\.csv, line 4: .*tile_2\.jpg', error), error


def test_unknown_model_name_fails_clearly(caption_csv: Path, capsys: pytest.CaptureFixture) -> None:
    args = [
        'fit',
        '--config',
        str(TINY_CONFIG),
        f'--data.init_args.train_csv={caption_csv}',
        '--model.init_args.model_name=ViT-Q-99',
    ]
    assert main(args) == 2  # a config error
    assert "unknown model name 'ViT-Q-99'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ('config', 'model_name', 'lr', 'batch_size'),
    [
        ('rn50.yaml', 'RN50-quickgelu', 7e-5, 256),
        ('vit-b-32.yaml', 'ViT-B-32-quickgelu', 4e-5, 256),
        ('vit-l-14.yaml', 'ViT-L-14-quickgelu', 1e-4, 28),
        ('vit-l-14-fsdp.yaml', 'ViT-L-14-quickgelu', 1e-4, 28),
    ],
)
def test_paper_configs_parse_with_the_recipe(
    config: str, model_name: str, lr: float, batch_size: int, capsys: pytest.CaptureFixture
) -> None:
    assert main(['fit', '--config', str(REPO / 'configs' / config), '--print_config']) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    model = printed['model']['init_args']
    data = printed['data']['init_args']
    assert printed['data']['class_path'] == 'rs_vlm.datamodules.PreparedMixtureDataModule'
    assert data['data_root'] == 'data' and data['mixture'] == 'corpora/mixture.json'
    callbacks = {c['class_path']: c['init_args'] for c in printed['trainer']['callbacks']}
    for factory in ('retrieval_benchmarks', 'zero_shot_benchmarks'):
        assert callbacks[f'rs_vlm.callbacks.benchmarks.{factory}']['data_root'] == 'data'
    assert (model['model_name'], model['lr'], data['batch_size']) == (model_name, lr, batch_size)
    assert data['tokenizer'] == model_name
    assert printed['trainer']['max_steps'] == 108215
    assert model['max_steps'] is None  # the LR schedule follows trainer.max_steps
    assert printed['trainer']['precision'] == '16-mixed'
    assert (data['image_size'], data['context_length']) == (224, 77)  # the model config's
    # ITRA's AdamW (itra/training/main.py): betas (0.9, 0.999), eps 1e-8, for every backbone
    assert (tuple(model['betas']), model['eps']) == ((0.9, 0.999), 1e-8)
    assert model['weight_decay'] == 0.05  # ITRA's --weight_decay default
    if 'fsdp' in config:
        strategy = printed['trainer']['strategy']
        assert strategy['class_path'] == 'rs_vlm.models.CLIPFSDPStrategy'
        assert strategy['init_args']['activation_checkpointing'] is True


def test_recipe_inputs_follow_the_model_and_the_data_root(capsys: pytest.CaptureFixture) -> None:
    # Changing only the model used to keep 224 px and crash in the model (785 vs 17 tokens).
    args = ['fit', '--config', str(REPO / 'configs' / 'vit-b-32.yaml'), '--print_config']
    args += ['--model.init_args.model_name=rs-vit-tiny', '--data.init_args.data_root=/srv/rs']
    assert main(args) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    data = printed['data']['init_args']
    assert (data['tokenizer'], data['image_size'], data['context_length']) == (
        'rs-vit-tiny',
        32,
        77,
    )
    roots = {c['init_args'].get('data_root') for c in printed['trainer']['callbacks']}
    assert roots == {'/srv/rs', None}  # both benchmark callbacks follow the one setting
    assert main([*args, '--data.init_args.image_size=64']) == 0
    assert yaml.safe_load(capsys.readouterr().out)['data']['init_args']['image_size'] == 64
