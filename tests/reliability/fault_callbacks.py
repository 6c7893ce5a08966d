"""Lightning callbacks that tests load by class path into ``rs-vlm fit`` subprocesses.

``KillAtStep`` SIGKILLs its own process (no cleanup, no ``finally``) in the middle of a step,
``TermAtStep`` sends it SIGTERM (pre-emption);
``RecordBatches`` appends what each step consumed (source files, learning rate) to a JSONL file,
flushed per line so the record survives the kill.
"""

import json
import os
import signal
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class KillAtStep(Callback):
    """SIGKILL the process after the backward pass of global step ``step`` (before its update).

    Args:
        step: The 0-based global step at which to die.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: Any
    ) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class RecordBatches(Callback):
    """Append ``{'step', 'epoch', 'paths', 'lr'}`` per training batch to ``path``.

    Args:
        path: The JSONL file.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        record = {
            'step': trainer.global_step,
            'epoch': trainer.current_epoch,
            'batch_idx': batch_idx,
            'paths': [os.path.basename(p) for p in batch.get('path', [])],
            'lr': trainer.optimizers[0].param_groups[0]['lr'],
        }
        with open(self.path, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps(record) + '\n')
            handle.flush()


class TermAtStep(Callback):
    """Send SIGTERM to the own process during global step ``step`` (as a scheduler pre-empts).

    Args:
        step: The 0-based global step in which the signal arrives.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: Any
    ) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)
