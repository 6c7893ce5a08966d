"""The base of the evaluation callbacks: when to run, how to run, how to log.

The work itself (preprocessing, encoding sharded over ranks, the protocols) is the
Lightning-free core in :mod:`rs_vlm.evaluation`. A callback adds only what needs the trainer:

* the schedule: every ``every_n_epochs`` training epochs, always in ``validate`` / ``test``,
  never during the sanity check;
* eval mode, ``torch.no_grad()``, the strategy's precision context (autocast for mixed
  precision) and, under FSDP, ``FullyShardedDataParallel.summon_full_params(strategy.model,
  writeback=False)``, since outside a ``*_step`` the parameters are flat shards;
* this process's rank and world size for the core's :class:`~rs_vlm.evaluation.Encoder`;
* logging ``{prefix}/{name}/{metric}`` (identical on every rank, so no sync).
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from open_clip.transform import image_transform_v2

from rs_vlm.evaluation.encoding import Encoder
from rs_vlm.evaluation.preprocessing import ImageTransform
from rs_vlm.models.factory import preprocess_config

__all__ = ['EvaluationCallback']


class EvaluationCallback(Callback):
    """Base of the evaluation callbacks: schedule, evaluation context, encoder and logging.

    Subclasses implement :meth:`evaluate` (called at ``on_validation_epoch_end`` when due,
    inside :meth:`evaluation_context`), encode with :meth:`encoder` and log with
    :meth:`log_metrics`.

    Args:
        every_n_epochs: Run every N training epochs (always in ``validate``/``test``).
        batch_size: Images per forward.
        text_batch_size: Strings per forward.
        num_workers: DataLoader workers decoding and preprocessing images.
        image_size: Model input side; default: the model's own. Everything else of the
            preprocessing is the model's open_clip evaluation transform.
        prefix: First part of every logged name (``val`` -> ``val/rsitmd/mean_recall``).
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        batch_size: int = 64,
        text_batch_size: int = 256,
        num_workers: int = 0,
        image_size: int | None = None,
        prefix: str = 'val',
    ) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f'every_n_epochs must be >= 1, got {every_n_epochs}')
        self.every_n_epochs = every_n_epochs
        self.batch_size = batch_size
        self.text_batch_size = text_batch_size
        self.num_workers = num_workers
        self.image_size = image_size
        self.prefix = prefix

    def should_run(self, trainer: Trainer) -> bool:
        """Whether this validation epoch end evaluates (never during the sanity check)."""
        if trainer.sanity_checking:
            return False
        if trainer.state.fn != 'fit':
            return True
        return (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Evaluate when due."""
        if self.should_run(trainer):
            with self.evaluation_context(trainer, pl_module):
                self.evaluate(trainer, pl_module)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode the evaluation data and log the metrics (implemented by subclasses)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def evaluation_context(self, trainer: Trainer, pl_module: LightningModule) -> Iterator[None]:
        """Eval mode, no grad, the trainer's precision and, under FSDP, the full parameters."""
        was_training = pl_module.training
        pl_module.eval()
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.no_grad())
            stack.enter_context(trainer.strategy.precision_plugin.forward_context())
            from torch.distributed.fsdp import FullyShardedDataParallel

            wrapped = trainer.strategy.model
            if isinstance(wrapped, FullyShardedDataParallel):
                stack.enter_context(
                    FullyShardedDataParallel.summon_full_params(wrapped, writeback=False)
                )
            try:
                yield
            finally:
                if was_training:
                    pl_module.train()

    def image_transform(self, model: torch.nn.Module) -> ImageTransform:
        """The model's open_clip evaluation transform (at ``image_size`` when set)."""
        return image_transform_v2(preprocess_config(model, self.image_size), is_train=False)

    def encoder(self, trainer: Trainer, pl_module: LightningModule) -> Encoder:
        """The core encoder for this process: the module's model and tokenizer, rank, world size.

        Args:
            trainer: The trainer (rank and world size).
            pl_module: Has ``model`` (open_clip) and ``tokenizer``, as
                :class:`~rs_vlm.modules.RemoteCLIPModule`.

        Returns:
            The encoder.
        """
        model = pl_module.model
        return Encoder(
            model,
            self.image_transform(model),
            pl_module.tokenizer,
            batch_size=self.batch_size,
            text_batch_size=self.text_batch_size,
            num_workers=self.num_workers,
            rank=trainer.global_rank,
            world_size=trainer.world_size,
            device=pl_module.device,
        )

    def log_metrics(self, pl_module: LightningModule, name: str, values: dict[str, Any]) -> None:
        """Log ``{prefix}/{name}/{key}``; values are identical on all ranks (no sync needed)."""
        for key, value in values.items():
            pl_module.log(
                f'{self.prefix}/{name}/{key}',
                torch.as_tensor(value, dtype=torch.float32),
                on_epoch=True,
                sync_dist=False,
            )
