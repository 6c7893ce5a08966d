"""16-mixed: the GradScaler's state goes into the checkpoint and comes back on resume."""

import torch
from cuda_helpers import cuda_trainer, loader, pair_batches
from lightning.pytorch import Callback
from lightning.pytorch.plugins.precision import MixedPrecision

from rs_vlm.modules import RemoteCLIPModule


def fp16_plugin() -> MixedPrecision:
    # growth_interval=1 doubles the scale after every finite step: 1024 -> 8192 after 3 steps
    scaler = torch.amp.GradScaler('cuda', init_scale=1024.0, growth_interval=1)
    return MixedPrecision('16-mixed', 'cuda', scaler=scaler)


class ScaleAtStart(Callback):
    def __init__(self) -> None:
        self.scale: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self.scale = trainer.precision_plugin.scaler.get_scale()


def test_grad_scaler_state_survives_checkpoint_and_resume(tmp_path):
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=4)
    batches = pair_batches(module.tokenizer, 3)
    plugin = fp16_plugin()
    trainer = cuda_trainer(plugins=[plugin], max_steps=3)
    trainer.fit(module, train_dataloaders=loader(batches))
    assert plugin.scaler.get_scale() == 8192.0  # three finite steps, each doubling 1024
    path = tmp_path / 'fp16.ckpt'
    trainer.save_checkpoint(path)

    saved = torch.load(path, map_location='cpu', weights_only=False)
    assert saved['MixedPrecision']['scale'] == 8192.0
    assert saved['MixedPrecision']['growth_interval'] == 1

    resumed_plugin = fp16_plugin()
    probe = ScaleAtStart()
    resumed = cuda_trainer(plugins=[resumed_plugin], max_steps=4, callbacks=[probe])
    fresh = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=4)
    resumed.fit(fresh, train_dataloaders=loader(batches), ckpt_path=path)
    assert probe.scale == 8192.0  # restored, not the new scaler's 1024
    assert resumed.global_step == 4
    assert resumed_plugin.scaler.get_scale() == 16384.0  # one more finite step
