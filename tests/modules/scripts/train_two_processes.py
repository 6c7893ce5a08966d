"""Train a tiny CLIP for a few steps with 2 CPU processes (DDP or FSDP) and report as JSON.

The DDP run also compares InfoNCELoss with open_clip's ClipLoss across the two processes.

Run as ``python train_two_processes.py {ddp,fsdp} OUT_DIR PORT``; Lightning starts the second
process itself by re-running this script. Rank 0 writes ``OUT_DIR/report.json``.
"""

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from open_clip.loss import ClipLoss
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
from torch.distributed.fsdp import FullyShardedDataParallel
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from training_helpers import RandomPairsDataModule

from rs_vlm.models import CLIPFSDPStrategy
from rs_vlm.modules import InfoNCELoss, RemoteCLIPModule

WORLD = 2
GLOBAL_BATCH = 8
IN_DIM, DIM = 12, 6


def make_inputs():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(GLOBAL_BATCH, IN_DIM, generator=generator)
    texts = torch.randn(GLOBAL_BATCH, IN_DIM, generator=generator)
    w_image = torch.randn(IN_DIM, DIM, generator=generator)
    w_text = torch.randn(IN_DIM, DIM, generator=generator)
    return images, texts, w_image, w_text


def loss_and_grads(loss_fn, images, texts, w_image, w_text, scale):
    params = [w_image.clone().requires_grad_(), w_text.clone().requires_grad_()]
    log_scale = torch.tensor([scale], requires_grad=True)
    image_features = F.normalize(images @ params[0], dim=-1)
    text_features = F.normalize(texts @ params[1], dim=-1)
    loss = loss_fn(image_features, text_features, log_scale.exp())
    loss.backward()
    grads = [params[0].grad, params[1].grad, log_scale.grad]
    return loss.detach(), grads


def average(tensor):
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / WORLD


def compare_losses(rank: int) -> dict[str, object]:
    """InfoNCELoss vs open_clip ClipLoss on half a global batch per rank (needs a process group)."""
    images, texts, w_image, w_text = make_inputs()
    scale = 2.5
    local = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
    # Reference: open_clip ClipLoss on the whole batch in one process.
    full_loss, full_grads = loss_and_grads(ClipLoss(), images, texts, w_image, w_text, scale)
    results: dict[str, object] = {}
    cases = {
        'ours_local': InfoNCELoss(local_loss=True, gather_with_grad=True),
        'ours_global': InfoNCELoss(local_loss=False, gather_with_grad=True),
        'open_clip_distributed': ClipLoss(
            local_loss=False, gather_with_grad=True, rank=rank, world_size=WORLD
        ),
    }
    for name, loss_fn in cases.items():
        loss, grads = loss_and_grads(loss_fn, images[local], texts[local], w_image, w_text, scale)
        # DDP averages gradients (and we average the logged loss) over ranks.
        loss = average(loss)
        grads = [average(g) for g in grads]
        results[name] = {
            'loss': float(loss),
            'loss_diff': float((loss - full_loss).abs()),
            'grad_diff': max(float((g - f).abs().max()) for g, f in zip(grads, full_grads)),
        }
    results['full_loss'] = float(full_loss)
    results['grad_max'] = max(float(g.abs().max()) for g in full_grads)
    return results


class Recorder(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.wrapped: dict[str, int] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        modules = list(trainer.strategy.model.modules())
        self.wrapped = {
            'fsdp_units': sum(isinstance(m, FullyShardedDataParallel) for m in modules),
            'checkpointed': sum(isinstance(m, CheckpointWrapper) for m in modules),
        }

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]['lr'])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs['loss']))


def main() -> None:
    mode, out, port = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    os.environ.setdefault('MASTER_PORT', port)
    torch.manual_seed(0)
    model_name = 'rs-rn-tiny' if mode == 'fsdp' else 'rs-vit-tiny'
    module = RemoteCLIPModule(model_name, lr=1e-3, warmup_steps=1, max_steps=3, weight_decay=0.1)
    if mode == 'fsdp':
        strategy = CLIPFSDPStrategy(activation_checkpointing=True, state_dict_type='full')
    else:
        strategy = 'ddp'
    recorder = Recorder()
    trainer = Trainer(
        accelerator='cpu',
        devices=2,
        strategy=strategy,
        max_steps=3,
        limit_val_batches=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[recorder, ModelCheckpoint(dirpath=out, filename='last')],
    )
    datamodule = RandomPairsDataModule(module.tokenizer, batch_size=4, length=24)
    trainer.fit(module, datamodule)
    # Every rank must hold the same full weights after training (gradients were synchronised).
    if mode == 'fsdp':
        with FullyShardedDataParallel.summon_full_params(trainer.strategy.model, writeback=False):
            checksum = torch.stack([p.double().sum() for p in module.model.parameters()]).sum()
    else:
        checksum = torch.stack([p.double().sum() for p in module.model.parameters()]).sum()
    sums = [torch.zeros(1, dtype=torch.float64) for _ in range(2)]
    dist.all_gather(sums, checksum.reshape(1))
    losses = compare_losses(trainer.global_rank) if mode == 'ddp' else None
    if trainer.global_rank == 0:
        report = {
            'loss_comparison': losses,
            'world_size': trainer.world_size,
            'global_step': trainer.global_step,
            'losses': recorder.losses,
            'lrs': recorder.lrs,
            'wrapped': recorder.wrapped,
            'rank_checksums': [float(s) for s in sums],
            'val_loss': float(trainer.callback_metrics['val/loss']),
            'checkpoint': str(out / 'last.ckpt'),
            'model_name': model_name,
        }
        (out / 'report.json').write_text(json.dumps(report))


if __name__ == '__main__':
    main()
