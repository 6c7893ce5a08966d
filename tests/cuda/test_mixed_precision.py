"""bf16-mixed and 16-mixed training steps of RemoteCLIPModule on one GPU."""

import math

import pytest
import torch
from cuda_helpers import LossRecorder, cuda_trainer, loader, pair_batches, reference_loss
from lightning.pytorch import Callback

from rs_vlm.modules import RemoteCLIPModule


@pytest.mark.parametrize(('precision', 'tolerance'), [('bf16-mixed', 3e-2), ('16-mixed', 5e-3)])
def test_mixed_precision_steps_train_in_float32_masters(precision, tolerance):
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=3)
    batches = pair_batches(module.tokenizer, 3)
    expected_first = reference_loss(module, batches[0])  # fp32 on the CPU, same weights
    before = {k: v.detach().clone() for k, v in module.model.state_dict().items()}
    recorder = LossRecorder()
    trainer = cuda_trainer(precision=precision, max_steps=3, callbacks=[recorder])
    trainer.fit(module, train_dataloaders=loader(batches))

    assert len(recorder.losses) == 3 and all(math.isfinite(x) for x in recorder.losses)
    # autocast changes rounding, not the function: the first loss matches fp32 on the CPU
    assert recorder.losses[0] == pytest.approx(expected_first, rel=tolerance)
    # the trainer moves the module back to the CPU at teardown; the steps ran on the GPU
    assert recorder.devices == ['cuda'] * 3
    parameters = dict(module.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in parameters.values())
    changed = [k for k, p in parameters.items() if not torch.equal(p.detach().cpu(), before[k])]
    assert len(changed) > len(parameters) // 2
    assert 0 <= float(module.model.logit_scale) <= math.log(100) + 1e-6
    if precision == '16-mixed':
        scaler = trainer.precision_plugin.scaler
        assert scaler is not None and math.isfinite(scaler.get_scale())
    else:
        assert getattr(trainer.precision_plugin, 'scaler', None) is None


@pytest.mark.parametrize('precision', ['bf16-mixed', '16-mixed'])
def test_nonfinite_batch_is_skipped_and_training_goes_on(precision):
    torch.manual_seed(0)
    module = RemoteCLIPModule(
        'rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=3, nonfinite_loss='skip'
    )
    batches = pair_batches(module.tokenizer, 3)
    batches[1]['image'][2] = float('nan')  # one corrupt sample poisons the contrastive loss
    snapshots = []

    class Snapshot(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            snapshots.append(
                {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
            )

    trainer = cuda_trainer(precision=precision, max_steps=3, callbacks=[Snapshot()])
    trainer.fit(module, train_dataloaders=loader(batches))
    assert len(snapshots) == 3 and module.nonfinite_guard.num_skipped == 1
    # the bad batch changed nothing; the batch after it (a fresh scaler step for fp16) did
    assert all(torch.equal(snapshots[0][k], snapshots[1][k]) for k in snapshots[0])
    assert any(not torch.equal(snapshots[1][k], snapshots[2][k]) for k in snapshots[1])
    assert all(torch.isfinite(p).all() for p in module.parameters())
