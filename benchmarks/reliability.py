"""Cost of the reliability machinery against what a user would otherwise run.

1. Checkpoint save: :class:`rs_vlm.reliability.AtomicCheckpointIO` (temp file + fsync + rename,
   no in-memory copy) vs Lightning's default ``TorchCheckpointIO`` (whole checkpoint serialised
   into memory, then written through an fsspec transaction, no fsync).
2. Loader overhead: ``ResumableDataLoader`` (torchdata ``StatefulDataLoader``) vs a plain
   ``torch.utils.data.DataLoader`` iterating the same dataset (time per epoch).
3. Mid-epoch resume: restoring the loader state (sampler fast-forward only) vs the usual
   workaround without a stateful loader, iterating and discarding the consumed batches.

Run: ``python benchmarks/reliability.py [--megabytes 200] [--samples 4000] [--workers 2]``.
Prints seconds for each side and the ratio ours / baseline (below 1 = ours is faster).
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch.utils.data import DataLoader, Dataset

from rs_vlm.datamodules.resumable_loader import ResumableDataLoader
from rs_vlm.reliability import AtomicCheckpointIO
from rs_vlm.samplers.epoch_random import EpochRandomSampler


class _DecodeLike(Dataset):
    """Samples that cost a little CPU each, like decoding a small image."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, epoch = key
        generator = torch.Generator().manual_seed(index * 7919 + epoch)
        return torch.rand(3, 64, 64, generator=generator).mul(255).round()


def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _report(name: str, ours: float, baseline: float) -> None:
    print(
        f'{name:<28} ours {ours:8.3f} s   baseline {baseline:8.3f} s   ratio {ours / baseline:.2f}'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--megabytes', type=int, default=200)
    parser.add_argument('--samples', type=int, default=4000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()

    numel = args.megabytes * 2**20 // 4
    checkpoint = {'state_dict': {f'w{i}': torch.randn(numel // 8) for i in range(8)}, 'step': 1}
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / 'last.ckpt'
        ours = _best(lambda: AtomicCheckpointIO().save_checkpoint(checkpoint, target), args.repeats)
        base = _best(lambda: TorchCheckpointIO().save_checkpoint(checkpoint, target), args.repeats)
    _report(f'save {args.megabytes} MB checkpoint', ours, base)

    dataset = _DecodeLike(args.samples)

    def loader(cls: type) -> DataLoader:
        return cls(
            dataset,
            batch_size=args.batch_size,
            sampler=EpochRandomSampler(len(dataset), seed=0),
            num_workers=args.workers,
        )

    ours = _best(lambda: sum(1 for _ in loader(ResumableDataLoader)), args.repeats)
    base = _best(lambda: sum(1 for _ in loader(DataLoader)), args.repeats)
    _report('one epoch of loading', ours, base)

    half = len(loader(DataLoader)) // 2
    stateful = loader(ResumableDataLoader)
    iterator = iter(stateful)
    for _ in range(half):
        next(iterator)
    state = stateful.state_dict()
    del iterator

    def resume_ours() -> None:
        resumed = loader(ResumableDataLoader)
        resumed.load_state_dict(state)
        next(iter(resumed))

    def resume_by_skipping() -> None:
        iterator = iter(loader(DataLoader))
        for _ in range(half + 1):
            next(iterator)

    ours = _best(resume_ours, args.repeats)
    base = _best(resume_by_skipping, args.repeats)
    _report('resume at mid-epoch', ours, base)


if __name__ == '__main__':
    main()
