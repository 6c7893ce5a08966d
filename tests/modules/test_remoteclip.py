"""RemoteCLIPModule: training, validation without a val set, bf16, locking, resume, predict."""

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from training_helpers import RandomPairsDataModule

from rs_vlm.modules import RemoteCLIPModule


def _trainer(max_steps: int, **kwargs: object) -> Trainer:
    options = {
        'accelerator': 'cpu',
        'max_steps': max_steps,
        'logger': False,
        'enable_checkpointing': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'limit_val_batches': 1,
    }
    options.update(kwargs)
    return Trainer(**options)


class StepRecorder(Callback):
    """Global step and learning rate at the start of every training batch."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.lrs: list[float] = []
        self.losses: list[float] = []

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: object, batch_idx: int
    ) -> None:
        self.steps.append(trainer.global_step)
        self.lrs.append(trainer.optimizers[0].param_groups[0]['lr'])

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: dict, batch: object, i: int
    ) -> None:
        self.losses.append(float(outputs['loss']))


@pytest.mark.slow
def test_training_updates_weights_and_clamps_logit_scale() -> None:
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=1)
    with torch.no_grad():
        module.model.logit_scale.fill_(5.0)  # above ln(100); one Adam step moves it by ~1e-3
    before = module.model.visual.conv1.weight.detach().clone()
    datamodule = RandomPairsDataModule(module.tokenizer, val=False)
    trainer = _trainer(1)
    trainer.fit(module, datamodule)
    assert trainer.global_step == 1
    assert not torch.equal(before, module.model.visual.conv1.weight)
    assert float(module.model.logit_scale.detach()) == pytest.approx(math.log(100))
    assert 'train/loss' in trainer.callback_metrics
    assert 'val/loss' not in trainer.callback_metrics  # no val set, no validation


def test_validation_loss_is_the_infonce_of_the_val_batch() -> None:
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny').eval()
    datamodule = RandomPairsDataModule(module.tokenizer, batch_size=4, length=4)
    trainer = _trainer(1)
    metrics = trainer.validate(module, datamodule, verbose=False)[0]
    batch = next(iter(datamodule.val_dataloader()))
    with torch.no_grad():
        images = module.encode_images(batch['image'])
        texts = module.encode_texts(batch['text'])
        logits = module.model.logit_scale.exp() * images @ texts.T
    labels = torch.arange(4)
    expected = (
        torch.nn.functional.cross_entropy(logits, labels)
        + torch.nn.functional.cross_entropy(logits.T, labels)
    ) / 2
    assert metrics['val/loss'] == pytest.approx(float(expected), abs=1e-5)


def test_bf16_mixed_on_cpu_runs_in_bfloat16() -> None:
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=2)
    dtypes = []
    module.loss_fn.register_forward_hook(lambda mod, args, out: dtypes.append(args[0].dtype))
    trainer = _trainer(2, precision='bf16-mixed')
    trainer.fit(module, RandomPairsDataModule(module.tokenizer, val=False))
    assert trainer.global_step == 2
    assert dtypes == [torch.bfloat16, torch.bfloat16]
    assert module.model.visual.conv1.weight.dtype == torch.float32  # master weights stay fp32
    assert math.isfinite(float(trainer.callback_metrics['train/loss']))


def test_predict_returns_normalised_embeddings() -> None:
    module = RemoteCLIPModule('rs-rn-tiny').eval()
    datamodule = RandomPairsDataModule(module.tokenizer, batch_size=4, length=8)
    outputs = _trainer(1).predict(module, datamodule)
    assert len(outputs) == 2
    first = outputs[0]
    assert first['image_features'].shape == (4, 64)
    torch.testing.assert_close(first['image_features'].norm(dim=-1), torch.ones(4))
    batch = next(iter(datamodule.predict_dataloader()))
    with torch.no_grad():
        expected = module.model.encode_text(batch['text'])
    torch.testing.assert_close(
        first['text_features'], expected / expected.norm(dim=-1, keepdim=True)
    )
    assert first['index'].tolist() == [0, 1, 2, 3]


def test_lock_image_tower_trains_only_text() -> None:
    module = RemoteCLIPModule('rs-vit-tiny', lock_image=True, lr=1e-2, warmup_steps=1, max_steps=1)
    assert not any(p.requires_grad for p in module.model.visual.parameters())
    visual_before = {k: v.clone() for k, v in module.model.visual.state_dict().items()}
    text_before = module.model.token_embedding.weight.detach().clone()
    _trainer(1).fit(module, RandomPairsDataModule(module.tokenizer, val=False))
    for key, value in module.model.visual.state_dict().items():
        assert torch.equal(value, visual_before[key]), key
    assert not torch.equal(module.model.token_embedding.weight, text_before)


def test_partial_locking() -> None:
    module = RemoteCLIPModule(
        'rs-vit-tiny',
        lock_image=True,
        lock_image_unlocked_groups=2,
        lock_text=True,
        lock_text_unlocked_layers=2,
        max_steps=10,
    )
    model = module.model
    # Image groups from the end: proj, then [last block, ln_post].
    assert model.visual.proj.requires_grad
    assert model.visual.ln_post.weight.requires_grad
    assert all(p.requires_grad for p in model.visual.transformer.resblocks[-1].parameters())
    assert not any(p.requires_grad for p in model.visual.transformer.resblocks[0].parameters())
    assert not model.visual.conv1.weight.requires_grad
    # Text groups from the end (open_clip's order): text_projection, [last block, ln_final].
    assert model.text_projection.requires_grad
    assert model.ln_final.weight.requires_grad
    assert all(p.requires_grad for p in model.transformer.resblocks[-1].parameters())
    assert not any(p.requires_grad for p in model.transformer.resblocks[0].parameters())
    assert not model.token_embedding.weight.requires_grad
    optimizer = module.configure_optimizers()['optimizer']
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group['params']}
    assert in_optimizer == {id(p) for p in module.parameters() if p.requires_grad}


def test_partial_locking_of_a_resnet_is_refused() -> None:
    with pytest.raises(ValueError, match='must be 0 for ResNet'):
        RemoteCLIPModule('rs-rn-tiny', lock_image=True, lock_image_unlocked_groups=1)


@pytest.mark.slow
def test_grad_checkpointing_gives_the_same_gradients() -> None:
    torch.manual_seed(0)
    plain = RemoteCLIPModule('rs-vit-tiny')
    checkpointed = RemoteCLIPModule('rs-vit-tiny', grad_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    assert checkpointed.model.transformer.grad_checkpointing
    assert checkpointed.model.visual.transformer.grad_checkpointing
    assert not plain.model.transformer.grad_checkpointing
    batch = next(iter(RandomPairsDataModule(plain.tokenizer).train_dataloader()))
    for module in (plain, checkpointed):
        module.train()
        module.loss_fn(*module(batch['image'], batch['text'])).backward()
    for (name, p1), (_, p2) in zip(plain.named_parameters(), checkpointed.named_parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-5, atol=1e-6, msg=name)


def test_model_config_dict(tmp_path: Path) -> None:
    config = {
        'embed_dim': 32,
        'vision_cfg': {
            'image_size': 16,
            'layers': 1,
            'width': 32,
            'head_width': 16,
            'patch_size': 8,
        },
        'text_cfg': {
            'context_length': 12,
            'vocab_size': 49408,
            'width': 32,
            'heads': 2,
            'layers': 1,
        },
    }
    module = RemoteCLIPModule('test-micro-clip', model_config=config)
    assert module.tokenizer(['a small harbour']).shape == (1, 12)
    features = module.encode_images(torch.randn(2, 3, 16, 16))
    assert features.shape == (2, 32)
    assert module.hparams.model_config == config


@pytest.mark.slow
def test_resume_continues_at_the_same_step_and_lr(tmp_path: Path) -> None:
    # 2 batches per epoch and no shuffling: the first resumed step sees the same batch as the
    # uninterrupted run, so restored weights give the same loss. (Later batches may differ:
    # Lightning replays the data of an epoch that a checkpoint closed.)
    def make() -> RemoteCLIPModule:
        torch.manual_seed(0)
        return RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=2, max_steps=4)

    straight = make()
    straight_steps = StepRecorder()
    _trainer(4, callbacks=[straight_steps], limit_val_batches=0).fit(
        straight, RandomPairsDataModule(straight.tokenizer, length=8)
    )

    first = make()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, filename='step2')
    _trainer(2, callbacks=[checkpoint], enable_checkpointing=True, limit_val_batches=0).fit(
        first, RandomPairsDataModule(first.tokenizer, length=8)
    )
    resumed = make()
    resumed_steps = StepRecorder()
    trainer = _trainer(4, callbacks=[resumed_steps], limit_val_batches=0)
    trainer.fit(
        resumed,
        RandomPairsDataModule(resumed.tokenizer, length=8),
        ckpt_path=tmp_path / 'step2.ckpt',
    )
    assert resumed_steps.steps == [2, 3]
    assert straight_steps.lrs[2:] == pytest.approx([1e-3, 1e-3 * 0.5 * (1 + math.cos(math.pi / 2))])
    assert resumed_steps.lrs == pytest.approx(straight_steps.lrs[2:])
    assert trainer.global_step == 4
    assert resumed_steps.losses[0] == pytest.approx(straight_steps.losses[2], rel=1e-6)
    optimizer_state = trainer.optimizers[0].state_dict()['state']
    assert all(int(state['step']) == 4 for state in optimizer_state.values())


@pytest.mark.parametrize(('accumulate', 'backwards_seen'), [(1, [1, 2]), (2, [0, 1, 2, 3])])
def test_loss_check_waits_for_backward_unless_accumulating(
    quiet_trainer, accumulate, backwards_seen
) -> None:
    """The non-finite loss check reads the loss once backward is queued (no device idle
    between forward and backward); with gradient accumulation it checks before backward."""
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=2)
    backwards = 0
    seen: list[int] = []

    class CountBackward(Callback):
        def on_after_backward(self, trainer, pl_module) -> None:
            nonlocal backwards
            backwards += 1

    check = module.nonfinite_guard.check

    def recording_check(loss, batch, **kwargs):
        seen.append(backwards)
        return check(loss, batch, **kwargs)

    module.nonfinite_guard.check = recording_check
    trainer = quiet_trainer(
        max_steps=2,
        limit_val_batches=0,
        accumulate_grad_batches=accumulate,
        callbacks=[CountBackward()],
    )
    trainer.fit(module, RandomPairsDataModule(module.tokenizer, batch_size=4, length=16))
    assert trainer.global_step == 2
    assert seen == backwards_seen  # one check per micro-batch


@pytest.mark.parametrize('model_name', ['rs-vit-tiny', 'rs-rn-tiny'])
def test_images_of_another_size_than_the_model_are_a_config_error(model_name: str) -> None:
    from rs_vlm.errors import ConfigError

    module = RemoteCLIPModule(model_name)
    tokens = module.tokenizer(['a harbour', 'a forest'])
    batch = {'image': torch.zeros(2, 3, 224, 224), 'text': tokens}
    with pytest.raises(ConfigError, match=f"224x224 px, but model '{model_name}' takes 32x32 px"):
        module.training_step(batch, 0)
    good = {'image': torch.zeros(2, 3, 32, 32), 'text': tokens}
    assert torch.isfinite(module.validation_step(good, 0))
