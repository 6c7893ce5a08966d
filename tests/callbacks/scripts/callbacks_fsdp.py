"""Run the zero-shot and retrieval callbacks under 2-process CPU FSDP; rank 0 writes JSON.

Run as ``python callbacks_fsdp.py OUT.json PORT``; Lightning starts the second process by
re-running this script. Without PORT (``python callbacks_fsdp.py OUT.json single``) it runs
in one process without FSDP, for the reference values.
"""

import json
import os
import sys
from pathlib import Path

import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, Dataset

from rs_vlm.callbacks import RetrievalCallback, ZeroShotCallback
from rs_vlm.models import CLIPFSDPStrategy
from rs_vlm.modules import RemoteCLIPModule


class Scenes(Dataset):
    classes = ['airport', 'beach', 'bridge', 'forest', 'river']
    templates = ['a satellite photo of a {}.', 'an overhead view of the {}.']

    def __init__(self):
        gen = torch.Generator().manual_seed(1)
        self.images = torch.randint(0, 256, (11, 3, 32, 32), generator=gen).float()

    def __len__(self):
        return 11

    def __getitem__(self, i):
        return {'image': self.images[i], 'label': torch.tensor(i % 5)}


class Retrieval(Dataset):
    def __init__(self):
        gen = torch.Generator().manual_seed(2)
        self.images = torch.randint(0, 256, (5, 3, 32, 32), generator=gen).float()
        self.captions = [f'{Scenes.classes[i % 5]} scene number {i}' for i in range(25)]
        self.caption_to_image = [i // 5 for i in range(25)]

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {'image': self.images[i], 'index': i}


def run(out: Path, port: str) -> None:
    """Validate once with the callbacks; ``port='single'`` runs one process without FSDP."""
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-rn-tiny')
    tokens = module.tokenizer(['x', 'y'])
    val = DataLoader([{'image': torch.zeros(3, 32, 32), 'text': t} for t in tokens], batch_size=2)
    if port == 'single':
        devices, strategy = 1, 'auto'
    else:
        os.environ.setdefault('MASTER_PORT', port)
        devices, strategy = 2, CLIPFSDPStrategy()
    callbacks = [
        ZeroShotCallback({'scenes': Scenes()}, top_k=(1, 2), batch_size=3),
        RetrievalCallback({'ret': Retrieval()}, batch_size=2),
    ]
    trainer = Trainer(
        accelerator='cpu', devices=devices, strategy=strategy, logger=False, callbacks=callbacks,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.validate(module, val, verbose=False)
    if trainer.global_rank == 0:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k != 'val/loss'}
        out.write_text(json.dumps({'world_size': trainer.world_size, 'metrics': metrics}))


if __name__ == '__main__':
    run(Path(sys.argv[1]), sys.argv[2])
