"""Caption data loading throughput: rs_vlm's pipeline vs open_clip's CsvDataset + torchvision.

Both pipelines read the same generated JPEGs (a remote-sensing-like size, 600 x 600 px as in
AID/WHU-RS19) from the same CSV, with the same batch size and worker count, and produce what a
CLIP training step consumes: normalised 224 px crops, augmented as in the RemoteCLIP paper
(random resized crop, horizontal flip, rotation by a multiple of 90 degrees), plus tokens.

* baseline: ``open_clip_train.data.CsvDataset`` with open_clip's training transform
  (``RandomResizedCrop(scale=(0.9, 1))``, bicubic) plus torchvision's flip and a random
  quarter turn, per sample in the workers; open_clip's tokenizer.
* ours: :class:`rs_vlm.datamodules.CaptionDataModule` (JPEG draft-mode decode at reduced
  scale, random resized crop over the whole image and resize in one PIL call, tokenise in
  the workers, uint8 batches; flips, turns and normalisation per batch, run here on the CPU
  in the main process, as they would run on the GPU after transfer).

Run: ``python benchmarks/dataloading.py [--images 2000] [--workers 2] [--batch-size 64]``.
It prints images/s of each (best of ``--repeats`` epochs) and the ratio ours / baseline.
"""

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms as T

from rs_vlm.datamodules import CaptionDataModule


def _import_open_clip_csv_dataset() -> type:
    # open_clip_train.data imports braceexpand and webdataset at module level for its other
    # loaders; CsvDataset needs neither, so empty stand-ins let us import it unchanged.
    for name in ('braceexpand', 'webdataset', 'webdataset.filters', 'webdataset.tariterators'):
        stand_in = types.ModuleType(name)
        stand_in.__getattr__ = lambda attr: type(attr, (), {})  # type: ignore[method-assign]
        sys.modules.setdefault(name, stand_in)
    from open_clip_train.data import CsvDataset

    return CsvDataset


def make_images(folder: Path, count: int, size: int) -> Path:
    """Write ``count`` JPEGs with smooth texture + noise and a TSV listing them."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rows = ['filepath\ttitle']
    for index in range(count):
        phase = rng.uniform(0, 6.28, size=3)
        base = np.stack([np.sin(8 * xx + 5 * yy + p) for p in phase], axis=-1) * 60 + 128
        noise = rng.normal(0, 18, size=(size, size, 3))
        image = np.clip(base + noise, 0, 255).astype(np.uint8)
        path = folder / f'{index:05d}.jpg'
        Image.fromarray(image).save(path, quality=90)
        rows.append(f'{path}\tan aerial image number {index} with some buildings')
    csv = folder / 'corpus.tsv'
    csv.write_text('\n'.join(rows) + '\n')
    return csv


class RandomQuarterTurn:
    """Rotate a tensor image by 0, 90, 180 or 270 degrees at random."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return torch.rot90(image, int(torch.randint(4, ())), dims=(-2, -1))


def baseline_loader(csv: Path, workers: int, batch_size: int) -> DataLoader:
    csv_dataset = _import_open_clip_csv_dataset()
    transform = open_clip.image_transform(224, is_train=True)
    transform = T.Compose([transform, T.RandomHorizontalFlip(), RandomQuarterTurn()])
    tokenizer = open_clip.get_tokenizer('ViT-B-32')
    dataset = csv_dataset(str(csv), transform, 'filepath', 'title', sep='\t', tokenizer=tokenizer)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=False
    )


def time_epoch(loader, step) -> float:
    count = 0
    start = time.perf_counter()
    for batch in loader:
        count += step(batch)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=2000)
    parser.add_argument('--size', type=int, default=600)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        csv = make_images(Path(tmp), args.images, args.size)
        print(
            f'{args.images} JPEGs of {args.size}x{args.size} px, {args.workers} workers, '
            f'batch {args.batch_size}'
        )

        def baseline_step(batch) -> int:
            images, texts = batch
            assert images.shape[-1] == 224 and texts.shape[-1] == 77
            return images.shape[0]

        datamodule = CaptionDataModule(
            train_csv=csv,
            image_size=224,
            batch_size=args.batch_size,
            num_workers=args.workers,
            drop_last=False,
        )
        datamodule.setup('fit')
        datamodule.trainer = types.SimpleNamespace(training=True)  # type: ignore[assignment]

        def ours_step(batch) -> int:
            batch = datamodule.on_after_batch_transfer(batch, 0)
            assert batch['image'].shape[-1] == 224 and batch['text'].shape[-1] == 77
            return batch['image'].shape[0]

        baseline = ours = 0.0
        for _ in range(args.repeats):  # interleaved, best of each
            baseline = max(
                baseline,
                time_epoch(baseline_loader(csv, args.workers, args.batch_size), baseline_step),
            )
            ours = max(ours, time_epoch(datamodule.train_dataloader(), ours_step))
        print(f'open_clip CsvDataset + torchvision: {baseline:8.1f} images/s')
        print(f'rs_vlm CaptionDataModule:           {ours:8.1f} images/s')
        print(f'ratio (ours / baseline):            {ours / baseline:8.2f}x')


if __name__ == '__main__':
    main()
