"""CLIPFSDPStrategy on one GPU trains exactly like the plain single-device strategy."""

import pytest
import torch
from cuda_helpers import LossRecorder, cuda_trainer, loader, pair_batches
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
from torch.distributed.fsdp import FullyShardedDataParallel

from rs_vlm.models import CLIPFSDPStrategy
from rs_vlm.modules import RemoteCLIPModule


def train(strategy, precision='32-true'):
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=3)
    recorder = LossRecorder()
    # use_distributed_sampler=False: FSDP would otherwise shuffle the batches' order
    trainer = cuda_trainer(
        strategy=strategy, precision=precision, max_steps=3, callbacks=[recorder],
        use_distributed_sampler=False,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=loader(pair_batches(module.tokenizer, 3)))
    return trainer, recorder.losses


def test_fsdp_full_shard_with_checkpointing_matches_single_device():
    torch.backends.cudnn.allow_tf32 = False  # exact float32 on both sides
    torch.backends.cuda.matmul.allow_tf32 = False
    _, reference = train('auto')
    strategy = CLIPFSDPStrategy(activation_checkpointing=True, sharding_strategy='FULL_SHARD')
    trainer, losses = train(strategy)
    wrapped = list(trainer.strategy.model.modules())
    assert sum(isinstance(m, FullyShardedDataParallel) for m in wrapped) > 2  # blocks + root
    assert any(isinstance(m, CheckpointWrapper) for m in wrapped)
    # same first loss (same weights, same batch) and the same two updates
    assert losses == pytest.approx(reference, rel=1e-4)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def test_fsdp_bf16_mixed_steps_are_finite_and_close():
    _, reference = train('auto', 'bf16-mixed')
    strategy = CLIPFSDPStrategy(activation_checkpointing=True, sharding_strategy='FULL_SHARD')
    _, losses = train(strategy, 'bf16-mixed')
    assert losses == pytest.approx(reference, rel=3e-2)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
