"""SIGKILL ``rs-vlm fit`` mid-epoch, resume from ``last``: same data order, LR and final weights.

The killed runs are subprocesses (they die by SIGKILL in the middle of a step, after the
backward pass and before the update); the uninterrupted reference and the resumes run the same
CLI in this process. 36 images, batch 6, 2 epochs = 12 steps; checkpoints every 4 steps; the
kill at step 9 leaves ``last.ckpt`` at step 8, i.e. 2 batches into epoch 1.
"""

import json
import signal
from pathlib import Path

import pytest
import torch
from corpus_helpers import fit_config, popen_cli, write_caption_corpus

from rs_vlm.lightning_cli import run_lightning_cli

pytestmark = pytest.mark.slow

IMAGES = 36
KILL_STEP = 9
LAST_SAVED = 8
STEPS_PER_EPOCH = 6


def _record(run_dir: Path) -> dict:
    return {
        'class_path': 'fault_callbacks.RecordBatches',
        'init_args': {'path': str(run_dir / 'batches.jsonl')},
    }


def _read_records(run_dir: Path) -> list[dict]:
    lines = (run_dir / 'batches.jsonl').read_text(encoding='utf-8').splitlines()
    return [json.loads(line) for line in lines]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('resume')
    csv_path = write_caption_corpus(root / 'data', IMAGES)
    killers = {}
    for workers in (0, 2):
        run_dir = root / f'killed_w{workers}'
        kill = {'class_path': 'fault_callbacks.KillAtStep', 'init_args': {'step': KILL_STEP}}
        config = fit_config(
            run_dir, csv_path, num_workers=workers, callbacks=[_record(run_dir), kill]
        )
        killers[workers] = (run_dir, popen_cli('fit', '--config', str(config)))
    reference = root / 'reference'
    config = fit_config(reference, csv_path, callbacks=[_record(reference)])
    assert run_lightning_cli(['fit', '--config', str(config)]) == 0
    out = {'reference': reference}
    for workers, (run_dir, process) in killers.items():
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == -signal.SIGKILL, stderr[-3000:]
        out[f'killed_w{workers}'] = run_dir
        # What survived the kill: last.ckpt (save_top_k 0 keeps no other) at step 8.
        kept = sorted(path.name for path in (run_dir / 'checkpoints').iterdir())
        assert kept == ['last.ckpt']
        last = torch.load(run_dir / 'checkpoints' / 'last.ckpt', weights_only=True)
        assert last['global_step'] == LAST_SAVED
        out[f'saved_w{workers}'] = last['state_dict']['model.visual.proj']
        resume = fit_config(run_dir, csv_path, num_workers=workers, callbacks=[_record(run_dir)])
        code = run_lightning_cli(['fit', '--config', str(resume), '--ckpt_path', 'last'])
        assert code == 0
    torch.use_deterministic_algorithms(False)  # the fits set it for this whole process
    return out


@pytest.mark.parametrize('workers', [0, 2])
def test_resumed_run_ends_with_the_uninterrupted_weights(runs: dict, workers: int) -> None:
    reference = _weights(runs['reference'] / 'checkpoints' / 'last.ckpt')
    resumed_ckpt = runs[f'killed_w{workers}'] / 'checkpoints' / 'last.ckpt'
    resumed = _weights(resumed_ckpt)
    assert torch.load(resumed_ckpt, weights_only=True)['global_step'] == 2 * STEPS_PER_EPOCH
    assert reference.keys() == resumed.keys()
    for key in reference:
        assert torch.equal(reference[key], resumed[key]), key
    # The run did train: the weights moved away from the step-8 checkpoint it resumed from.
    saved = runs[f'saved_w{workers}']
    assert not torch.equal(resumed['model.visual.proj'], saved)


@pytest.mark.parametrize('workers', [0, 2])
def test_resumed_run_continues_the_data_order_and_schedule(runs: dict, workers: int) -> None:
    reference = _read_records(runs['reference'])
    records = _read_records(runs[f'killed_w{workers}'])
    # The killed process recorded steps 0..9; its work after the step-8 checkpoint is redone
    # by the resumed process, which starts at step 8 (2 batches into epoch 1).
    killed, resumed = records[: KILL_STEP + 1], records[KILL_STEP + 1 :]
    assert [r['step'] for r in killed] == list(range(KILL_STEP + 1))
    assert [r['step'] for r in resumed] == list(range(LAST_SAVED, 2 * STEPS_PER_EPOCH))
    assert resumed[0]['epoch'] == 1 and resumed[0]['batch_idx'] == 2
    assert [r['step'] for r in reference] == list(range(2 * STEPS_PER_EPOCH))
    for got, want in zip(killed[:LAST_SAVED] + resumed, reference, strict=True):
        assert got['paths'] == want['paths'], got['step']
        assert got['lr'] == want['lr'], got['step']
    # Within each epoch every image is seen exactly once (none repeated or skipped).
    for epoch in (0, 1):
        seen = [p for r in killed[:LAST_SAVED] + resumed if r['epoch'] == epoch for p in r['paths']]
        assert sorted(seen) == sorted(f'img_{i:03d}.jpg' for i in range(IMAGES))
