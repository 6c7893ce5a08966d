"""Corpora written by `rs-vlm convert` train with open_clip's own trainer, from any directory."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rs_vlm.cli import main as rs_vlm

pytest.importorskip('open_clip_train.main', reason='open_clip training extras not installed')

REPO_ROOT = Path(__file__).resolve().parents[2]
QUAD = '10 10 20 10 20 20 10 20'

# open_clip_train.main with the package's tiny config registered (no download, no weights).
TRAIN = (
    'import sys, open_clip;'
    f'open_clip.add_model_config({str(REPO_ROOT / "rs_vlm" / "models" / "model_configs")!r});'
    'from open_clip_train.main import main;'
    'sys.exit(main(sys.argv[1:]))'
)


@pytest.mark.slow
@pytest.mark.parametrize('suffix', ['.tsv', '.csv'])
def test_open_clip_trainer_reads_a_default_corpus_from_another_directory(
    tmp_path: Path, suffix: str
) -> None:
    dataset = tmp_path / 'dataset'
    (dataset / 'labelTxt').mkdir(parents=True)
    (dataset / 'images').mkdir()
    for i in range(4):
        pixels = np.random.default_rng(i).integers(0, 256, (40, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(dataset / 'images' / f'P{i}.png')
        (dataset / 'labelTxt' / f'P{i}.txt').write_text(f'{QUAD} ship 0\n' * (i + 1))
    corpus = dataset / f'corpus{suffix}'
    args = ['convert', '--format', 'dota', '--annotations', str(dataset / 'labelTxt')]
    assert rs_vlm([*args, '--output', str(corpus), '--no-progress']) == 0
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    # The command of docs/conversion.md; a .csv corpus adds open_clip's --csv-separator ','.
    command = [
        sys.executable, '-c', TRAIN,
        '--train-data', str(corpus), '--csv-img-key', 'filepath', '--csv-caption-key', 'title',
        *(['--csv-separator', ','] if suffix == '.csv' else []),
        '--model', 'rs-vit-tiny', '--pretrained', '', '--batch-size', '2', '--epochs', '1',
        '--workers', '0', '--device', 'cpu', '--precision', 'fp32', '--warmup', '1',
        '--logs', str(tmp_path / 'logs'), '--name', 'run', '--save-frequency', '1',
    ]  # fmt: skip
    done = subprocess.run(command, cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (tmp_path / 'logs' / 'run' / 'out.log').read_text()
    assert 'Train Epoch: 0' in log and 'Contrastive_loss' in log
    assert (tmp_path / 'logs' / 'run' / 'checkpoints' / 'epoch_1.pt').is_file()
