"""Training-step overhead: RemoteCLIPModule under a Lightning Trainer vs a bare PyTorch loop.

Both sides train the same open_clip model (same seed, same initial weights) on the same
pre-made batches with open_clip's ``ClipLoss``, AdamW with the same parameter groups and the
same warm-up + cosine schedule, ``logit_scale`` clamping and autocast for mixed precision.
Each side runs in its own child process (same imports on both sides), alternating over
``--rounds`` rounds; a step's time is the wall time between the starts of consecutive steps
(data fetch, forward, backward, optimiser step and, for Lightning, its loop). Reported:
median step time and peak memory (CPU: peak RSS during training, read from /proc after
resetting the high-water mark; CUDA: ``torch.cuda.max_memory_allocated``), and the ratios
Lightning / bare of the per-round medians (target: time <= 1.05, memory <= 1.10).

Run: ``python benchmarks/train_step.py [--model rs-vit-tiny] [--batch-size 32] [--steps 20]
[--rounds 3] [--device cpu|cuda] [--precision 32-true|bf16-mixed|16-mixed]``.
"""

import argparse
import itertools
import math
import multiprocessing as mp
import statistics
import time
from pathlib import Path

import torch

WARMUP_STEPS = 3


def _reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0) so the peak covers training only.
    Path('/proc/self/clear_refs').write_text('5')


def _peak_rss_mib() -> float:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def _make_batches(args: argparse.Namespace, tokenizer, image_size: int) -> list[dict]:
    generator = torch.Generator().manual_seed(1)
    words = ['airport', 'harbour', 'river', 'farmland', 'forest', 'stadium', 'bridge', 'road']
    batches = []
    for step in range(args.steps):
        captions = [
            f'{words[(step + i) % 8]} next to {words[(step * 3 + i) % 8]} number {i}'
            for i in range(args.batch_size)
        ]
        images = torch.randn(args.batch_size, 3, image_size, image_size, generator=generator)
        batches.append({'image': images, 'text': tokenizer(captions)})
    return batches


def _measure(step_starts: list[float]) -> float:
    durations = [b - a for a, b in itertools.pairwise(step_starts)][WARMUP_STEPS:]
    return statistics.median(durations)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _autocast_dtype(precision: str) -> torch.dtype | None:
    return {'bf16-mixed': torch.bfloat16, '16-mixed': torch.float16}.get(precision)


def run_bare(args: argparse.Namespace) -> dict[str, float]:
    """The loop a user would write with open_clip alone."""
    from open_clip.loss import ClipLoss
    from torch.optim.lr_scheduler import LambdaLR

    from rs_vlm.models import create_clip, get_tokenizer
    from rs_vlm.modules import WarmupCosineSchedule, no_weight_decay_names, param_groups

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = create_clip(args.model).to(device).train()
    image_size = model.visual.image_size
    image_size = image_size[0] if isinstance(image_size, tuple) else image_size
    batches = _make_batches(args, get_tokenizer(args.model), image_size)
    no_decay = no_weight_decay_names(model)
    named = [('model.' + name, param) for name, param in model.named_parameters()]
    optimizer = torch.optim.AdamW(
        param_groups(named, no_decay, 0.2), lr=args.lr, betas=(0.9, 0.98), eps=1e-6
    )
    scheduler = LambdaLR(optimizer, WarmupCosineSchedule(2, args.steps))
    loss_fn = ClipLoss()
    dtype = _autocast_dtype(args.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_peak_rss()
    starts = []
    for batch in loader:
        _sync(device)
        starts.append(time.perf_counter())
        images = batch['image'].to(device, non_blocking=True)
        tokens = batch['text'].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            image_features, text_features, logit_scale = model(images, tokens)
            loss = loss_fn(image_features, text_features, logit_scale)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        float(loss.detach())  # Lightning reads the loss value every step too (progress, logging)
    _sync(device)
    starts.append(time.perf_counter())
    return _result(starts, device)


def run_lightning(args: argparse.Namespace) -> dict[str, float]:
    """RemoteCLIPModule under a Lightning Trainer."""
    from lightning.pytorch import Callback, Trainer

    from rs_vlm.modules import RemoteCLIPModule

    device = torch.device(args.device)
    starts: list[float] = []

    class StepClock(Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            if device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats(device)
            else:
                _reset_peak_rss()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            _sync(device)
            starts.append(time.perf_counter())

        def on_train_end(self, trainer, pl_module) -> None:
            _sync(device)
            starts.append(time.perf_counter())

    torch.manual_seed(0)
    module = RemoteCLIPModule(
        args.model, lr=args.lr, weight_decay=0.2, warmup_steps=2, max_steps=args.steps
    )
    image_size = module.model.visual.image_size
    image_size = image_size[0] if isinstance(image_size, tuple) else image_size
    batches = _make_batches(args, module.tokenizer, image_size)
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    trainer = Trainer(
        accelerator=device.type,
        devices=1,
        precision=args.precision,
        max_steps=args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[StepClock()],
    )
    trainer.fit(module, train_dataloaders=loader)
    return _result(starts, device)


def _result(starts: list[float], device: torch.device) -> dict[str, float]:
    if device.type == 'cuda':
        memory = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        memory = _peak_rss_mib()
    return {'step_s': _measure(starts), 'peak_mib': memory}


def _child(kind: str, args: argparse.Namespace, queue: mp.Queue) -> None:
    torch.set_num_threads(args.threads) if args.threads else None
    # Same imports on both sides, so the memory baseline is the same.
    import lightning.pytorch  # noqa: F401

    import rs_vlm.modules  # noqa: F401

    queue.put((run_bare if kind == 'bare' else run_lightning)(args))


def _in_child(kind: str, args: argparse.Namespace) -> dict[str, float]:
    context = mp.get_context('spawn')
    queue = context.Queue()
    process = context.Process(target=_child, args=(kind, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='rs-vit-tiny')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='32-true')
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    args = parser.parse_args()

    rows = []
    for round_index in range(args.rounds):
        order = ('bare', 'lightning') if round_index % 2 == 0 else ('lightning', 'bare')
        results = {kind: _in_child(kind, args) for kind in order}
        rows.append(results)
        print(
            f'round {round_index + 1}: bare {results["bare"]["step_s"] * 1e3:.1f} ms '
            f'{results["bare"]["peak_mib"]:.0f} MiB | lightning '
            f'{results["lightning"]["step_s"] * 1e3:.1f} ms '
            f'{results["lightning"]["peak_mib"]:.0f} MiB'
        )
    time_ratio = statistics.median(r['lightning']['step_s'] / r['bare']['step_s'] for r in rows)
    memory_ratio = statistics.median(
        r['lightning']['peak_mib'] / r['bare']['peak_mib'] for r in rows
    )
    bare_ms = statistics.median(r['bare']['step_s'] for r in rows) * 1e3
    lightning_ms = statistics.median(r['lightning']['step_s'] for r in rows) * 1e3
    print(
        f'{args.model}, batch {args.batch_size}, {args.steps} steps, {args.device}, '
        f'{args.precision}: median step bare {bare_ms:.1f} ms, lightning {lightning_ms:.1f} ms'
    )
    print(f'time ratio lightning/bare: {time_ratio:.3f} (target <= 1.05; median of round ratios)')
    print(f'time ratio of the overall medians: {lightning_ms / bare_ms:.3f}')
    print(f'peak memory ratio lightning/bare: {memory_ratio:.3f} (target <= 1.10)')


if __name__ == '__main__':
    main()
