"""Small data, a loss recorder and a quiet CUDA trainer for the CUDA tests."""

from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader

CAPTIONS = [
    'many buildings and some green trees',
    'a plane parked at the airport',
    'two ships in the harbour',
    'a baseball field beside a road',
    'farmland with a river',
    'a storage tank near the port',
    'dense residential area',
    'a bridge over the water',
]


def pair_batches(tokenizer: Any, count: int, batch_size: int = 8, size: int = 32) -> list[dict]:
    """``count`` batches of normalised random images and tokenised captions (seeded)."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for step in range(count):
        captions = [f'{CAPTIONS[(step + i) % 8]} number {i}' for i in range(batch_size)]
        images = torch.randn(batch_size, 3, size, size, generator=generator)
        batches.append({'image': images, 'text': tokenizer(captions)})
    return batches


def loader(batches: list[dict]) -> DataLoader:
    """Yield the pre-made batches as they are."""
    return DataLoader(batches, batch_size=None)


class LossRecorder(Callback):
    """Keeps every training-step loss as a float and the device the parameters were on."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.devices: list[str] = []

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: Any, outputs: Any, *args: Any
    ) -> None:
        self.losses.append(float(outputs['loss']))
        self.devices.append(next(pl_module.parameters()).device.type)


def cuda_trainer(**options: Any) -> Trainer:
    """A one-GPU ``Trainer`` without logger, checkpoints, progress bar or validation."""
    settings: dict[str, Any] = {
        'accelerator': 'cuda',
        'devices': 1,
        'logger': False,
        'enable_checkpointing': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'limit_val_batches': 0,
    }
    return Trainer(**{**settings, **options})


def reference_loss(module: Any, batch: dict) -> float:
    """The module's InfoNCE loss of ``batch`` in float32 on the CPU (no update)."""
    model = module.model
    with torch.no_grad():
        loss = module.loss_fn(*model.cpu()(batch['image'], batch['text']))
    return float(loss)
