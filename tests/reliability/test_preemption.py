"""SIGTERM (pre-emption) during ``rs-vlm fit``: checkpoint written, exit 143, exact resume.

The signal arrives during step 3 (the last batch of epoch 1 of 3; 12 images, batch 6). The run
finishes that step, writes ``last.ckpt`` and exits 143, so ``fit && export`` stops; resuming
with ``--ckpt_path last`` ends with the weights of an uninterrupted run.
"""

import signal
from pathlib import Path

import pytest
import torch
from corpus_helpers import fit_config, run_cli, write_caption_corpus

from rs_vlm.lightning_cli import run_lightning_cli
from rs_vlm.reliability.preemption import SIGTERM_EXIT_CODE

pytestmark = pytest.mark.slow


def _weights(run_dir: Path) -> dict:
    path = run_dir / 'checkpoints' / 'last.ckpt'
    return torch.load(path, map_location='cpu', weights_only=True)


def test_sigterm_saves_exits_143_and_resumes_exactly(tmp_path: Path) -> None:
    assert SIGTERM_EXIT_CODE == 128 + signal.SIGTERM
    csv_path = write_caption_corpus(tmp_path / 'data', 12)
    term = {'class_path': 'fault_callbacks.TermAtStep', 'init_args': {'step': 3}}
    killed = tmp_path / 'killed'
    config = fit_config(killed, csv_path, max_epochs=3, every_n_steps=100, callbacks=[term])
    result = run_cli('fit', '--config', str(config))
    assert result.returncode == SIGTERM_EXIT_CODE, result.stderr[-3000:]
    assert 'stopped by SIGTERM after saving a checkpoint' in result.stderr
    saved = _weights(killed)
    assert saved['global_step'] == 4  # the step in flight was finished, then saved

    resume = fit_config(killed, csv_path, max_epochs=3, every_n_steps=100)
    assert run_lightning_cli(['fit', '--config', str(resume), '--ckpt_path', 'last']) == 0
    reference = tmp_path / 'reference'
    config = fit_config(reference, csv_path, max_epochs=3, every_n_steps=100)
    assert run_lightning_cli(['fit', '--config', str(config)]) == 0
    torch.use_deterministic_algorithms(False)
    want, got = _weights(reference), _weights(killed)
    assert got['global_step'] == want['global_step'] == 6
    for key, value in want['state_dict'].items():
        assert torch.equal(value, got['state_dict'][key]), key
