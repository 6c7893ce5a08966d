"""Resume from every checkpoint a run writes, epoch boundaries included: same weights and order.

12 images, batch 6, 2 epochs = 4 steps. One ModelCheckpoint keeps a checkpoint after every
step (steps 1 and 3 are mid-epoch, step 2 is the last batch of epoch 0, written before the
epoch ends), another one at every epoch end. Each resume runs the rest of the schedule and must
end with the uninterrupted run's weights, having consumed the same batches in the same order.
"""

import json
from pathlib import Path

import pytest
import torch
import yaml
from corpus_helpers import fit_config, write_caption_corpus

from rs_vlm.lightning_cli import run_lightning_cli

pytestmark = pytest.mark.slow

IMAGES, BATCH, EPOCHS = 12, 6, 2
STEPS = IMAGES // BATCH * EPOCHS
#: Checkpoints a resume can start from (the step-4 / epoch-1 ones are the finished run).
CHECKPOINTS = ['step/s1.ckpt', 'step/s2.ckpt', 'step/s3.ckpt', 'epoch/e0-s2.ckpt']


def _config(run_dir: Path, csv_path: Path, workers: int) -> Path:
    record = {
        'class_path': 'fault_callbacks.RecordBatches',
        'init_args': {'path': str(run_dir / 'batches.jsonl')},
    }
    at_epoch_end = {
        'class_path': 'lightning.pytorch.callbacks.ModelCheckpoint',
        'init_args': {
            'dirpath': str(run_dir / 'epoch'),
            'filename': 'e{epoch}-s{step}',
            'auto_insert_metric_name': False,
            'every_n_epochs': 1,
            'save_top_k': -1,
        },
    }
    path = fit_config(
        run_dir,
        csv_path,
        num_workers=workers,
        batch_size=BATCH,
        max_epochs=EPOCHS,
        every_n_steps=1,
        callbacks=[record, at_epoch_end],
    )
    config = yaml.safe_load(path.read_text(encoding='utf-8'))
    every_step = config['trainer']['callbacks'][0]['init_args']
    every_step.update(
        dirpath=str(run_dir / 'step'),
        filename='s{step}',
        auto_insert_metric_name=False,
        save_top_k=-1,
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding='utf-8')
    return path


def _records(run_dir: Path) -> list[tuple[int, int, list[str]]]:
    lines = (run_dir / 'batches.jsonl').read_text(encoding='utf-8').splitlines()
    return [(r['step'], r['epoch'], r['paths']) for r in map(json.loads, lines)]


def _final(run_dir: Path) -> dict:
    return torch.load(run_dir / 'step' / 'last.ckpt', map_location='cpu', weights_only=True)


@pytest.fixture(scope='module', params=[0, 2], ids=['workers0', 'workers2'])
def reference(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp(f'boundaries_w{request.param}')
    csv_path = write_caption_corpus(root / 'data', IMAGES)
    run_dir = root / 'reference'
    config = _config(run_dir, csv_path, request.param)
    assert run_lightning_cli(['fit', '--config', str(config)]) == 0
    torch.use_deterministic_algorithms(False)
    written = sorted(str(p.relative_to(run_dir)) for p in run_dir.glob('*/*.ckpt'))
    assert set(CHECKPOINTS) < set(written), written
    return {'root': root, 'csv': csv_path, 'run': run_dir, 'workers': request.param}


@pytest.mark.parametrize('checkpoint', CHECKPOINTS)
def test_resume_matches_the_uninterrupted_run(reference: dict, checkpoint: str) -> None:
    saved = reference['run'] / checkpoint
    start = torch.load(saved, map_location='cpu', weights_only=True)['global_step']
    run_dir = reference['root'] / f'resume_{Path(checkpoint).stem}'
    config = _config(run_dir, reference['csv'], reference['workers'])
    code = run_lightning_cli(['fit', '--config', str(config), '--ckpt_path', str(saved)])
    torch.use_deterministic_algorithms(False)
    assert code == 0
    # The resumed process ran exactly the remaining steps, in the reference's order and epochs.
    want = _records(reference['run'])
    assert _records(run_dir) == want[start:]
    assert [step for step, *_ in want] == list(range(STEPS))
    final, resumed = _final(reference['run']), _final(run_dir)
    assert resumed['global_step'] == STEPS and resumed['epoch'] == final['epoch']
    for key, value in final['state_dict'].items():
        assert torch.equal(value, resumed['state_dict'][key]), key
