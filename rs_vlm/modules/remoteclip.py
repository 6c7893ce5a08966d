"""``RemoteCLIPModule``: contrastive training of an open_clip dual encoder with Lightning."""

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from open_clip.modified_resnet import ModifiedResNet
from torch import Tensor
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR

from rs_vlm.errors import ConfigError
from rs_vlm.models.factory import create_clip, get_tokenizer
from rs_vlm.modules.loss import InfoNCELoss
from rs_vlm.modules.optim import WarmupCosineSchedule, no_weight_decay_names, param_groups
from rs_vlm.reliability.dataloader_resume import apply_pending_dataloader_state
from rs_vlm.reliability.nonfinite_loss import NonFiniteLossGuard, NonFinitePolicy
from rs_vlm.reliability.skipped_inputs import EmptyBatchGuard
from rs_vlm.skipped_batches import is_all_skipped

__all__ = ['RemoteCLIPModule']


class RemoteCLIPModule(LightningModule):
    """Train or fine-tune a CLIP model (RemoteCLIP recipe) on image-caption batches.

    Batches are ``{'image': normalised float [B, 3, H, W], 'text': Long [B, L]}``: the
    datamodule normalises and augments in ``on_after_batch_transfer`` (torchgeo style). The loss
    is the symmetric InfoNCE of open_clip's ``ClipLoss`` with features gathered across ranks
    (:class:`~rs_vlm.modules.loss.InfoNCELoss`); ``logit_scale`` is clamped to ``[0, ln 100]``
    after every step, as open_clip does.

    Args:
        model_name: open_clip model name (``RN50``, ``ViT-B-32``, ``ViT-L-14``, ``-quickgelu``
            variants, ``rs-vit-tiny``, ``rs-rn-tiny``) or the name for ``model_config``.
        model_config: An open_clip model config dict or JSON path, registered as ``model_name``.
        pretrained: Initial weights: a local file in any supported layout (open_clip
            state_dict / RemoteCLIP release, raw training checkpoint, our ``.ckpt``) or an
            open_clip pretrained tag (may download). Random weights when None. To resume a
            run use the trainer's ``ckpt_path`` instead.
        force_quick_gelu: Use QuickGELU (OpenAI and RemoteCLIP weights were trained with it).
        lr: Peak learning rate (paper: RN50 7e-5, ViT-B-32 4e-5, ViT-L-14 1e-4).
        weight_decay: AdamW weight decay (not applied to gains, biases, logit_scale,
            embeddings).
        betas: AdamW betas.
        eps: AdamW epsilon.
        warmup_steps: Linear warm-up steps before the cosine decay.
        max_steps: Length of the schedule in optimiser steps; None uses
            ``trainer.estimated_stepping_batches``.
        lock_image: Freeze the image tower.
        lock_image_unlocked_groups: Leave the last N layer groups of a ViT image tower
            trainable; groups from the end are ``proj``, ``[last block, ln_post]``, the other
            blocks, the stem (open_clip's order; must be 0 for ResNets).
        lock_image_freeze_bn_stats: Also freeze BatchNorm statistics of a locked ResNet.
        lock_text: Freeze the text tower.
        lock_text_unlocked_layers: Leave the last N text layer groups trainable; groups from
            the end are ``text_projection``, ``[last block, ln_final]``, the other blocks, the
            embeddings (open_clip's order).
        grad_checkpointing: Recompute transformer activations in backward (open_clip's
            ``set_grad_checkpointing``; a no-op for ResNet image towers).
        local_loss: Score local rows against gathered columns (memory linear in the batch).
        gather_with_grad: Back-propagate through the feature gather.
        logit_scale_max: Upper clamp of ``logit_scale`` (ln 100).
        nonfinite_loss: On a NaN/inf training loss, ``'raise'`` (stop, naming the batch's
            source files) or ``'skip'`` (no update for that batch; counted, warned and logged
            as ``train/nonfinite_skipped``).
        nonfinite_max_skipped_fraction: With ``'skip'``, stop with an error once more than
            this fraction of the steps had to be skipped (after 3 skips, and at the end of
            training): a run that skips most steps is diverging, not training. The same
            fraction bounds the steps skipped because every image of their batch was unreadable
            (datamodule ``on_error='skip'``; counted apart, logged as
            ``train/empty_batches_skipped``).

    Raises:
        ValueError: A negative or non-finite ``lr``, ``weight_decay`` or ``warmup_steps``,
            ``eps`` not positive, ``max_steps`` below 1, betas outside ``[0, 1)``.
    """

    def __init__(
        self,
        model_name: str = 'ViT-B-32',
        model_config: dict[str, Any] | str | None = None,
        pretrained: str | None = None,
        force_quick_gelu: bool = False,
        lr: float = 4e-5,
        weight_decay: float = 0.2,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-6,
        warmup_steps: int = 1000,
        max_steps: int | None = None,
        lock_image: bool = False,
        lock_image_unlocked_groups: int = 0,
        lock_image_freeze_bn_stats: bool = False,
        lock_text: bool = False,
        lock_text_unlocked_layers: int = 0,
        grad_checkpointing: bool = False,
        local_loss: bool = True,
        gather_with_grad: bool = True,
        logit_scale_max: float = math.log(100),
        nonfinite_loss: NonFinitePolicy = 'raise',
        nonfinite_max_skipped_fraction: float = 0.1,
    ) -> None:
        super().__init__()
        _check_optimiser_settings(lr, weight_decay, betas, eps, warmup_steps, max_steps)
        self.save_hyperparameters()
        self.model = create_clip(
            model_name,
            model_config=model_config,
            pretrained=str(Path(pretrained)) if pretrained else None,
            force_quick_gelu=force_quick_gelu,
        )
        self.tokenizer = get_tokenizer(model_name)
        self.loss_fn = InfoNCELoss(local_loss=local_loss, gather_with_grad=gather_with_grad)
        self._no_decay = no_weight_decay_names(self.model)
        self._lock_towers()
        self.nonfinite_guard = NonFiniteLossGuard(nonfinite_loss, nonfinite_max_skipped_fraction)
        self.empty_batch_guard = EmptyBatchGuard(nonfinite_max_skipped_fraction)
        self._batch_to_check: Any = None
        if grad_checkpointing:
            if isinstance(self.model.visual, ModifiedResNet):
                rank_zero_warn(
                    'grad_checkpointing: open_clip does not checkpoint ResNet image towers; '
                    'only the text tower is checkpointed'
                )
            self.model.set_grad_checkpointing(True)

    def _lock_towers(self) -> None:
        hp = self.hparams
        if hp.lock_image:
            if isinstance(self.model.visual, ModifiedResNet) and hp.lock_image_unlocked_groups:
                raise ValueError(
                    'lock_image_unlocked_groups must be 0 for ResNet image towers '
                    f'(got {hp.lock_image_unlocked_groups}); open_clip locks them fully'
                )
            self.model.lock_image_tower(
                unlocked_groups=hp.lock_image_unlocked_groups,
                freeze_bn_stats=hp.lock_image_freeze_bn_stats,
            )
        if hp.lock_text:
            self.model.lock_text_tower(unlocked_layers=hp.lock_text_unlocked_layers)

    def encode_images(self, images: Tensor) -> Tensor:
        """L2-normalised image features ``[B, D]`` of normalised images ``[B, 3, H, W]``."""
        return F.normalize(self.model.encode_image(images), dim=-1)

    def encode_texts(self, tokens: Tensor) -> Tensor:
        """L2-normalised text features ``[B, D]`` of token ids ``[B, L]``."""
        return F.normalize(self.model.encode_text(tokens), dim=-1)

    def forward(self, images: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Normalised image and text features and ``exp(logit_scale)``."""
        image_features, text_features, logit_scale = self.model(images, tokens)
        return image_features, text_features, logit_scale

    def _check_text_length(self, tokens: Tensor) -> None:
        expected = getattr(self.model, 'context_length', None)
        if isinstance(expected, int) and tokens.ndim == 2 and tokens.shape[1] != expected:
            raise ConfigError(
                f'text batches have {tokens.shape[1]} tokens per caption, but model '
                f'{self.hparams.model_name!r} has a context length of {expected}; tokenize with '
                f"the model's tokenizer (datamodule tokenizer: {self.hparams.model_name!r})"
            )

    def _check_image_size(self, images: Tensor) -> None:
        # open_clip's ViT and ResNet towers have fixed-size positional embeddings: another size
        # fails deep inside the model with an unrelated tensor-size message.
        size = getattr(getattr(self.model, 'visual', None), 'image_size', None)
        expected = (size, size) if isinstance(size, int) else size
        if isinstance(expected, tuple) and images.ndim == 4 and images.shape[-2:] != expected:
            raise ConfigError(
                f'image batches are {images.shape[-2]}x{images.shape[-1]} px, but model '
                f'{self.hparams.model_name!r} takes {expected[0]}x{expected[1]} px; set the '
                f'datamodule image_size to {expected[0]} (or its tokenizer to the model name)'
            )

    def _shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        self._check_text_length(batch['text'])
        self._check_image_size(batch['image'])
        image_features, text_features, logit_scale = self(batch['image'], batch['text'])
        loss = self.loss_fn(image_features, text_features, logit_scale)
        batch_size = batch['image'].shape[0]
        sync = stage != 'train'
        self.log(f'{stage}/loss', loss, prog_bar=True, batch_size=batch_size, sync_dist=sync)
        if stage == 'train':
            self.log(
                'train/logit_scale', logit_scale.detach().float().mean(), batch_size=batch_size
            )
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor | None:
        """InfoNCE loss of one batch (``train/loss``); None when a non-finite loss is skipped.

        The loss check reads the loss on the host, which waits for the forward pass to finish.
        With automatic optimisation and no gradient accumulation it waits in
        :meth:`optimizer_step` instead, once the backward pass is queued, so the device does
        not idle between forward and backward (3-5 % of a ViT-B-32 step on an H200).

        A batch whose every image was unreadable (``on_error='skip'``) skips the step, counted
        by :class:`~rs_vlm.reliability.skipped_inputs.EmptyBatchGuard`.
        """
        guard = self.empty_batch_guard
        if not guard.check(
            not is_all_skipped(batch),
            step=self.global_step,
            all_ranks_have_samples=self._reduce_if_batches_can_be_empty(),
        ):
            self.log('train/empty_batches_skipped', float(guard.num_skipped))
            return None
        loss = self._shared_step(batch, 'train')
        if self._check_loss_after_backward():
            self._batch_to_check = batch
            return loss
        return loss if self._loss_passes(loss, batch) else None

    def _check_loss_after_backward(self) -> bool:
        trainer = self._trainer
        return (
            trainer is not None
            and self.automatic_optimization
            and trainer.accumulate_grad_batches == 1
        )

    def _reduce(self) -> Callable[[bool], bool] | None:
        """The strategy's all-ranks reduction of a boolean decision (None without a trainer)."""
        trainer = self._trainer
        return trainer.strategy.reduce_boolean_decision if trainer is not None else None

    def _reduce_if_batches_can_be_empty(self) -> Callable[[bool], bool] | None:
        """The all-ranks reduction, or None where no rank can get an all-skipped batch.

        The reduction is a collective and a host sync on every step under DDP: a datamodule that
        raises on bad input (``on_error='raise'``) never yields an all-skipped batch, so its
        steps need no agreement.
        """
        trainer = self._trainer
        datamodule = getattr(trainer, 'datamodule', None) if trainer is not None else None
        if getattr(datamodule, 'on_error', None) == 'raise':
            return None
        return self._reduce()

    def _all_ranks_have_samples(self, batch: Any) -> bool:
        """Whether every rank's evaluation batch holds a sample (the loss gathers across ranks)."""
        reduce = self._reduce()
        has_samples = not is_all_skipped(batch)
        return bool(reduce(has_samples)) if reduce is not None else has_samples

    def _loss_passes(self, loss: Tensor, batch: Any) -> bool:
        """Run the non-finite loss guard (raises or counts); log the count when skipping."""
        reduce = self._reduce()
        if self.nonfinite_guard.check(loss, batch, step=self.global_step, all_ranks_finite=reduce):
            return True
        self.log('train/nonfinite_skipped', float(self.nonfinite_guard.num_skipped))
        return False

    def optimizer_step(
        self,
        epoch: int,
        batch_idx: int,
        optimizer: Any,
        optimizer_closure: Callable[[], Any] | None = None,
    ) -> None:
        """Step as Lightning does, checking the loss after backward (see :meth:`training_step`).

        A non-finite loss then has its gradients dropped and the closure returns None, which
        makes Lightning skip the update exactly as for a ``training_step`` returning None.
        """
        if optimizer_closure is None or not self._check_loss_after_backward():
            return super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)

        def checked_closure() -> Any:
            loss = optimizer_closure()  # forward and (queued) backward
            batch, self._batch_to_check = self._batch_to_check, None
            if loss is None or self._loss_passes(loss, batch):
                return loss
            optimizer.zero_grad(set_to_none=True)  # no parameter sees this batch's gradients
            return None

        return super().optimizer_step(epoch, batch_idx, optimizer, checked_closure)

    def on_train_start(self) -> None:
        """Align the resumed training loader with the epoch and batch the run continues at."""
        apply_pending_dataloader_state(self.trainer)

    def on_train_end(self) -> None:
        """Fail the run when too many steps were skipped (non-finite loss, unreadable batch)."""
        self.nonfinite_guard.check_fraction(at_end=True)
        self.empty_batch_guard.check_fraction(at_end=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the non-finite step counts, so a resumed run enforces the fraction over all."""
        guard = self.nonfinite_guard
        checkpoint['nonfinite_loss'] = {'skipped': guard.num_skipped, 'checked': guard.num_checked}
        checkpoint['empty_batches'] = self.empty_batch_guard.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the non-finite step counts."""
        counts = checkpoint.get('nonfinite_loss') or {}
        self.nonfinite_guard.num_skipped = int(counts.get('skipped', 0))
        self.nonfinite_guard.num_checked = int(counts.get('checked', 0))
        self.empty_batch_guard.load_state_dict(checkpoint.get('empty_batches') or {})

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor | None:
        """Validation InfoNCE loss (``val/loss``); None for a batch of unreadable images only."""
        if not self._all_ranks_have_samples(batch):
            return None
        return self._shared_step(batch, 'val')

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor | None:
        """Test InfoNCE loss (``test/loss``); None for a batch of unreadable images only."""
        if not self._all_ranks_have_samples(batch):
            return None
        return self._shared_step(batch, 'test')

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        """Embeddings of a batch.

        Returns:
            ``image_features`` when the batch has ``image``, ``text_features`` when it has
            ``text`` (both L2-normalised), and ``index`` passed through when present.
        """
        out: dict[str, Tensor] = {}
        if 'image' in batch:
            out['image_features'] = self.encode_images(batch['image'])
        if 'text' in batch:
            self._check_text_length(batch['text'])
            out['text_features'] = self.encode_texts(batch['text'])
        if 'index' in batch:
            out['index'] = batch['index']
        return out

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Clamp ``logit_scale`` to ``[0, logit_scale_max]`` after the optimiser step."""
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, self.hparams.logit_scale_max)

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with two parameter groups and a per-step warm-up + cosine schedule."""
        hp = self.hparams
        groups = param_groups(self.named_parameters(), self._no_decay, hp.weight_decay)
        optimizer = torch.optim.AdamW(groups, lr=hp.lr, betas=tuple(hp.betas), eps=hp.eps)
        total_steps = hp.max_steps
        if total_steps is None:
            total_steps = self.trainer.estimated_stepping_batches
            if not math.isfinite(total_steps):
                raise ValueError(
                    'model.max_steps is None and the trainer has no finite length; set '
                    'model.max_steps or trainer.max_steps / trainer.max_epochs'
                )
        schedule = WarmupCosineSchedule(hp.warmup_steps, int(total_steps))
        scheduler = LambdaLR(optimizer, schedule)
        return {
            'optimizer': optimizer,
            'lr_scheduler': {'scheduler': scheduler, 'interval': 'step', 'frequency': 1},
        }


def _check_optimiser_settings(
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    eps: float,
    warmup_steps: int,
    max_steps: int | None,
) -> None:
    """Refuse settings that would train wrongly without an error (a negative lr ascends)."""
    problems = []
    for name, value in (('lr', lr), ('weight_decay', weight_decay)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            problems.append(f'{name} must be a finite number >= 0, got {value!r}')
    if not (isinstance(eps, int | float) and math.isfinite(eps) and eps > 0):
        problems.append(f'eps must be > 0, got {eps!r}')
    if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
        problems.append(f'betas must be two numbers in [0, 1), got {betas!r}')
    if warmup_steps < 0:
        problems.append(f'warmup_steps must be >= 0, got {warmup_steps!r}')
    if max_steps is not None and max_steps < 1:
        problems.append(f'max_steps must be >= 1 or None, got {max_steps!r}')
    if problems:
        raise ValueError('RemoteCLIPModule: ' + '; '.join(problems))
