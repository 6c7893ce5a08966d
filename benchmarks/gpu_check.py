"""One prepared GPU check: training throughput against plain open_clip, FSDP, callbacks, CUDA tests.

Runs in one go and writes ``gpu_check.json`` and ``gpu_check.md`` to ``--output`` after every
section, so a crash or a timeout still leaves the figures measured so far. Each section is
wrapped: one that fails records its error and the rest still run; a section whose estimated
time no longer fits the ``--budget-s`` is recorded as skipped.

Sections, in the order they run:

- ``environment``: versions, the device, and which optional packages were imported.
- ``matmul``: measured dense matrix-product rate (bf16 8192^3 on CUDA), the practical ceiling.
- ``training``: ``RemoteCLIPModule`` under a Lightning ``Trainer`` against the bare loop a
  user would write with open_clip alone (``ClipLoss``, AdamW, ``torch.autocast``, a
  ``GradScaler`` for fp16), on the same pinned host batches, same seed and initial weights,
  alternating the two sides over rounds, in one process (peak memory reset between runs).
  Per model and precision: samples/s (batch / mean step time after warm-up, timed between
  one synchronisation after the warm-up steps and one after the last step), peak memory
  (``torch.cuda.max_memory_allocated``), ratios ours/bare of the per-round figures, model
  FLOPs per step counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward and
  backward (matrix products, convolutions and attention; elementwise work not counted), and
  MFU against the dense bf16 peak of the GPU's datasheet and against the measured rate.
- ``callbacks``: ``ZeroShotCallback`` and ``RetrievalCallback`` in ``Trainer.validate`` on
  the device at RSICD's test shape (1093 images, 5465 captions) and an AID-like scene set;
  seconds per validation epoch with and without each callback.
- ``augmentation``: the training pipeline on the device: uint8 host batches, copy, then
  ``clip_train_augmentation`` on the device; images/s, against the copy alone and the same
  pipeline on the CPU.
- ``cuda_tests``: ``pytest -m cuda tests/cuda`` in a child process (the tests skip without
  CUDA); the outcome of every test, read from pytest's JUnit XML.
- ``fsdp``: ViT-L-14 with ``CLIPFSDPStrategy`` (full shard, activation checkpointing,
  bf16-mixed) on one GPU at the paper's batch (28) and the largest batch that fits: the peak
  reserved memory of the two largest batches that fit predicts the next batch to try, until
  one runs out of memory; then bisection to within 5 % (on the CPU, which gives no memory
  figure, the batch is doubled up to a cap instead).
- ``training_overhead``: the ``training`` runs for ViT-B-32 again with parts of the module's
  step switched off (the non-finite loss check, the per-step logging), to show what each
  costs against the bare loop.

Weights are random (``pretrained=None``): the device has no network and the figures do not
depend on the weights' values.

Run: ``python benchmarks/gpu_check.py --device cuda --output DIR [--budget-s 420]``;
``python benchmarks/gpu_check.py --device cpu --smoke --output DIR`` runs every section with
tiny models and sizes (about a minute on two idle cores).
"""

import argparse
import contextlib
import copy
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: Dense bf16 (and fp16) tensor-core peak of the H100/H200 SXM datasheet, FLOP/s.
HOPPER_BF16_DENSE_PEAK = 989.4e12
#: Packages the check must not need (absent on the GPU machine); reported if imported.
UNWANTED_MODULES = ('torchgeo', 'rasterio', 'torchdata', 'jsonargparse', 'geopandas')
CAPTION_WORDS = [
    'airport', 'harbour', 'river', 'farmland', 'forest', 'stadium', 'bridge', 'road',
    'residential', 'parking', 'beach', 'desert', 'meadow', 'railway', 'church', 'square',
]  # fmt: skip
SCENE_TEMPLATES = [
    'a satellite photo of {}.',
    'an aerial photograph of {}.',
    'a remote sensing image of {}.',
    'a top-down view of {}.',
    'a high resolution satellite image of the {}.',
]


@dataclass(frozen=True)
class Sizes:
    """Every size the check uses (full run or smoke run)."""

    models: tuple[str, ...]
    precisions: tuple[str, ...]
    batch_size: int
    steps: int
    warmup_steps: int
    rounds: int
    distinct_batches: int
    matmul_n: int
    fsdp_model: str
    fsdp_batch: int
    fsdp_probe_batch: int
    fsdp_steps: int
    fsdp_cpu_cap: int
    fsdp_search_tries: int
    eval_model: str
    eval_batch_size: int
    retrieval_images: int
    captions_per_image: int
    scene_images: int
    scene_classes: int
    aug_source_size: int
    aug_size: int
    aug_batch: int
    aug_iterations: int
    cuda_tests_max_s: float
    reserve_after_tests: float


FULL = Sizes(
    models=('RN50', 'ViT-B-32'),
    precisions=('bf16-mixed', '16-mixed'),
    batch_size=256,
    steps=14,
    warmup_steps=4,
    rounds=2,
    distinct_batches=4,
    matmul_n=8192,
    fsdp_model='ViT-L-14',
    fsdp_batch=28,
    fsdp_probe_batch=112,
    fsdp_steps=3,
    fsdp_cpu_cap=0,
    fsdp_search_tries=6,
    eval_model='ViT-B-32',
    eval_batch_size=256,
    retrieval_images=1093,
    captions_per_image=5,
    scene_images=1000,
    scene_classes=30,
    aug_source_size=256,
    aug_size=224,
    aug_batch=256,
    aug_iterations=12,
    cuda_tests_max_s=170,
    reserve_after_tests=90,
)
SMOKE = Sizes(
    models=('rs-rn-tiny', 'rs-vit-tiny'),
    precisions=('bf16-mixed', '16-mixed'),
    batch_size=8,
    steps=5,
    warmup_steps=2,
    rounds=2,
    distinct_batches=2,
    matmul_n=256,
    fsdp_model='rs-vit-tiny',
    fsdp_batch=4,
    fsdp_probe_batch=8,
    fsdp_steps=2,
    fsdp_cpu_cap=16,
    fsdp_search_tries=0,
    eval_model='rs-vit-tiny',
    eval_batch_size=16,
    retrieval_images=12,
    captions_per_image=5,
    scene_images=12,
    scene_classes=4,
    aug_source_size=40,
    aug_size=32,
    aug_batch=8,
    aug_iterations=4,
    cuda_tests_max_s=200,
    reserve_after_tests=10,
)


# -- bookkeeping ----------------------------------------------------------------------------------


class Report:
    """Section results, written to ``gpu_check.json`` / ``.md`` after every change."""

    def __init__(self, output: Path, budget_s: float, meta: dict[str, Any]) -> None:
        self.output = output
        self.budget_s = budget_s
        self.start = time.monotonic()
        self.data: dict[str, Any] = {'meta': meta, 'sections': {}}

    def elapsed(self) -> float:
        """Seconds since the check started."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left of the budget."""
        return self.budget_s - self.elapsed()

    def save(self) -> None:
        """Write both files atomically (temp file + rename)."""
        self.data['meta']['elapsed_s'] = round(self.elapsed(), 1)
        _atomic_write(self.output / 'gpu_check.json', json.dumps(self.data, indent=2) + '\n')
        _atomic_write(self.output / 'gpu_check.md', render_markdown(self.data))

    def run(self, name: str, estimate_s: float, function: Callable[[dict[str, Any]], None]) -> None:
        """Run one section into its own dict, unless its estimate no longer fits the budget."""
        section: dict[str, Any] = {'status': 'running'}
        self.data['sections'][name] = section
        left = self.remaining()
        if left < estimate_s:
            section.update(
                status='skipped', reason=f'{left:.0f} s of budget left, needs ~{estimate_s:.0f} s'
            )
            print(f'[{name}] skipped: {section["reason"]}', flush=True)
            self.save()
            return
        print(f'[{name}] start ({left:.0f} s of budget left)', flush=True)
        began = time.monotonic()
        self.save()
        try:
            function(section)
            section['status'] = 'ok' if section['status'] == 'running' else section['status']
        except Exception as error:  # one failing section must not stop the rest
            section.update(
                status='error',
                error=f'{type(error).__name__}: {error}'[:2000],
                traceback=traceback.format_exc()[-4000:],
            )
            print(f'[{name}] error: {section["error"]}', flush=True)
        finally:
            section['seconds'] = round(time.monotonic() - began, 1)
            _free_memory()
            self.save()
        print(f'[{name}] {section["status"]} in {section["seconds"]} s', flush=True)


def _atomic_write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile(
        'w', dir=path.parent, prefix=f'.{path.name}.', delete=False, encoding='utf-8'
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    _free_memory()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> float | None:
    if device.type != 'cuda':
        return None  # no per-run peak for host memory in one process
    return torch.cuda.max_memory_allocated(device) / 2**20


def _quiet_trainer(device: torch.device, **options: Any) -> Any:
    from lightning.pytorch import Trainer

    settings: dict[str, Any] = {
        'accelerator': device.type,
        'devices': 1,
        'logger': False,
        'enable_checkpointing': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'num_sanity_val_steps': 0,
    }
    return Trainer(**{**settings, **options})


def _image_size(model: torch.nn.Module) -> int:
    size = model.visual.image_size
    return int(size[0] if isinstance(size, tuple | list) else size)


def _captions(count: int, offset: int = 0) -> list[str]:
    words = CAPTION_WORDS
    return [
        f'{words[(offset + i) % 16]} next to a {words[(offset * 7 + 3 * i) % 16]}, view {i}'
        for i in range(count)
    ]


# -- environment and matmul -----------------------------------------------------------------------


def section_environment(section: dict[str, Any], device: torch.device) -> None:
    """Versions, the device and its state as found."""
    import lightning
    import open_clip
    import torchmetrics

    section.update(
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        lightning=lightning.__version__,
        open_clip=open_clip.__version__,
        torchmetrics=torchmetrics.__version__,
        cpu_count=os.cpu_count(),
        pretrained='none: random initial weights (no network on the GPU machine)',
    )
    if device.type == 'cuda':
        properties = torch.cuda.get_device_properties(device)
        section.update(
            gpu=properties.name,
            capability=f'{properties.major}.{properties.minor}',
            gpu_memory_gib=round(properties.total_memory / 2**30, 1),
            multiprocessors=properties.multi_processor_count,
        )
        query = 'clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,driver_version'
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ['nvidia-smi', f'--query-gpu={query}', '--format=csv'],
                capture_output=True, text=True, timeout=20,
            )  # fmt: skip
            section['nvidia_smi'] = done.stdout.strip()


def section_matmul(section: dict[str, Any], device: torch.device, n: int) -> None:
    """Median rate of an n^3 matrix product (bf16 on CUDA, fp32 on the CPU) on random data."""
    dtype = torch.bfloat16 if device.type == 'cuda' else torch.float32
    generator = torch.Generator(device=device).manual_seed(0)
    inputs = [
        (
            torch.randn(n, n, device=device, dtype=dtype, generator=generator),
            torch.randn(n, n, device=device, dtype=dtype, generator=generator),
        )
        for _ in range(3)  # rotate inputs so the cache does not hold them
    ]
    out = torch.empty(n, n, device=device, dtype=dtype)
    times = []
    for repeat in range(25):
        a, b = inputs[repeat % 3]
        _sync(device)
        began = time.perf_counter()
        torch.matmul(a, b, out=out)
        _sync(device)
        if repeat >= 5:
            times.append(time.perf_counter() - began)
    if not torch.isfinite(out).all():
        raise RuntimeError('matrix product returned non-finite values')
    seconds = statistics.median(times)
    section.update(
        n=n,
        dtype=str(dtype).removeprefix('torch.'),
        median_ms=round(seconds * 1e3, 3),
        tflops=round(2 * n**3 / seconds / 1e12, 1),
    )


# -- training: ours vs bare -----------------------------------------------------------------------


def _make_batches(model_name: str, sizes: Sizes, device: torch.device) -> list[dict[str, Any]]:
    """Normalised float images and tokens in (pinned) host memory, as a loader would give them."""
    import open_clip

    from rs_vlm.models import get_tokenizer

    image_size = int(open_clip.get_model_config(model_name)['vision_cfg']['image_size'])
    tokenizer = get_tokenizer(model_name)
    generator = torch.Generator().manual_seed(1)
    batches = []
    for index in range(sizes.distinct_batches):
        images = torch.randn(sizes.batch_size, 3, image_size, image_size, generator=generator)
        text = tokenizer(_captions(sizes.batch_size, index))
        if device.type == 'cuda':
            images, text = images.pin_memory(), text.pin_memory()
        batches.append({'image': images, 'text': text})
    return [batches[i % len(batches)] for i in range(sizes.steps)]


def _autocast_dtype(precision: str) -> torch.dtype | None:
    return {'bf16-mixed': torch.bfloat16, '16-mixed': torch.float16}.get(precision)


class WindowClock:
    """Mean step time after warm-up, synchronising only where the timed window opens and closes.

    No synchronisation in between: the device queue stays as full as in real training, so a
    loop's own host-side waits (reading the loss, say) show up as they would there.
    """

    def __init__(self, device: torch.device, warmup: int) -> None:
        self.device = device
        self.warmup = warmup
        self.begin = 0.0
        self.end = 0.0
        self.steps = 0

    def step_start(self) -> None:
        """Call as each step starts."""
        if self.steps == self.warmup:
            _sync(self.device)
            self.begin = time.perf_counter()
        self.steps += 1

    def stop(self) -> None:
        """Call after the last step."""
        _sync(self.device)
        self.end = time.perf_counter()

    def step_s(self) -> float:
        """Mean seconds per timed step."""
        if self.steps <= self.warmup:
            raise RuntimeError(f'only {self.steps} steps ran; {self.warmup} are warm-up')
        return (self.end - self.begin) / (self.steps - self.warmup)


def count_train_flops(model: torch.nn.Module, batch: dict[str, Any], precision: str) -> int:
    """FLOPs of one forward + backward of ``model`` on ``batch`` (FlopCounterMode).

    Counts matrix products, convolutions and attention, which is what MFU means by model
    FLOPs; elementwise work and the optimiser are not counted.
    """
    from open_clip.loss import ClipLoss
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    dtype = _autocast_dtype(precision)
    images = batch['image'].to(device)
    tokens = batch['text'].to(device)
    counter = FlopCounterMode(display=False)
    with counter:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = ClipLoss()(*model(images, tokens))
        loss.backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def train_bare(
    model_name: str,
    precision: str,
    batches: list[dict[str, Any]],
    sizes: Sizes,
    device: torch.device,
) -> dict[str, Any]:
    """The loop a user would write with open_clip alone."""
    from open_clip.loss import ClipLoss
    from torch.optim.lr_scheduler import LambdaLR

    from rs_vlm.models import create_clip
    from rs_vlm.modules import WarmupCosineSchedule, no_weight_decay_names, param_groups

    torch.manual_seed(0)
    model = create_clip(model_name).to(device).train()
    named = [('model.' + name, param) for name, param in model.named_parameters()]
    optimizer = torch.optim.AdamW(
        param_groups(named, no_weight_decay_names(model), 0.2), lr=1e-4, betas=(0.9, 0.98),
        eps=1e-6,
    )  # fmt: skip
    scheduler = LambdaLR(optimizer, WarmupCosineSchedule(2, sizes.steps))
    loss_fn = ClipLoss()
    dtype = _autocast_dtype(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    _reset_peak(device)
    clock = WindowClock(device, sizes.warmup_steps)
    losses: list[float] = []
    for batch in loader:
        clock.step_start()
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
        losses.append(float(loss.detach()))  # Lightning reads the loss every step too
    clock.stop()
    return {
        'step_s': clock.step_s(),
        'peak_mib': _peak_mib(device),
        'first_loss': losses[0],
        'model': model,
    }


def train_lightning(
    model_name: str,
    precision: str,
    batches: list[dict[str, Any]],
    sizes: Sizes,
    device: torch.device,
) -> dict[str, Any]:
    """``RemoteCLIPModule`` under a Lightning Trainer."""
    from lightning.pytorch import Callback

    from rs_vlm.modules import RemoteCLIPModule

    clock = WindowClock(device, sizes.warmup_steps)
    losses: list[float] = []

    class StepClock(Callback):
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            _reset_peak(device)

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
            clock.step_start()

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, out: Any, b: Any, i: int
        ) -> None:
            if not losses:
                losses.append(float(out['loss']))

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            clock.stop()

    torch.manual_seed(0)
    module = RemoteCLIPModule(
        model_name, lr=1e-4, weight_decay=0.2, warmup_steps=2, max_steps=sizes.steps
    )
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    trainer = _quiet_trainer(
        device, precision=precision, max_steps=sizes.steps, callbacks=[StepClock()],
        limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=loader)
    return {
        'step_s': clock.step_s(),
        'peak_mib': _peak_mib(device),
        'first_loss': losses[0] if losses else None,
    }


def section_training(
    section: dict[str, Any],
    report: Report,
    sizes: Sizes,
    device: torch.device,
    peak_flops: float | None,
    reserve_s: float,
) -> None:
    """Lightning vs bare, alternating, for every model and precision.

    No new round starts once less than ``reserve_s`` of the budget is left (kept for the
    sections after this one).
    """
    section['batch_size'] = sizes.batch_size
    section['steps'] = (
        f'{sizes.steps} per run, the first {sizes.warmup_steps} not timed; mean step time over '
        'the timed window (one synchronisation where it opens and one where it closes)'
    )
    section['flops'] = 'torch.utils.flop_counter.FlopCounterMode, one forward + backward'
    section['peak_flops_used'] = peak_flops
    matmul = report.data['sections'].get('matmul', {})
    measured = matmul.get('tflops') * 1e12 if matmul.get('tflops') else None
    rows: list[dict[str, Any]] = []
    section['rows'] = rows
    for model_name in sizes.models:
        batches = _make_batches(model_name, sizes, device)
        flops = None
        for precision in sizes.precisions:
            row: dict[str, Any] = {'model': model_name, 'precision': precision, 'rounds': []}
            rows.append(row)
            if precision == '16-mixed' and device.type == 'cpu':
                row['status'] = 'skipped: Lightning has no fp16 mixed precision on the CPU'
                report.save()
                continue
            for round_index in range(sizes.rounds):
                if report.remaining() < reserve_s:
                    row['status'] = f'stopped after {round_index} rounds: budget'
                    break
                order = ('bare', 'ours') if round_index % 2 == 0 else ('ours', 'bare')
                result: dict[str, Any] = {}
                for side in order:
                    runner = train_bare if side == 'bare' else train_lightning
                    result[side] = runner(model_name, precision, batches, sizes, device)
                    if side == 'bare' and flops is None:
                        flops = count_train_flops(result['bare']['model'], batches[0], precision)
                        section.setdefault('flops_per_step', {})[model_name] = flops
                    result[side].pop('model', None)
                    _free_memory()
                row['rounds'].append(
                    {
                        side: {
                            'samples_per_s': round(sizes.batch_size / values['step_s'], 1),
                            'step_ms': round(values['step_s'] * 1e3, 2),
                            'peak_mib': None
                            if values['peak_mib'] is None
                            else round(values['peak_mib'], 1),
                            'first_loss': values['first_loss'],
                        }
                        for side, values in result.items()
                    }
                )
                _summarise_row(row, sizes, flops, peak_flops, measured)
                report.save()
                print(
                    f'  {model_name} {precision} round {round_index + 1}: {row["summary"]}',
                    flush=True,
                )
            row.setdefault('status', 'ok')


def _summarise_row(
    row: dict[str, Any],
    sizes: Sizes,
    flops: int | None,
    peak_flops: float | None,
    measured: float | None,
) -> None:
    rounds = row['rounds']
    ours = statistics.median(r['ours']['samples_per_s'] for r in rounds)
    bare = statistics.median(r['bare']['samples_per_s'] for r in rounds)
    summary: dict[str, Any] = {
        'ours_samples_per_s': round(ours, 1),
        'bare_samples_per_s': round(bare, 1),
        'samples_per_s_ratio': round(
            statistics.median(
                r['ours']['samples_per_s'] / r['bare']['samples_per_s'] for r in rounds
            ),
            3,
        ),
    }
    if rounds[0]['ours']['peak_mib'] is not None:
        summary['ours_peak_mib'] = round(
            statistics.median(r['ours']['peak_mib'] for r in rounds), 1
        )
        summary['bare_peak_mib'] = round(
            statistics.median(r['bare']['peak_mib'] for r in rounds), 1
        )
        summary['peak_memory_ratio'] = round(
            statistics.median(r['ours']['peak_mib'] / r['bare']['peak_mib'] for r in rounds), 3
        )
    if flops:
        achieved = flops / sizes.batch_size * ours
        summary['ours_tflops'] = round(achieved / 1e12, 1)
        if peak_flops:
            summary['mfu'] = round(achieved / peak_flops, 3)
        if measured:
            summary['fraction_of_measured_matmul'] = round(achieved / measured, 3)
    row['summary'] = summary


@contextlib.contextmanager
def _without(parts: tuple[str, ...]) -> Iterator[None]:
    """Switch parts of RemoteCLIPModule's step off, to measure what each costs.

    ``guard``: the non-finite loss check (a host synchronisation after the forward pass);
    ``log``: the per-step ``self.log`` calls. Restored on exit.
    """
    from rs_vlm.modules import RemoteCLIPModule
    from rs_vlm.reliability.nonfinite_loss import NonFiniteLossGuard

    replacements: dict[str, tuple[type, str, Any]] = {
        'guard': (NonFiniteLossGuard, 'check', lambda self, loss, batch, **kwargs: True),
        'log': (RemoteCLIPModule, 'log', lambda self, *args, **kwargs: None),
    }
    saved = []
    for part in parts:
        owner, name, value = replacements[part]
        saved.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, original in saved:
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


#: Variant name -> parts of our step switched off.
OVERHEAD_VARIANTS: dict[str, tuple[str, ...]] = {
    'ours': (),
    'ours_without_loss_guard': ('guard',),
    'ours_without_loss_guard_and_logging': ('guard', 'log'),
}


def section_training_overhead(
    section: dict[str, Any], report: Report, sizes: Sizes, device: torch.device
) -> None:
    """Where ours loses to bare: the same runs with parts of the module's step switched off."""
    model_name = sizes.models[-1]
    section.update(model=model_name, variants={k: list(v) for k, v in OVERHEAD_VARIANTS.items()})
    batches = _make_batches(model_name, sizes, device)
    results: dict[str, Any] = {}
    section['samples_per_s'] = results
    for precision in sizes.precisions:
        if precision == '16-mixed' and device.type == 'cpu':
            continue
        runs: dict[str, list[float]] = {'bare': [], **{k: [] for k in OVERHEAD_VARIANTS}}
        for _ in range(sizes.rounds):
            if report.remaining() < 30:
                section['note'] = 'stopped early: budget'
                break
            runs['bare'].append(
                sizes.batch_size
                / train_bare(model_name, precision, batches, sizes, device)['step_s']
            )
            for variant, parts in OVERHEAD_VARIANTS.items():
                with _without(parts):
                    step_s = train_lightning(model_name, precision, batches, sizes, device)[
                        'step_s'
                    ]
                runs[variant].append(sizes.batch_size / step_s)
                _free_memory()
        if not runs['bare']:
            break
        bare = statistics.median(runs['bare'])
        results[precision] = {
            name: {
                'samples_per_s': round(statistics.median(values), 1),
                'ratio_to_bare': round(statistics.median(values) / bare, 3),
            }
            for name, values in runs.items()
            if values
        }
        report.save()


# -- FSDP ------------------------------------------------------------------------------------------


def predict_max_batch(
    points: list[tuple[int, float]], capacity_mib: float, multiple: int = 8
) -> int:
    """Largest batch whose memory, extrapolated linearly from two measured points, fits.

    Args:
        points: ``(batch, peak MiB)`` pairs; the two largest batches define the line.
        capacity_mib: Memory the run may use.
        multiple: Round the batch down to a multiple of this.

    Returns:
        The predicted batch (at least the largest measured one).

    Raises:
        ValueError: With fewer than two distinct batches, or memory not growing with the batch.
    """
    ordered = sorted(dict(points).items())
    if len(ordered) < 2:
        raise ValueError(f'need peak memory at two batch sizes, got {ordered}')
    (b0, m0), (b1, m1) = ordered[-2], ordered[-1]
    per_sample = (m1 - m0) / (b1 - b0)
    if per_sample <= 0:
        raise ValueError(f'peak memory does not grow with the batch: {ordered}')
    batch = b1 + (capacity_mib - m1) / per_sample
    return max(b1, int(batch) // multiple * multiple)


def next_fsdp_batch(
    fits: list[tuple[int, float]], fails: list[int], capacity_mib: float, tolerance: float = 0.05
) -> int | None:
    """The next batch to try in the search for the largest batch that fits.

    Args:
        fits: ``(batch, peak MiB)`` of the batches that fit (at least two).
        fails: Batches that ran out of memory.
        capacity_mib: Memory the run may use.
        tolerance: Stop once the largest fit is within this fraction of the smallest failure.

    Returns:
        The batch to try (a multiple of 8), or None when the search is done.
    """
    best = max(batch for batch, _ in fits)
    if fails:
        failed = min(fails)
        if failed - best <= max(8, tolerance * best):
            return None
        middle = (best + failed) // 2 // 8 * 8
        return middle if middle > best else None
    candidate = predict_max_batch(fits, capacity_mib)
    if candidate <= best * (1 + tolerance):
        # the prediction says we are there: one step beyond, to find the failure
        candidate = int(best * 1.1) // 8 * 8
    return candidate


def _fsdp_fit(base: Any, batch_size: int, sizes: Sizes, device: torch.device) -> dict[str, Any]:
    from lightning.pytorch import Callback

    from rs_vlm.models import CLIPFSDPStrategy

    starts: list[float] = []

    class StepClock(Callback):
        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
            _sync(device)
            starts.append(time.perf_counter())

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            _sync(device)
            starts.append(time.perf_counter())

    module = copy.deepcopy(base)  # FSDP wraps the module's blocks in place
    size = _image_size(module.model)
    generator = torch.Generator(device=device).manual_seed(batch_size)
    # one batch on the device, stepped over fsdp_steps times: a second copy would take memory
    batch = {
        'image': torch.randn(batch_size, 3, size, size, device=device, generator=generator),
        'text': module.tokenizer(_captions(batch_size)).to(device),
    }
    batches = [batch] * sizes.fsdp_steps
    strategy = CLIPFSDPStrategy(activation_checkpointing=True, sharding_strategy='FULL_SHARD')
    trainer = _quiet_trainer(
        device, strategy=strategy, precision=_fsdp_precision(device), max_steps=sizes.fsdp_steps,
        callbacks=[StepClock()], limit_val_batches=0,
    )  # fmt: skip
    _reset_peak(device)
    try:
        trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
        loss = trainer.callback_metrics.get('train/loss')
        if loss is None or not torch.isfinite(loss):
            raise RuntimeError(f'FSDP training loss not finite: {loss}')
        step_s = starts[-1] - starts[-2]
        result = {
            'batch': batch_size,
            'fits': True,
            'last_step_ms': round(step_s * 1e3, 1),
            'samples_per_s': round(batch_size / step_s, 1),
            'loss': round(float(loss), 4),
        }
        if device.type == 'cuda':
            result['peak_allocated_mib'] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            result['peak_reserved_mib'] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
        return result
    finally:
        del trainer, module, batch, batches
        _free_memory()


def _fsdp_precision(device: torch.device) -> str:
    # torch's FSDP mixed precision needs an accelerator: its CPU path fails in layer norm
    return 'bf16-mixed' if device.type == 'cuda' else '32-true'


def _is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or 'out of memory' in str(error)


def section_fsdp(
    section: dict[str, Any], report: Report, sizes: Sizes, device: torch.device
) -> None:
    """ViT-L-14 with CLIPFSDPStrategy on one device: the paper's batch and the largest that fits."""
    from rs_vlm.modules import RemoteCLIPModule

    section.update(
        model=sizes.fsdp_model,
        strategy='CLIPFSDPStrategy(FULL_SHARD, activation checkpointing), 1 device',
        precision=_fsdp_precision(device),
        paper_batch=sizes.fsdp_batch,
        sharding_note=(
            'torch FSDP runs FULL_SHARD as NO_SHARD at world size 1: on one device the memory '
            'saving comes from activation checkpointing, not from sharding'
        ),
    )
    torch.manual_seed(0)
    base = RemoteCLIPModule(sizes.fsdp_model, lr=1e-4, warmup_steps=1, max_steps=sizes.fsdp_steps)
    tries: list[dict[str, Any]] = []
    section['tries'] = tries

    def attempt(batch: int) -> bool:
        print(f'  fsdp batch {batch}', flush=True)
        try:
            tries.append(_fsdp_fit(base, batch, sizes, device))
        except Exception as error:
            if not _is_oom(error):
                raise
            tries.append({'batch': batch, 'fits': False, 'error': str(error).splitlines()[0][:300]})
        report.save()
        return tries[-1]['fits']

    if not attempt(sizes.fsdp_batch):
        section['status'] = 'error'
        section['error'] = 'the paper batch does not fit'
        return
    if device.type == 'cuda':
        attempt(sizes.fsdp_probe_batch)
        total_mib = torch.cuda.get_device_properties(device).total_memory / 2**20
        capacity = 0.92 * total_mib
        section['capacity_mib'] = round(capacity, 1)
        section['search'] = (
            'predict from the peak reserved memory of the two largest batches that fit, '
            'until one does not; then bisect to within 5 %'
        )
        for _ in range(sizes.fsdp_search_tries):
            if report.remaining() < 60:
                section['note'] = 'search stopped early: budget'
                break
            candidate = next_fsdp_batch(
                [(t['batch'], t['peak_reserved_mib']) for t in tries if t['fits']],
                [t['batch'] for t in tries if not t['fits']],
                capacity,
            )
            if candidate is None:
                break
            section.setdefault('predicted', []).append(candidate)
            attempt(candidate)
    else:
        batch = sizes.fsdp_batch * 2
        while batch <= sizes.fsdp_cpu_cap and report.remaining() > 30 and attempt(batch):
            batch *= 2
        section['note'] = (
            f'no device memory figure on {device.type}: batch doubled up to {sizes.fsdp_cpu_cap}'
        )
    fits = [t['batch'] for t in tries if t['fits']]
    fails = [t['batch'] for t in tries if not t['fits']]
    section['largest_batch_that_fits'] = max(fits)
    section['smallest_batch_out_of_memory'] = min(fails) if fails else None
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# -- callbacks -------------------------------------------------------------------------------------


class ImageBank:
    """Random uint8 images reused by index, so the datasets cost no decoding."""

    def __init__(self, size: int, count: int = 32) -> None:
        generator = torch.Generator().manual_seed(2)
        self.images = torch.randint(
            0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator
        )

    def float_image(self, index: int) -> torch.Tensor:
        """A float CHW 0..255 image, as the datasets give them."""
        return self.images[index % len(self.images)].float()


class RetrievalStandIn(torch.utils.data.Dataset):
    """A retrieval set of RSICD's test shape: N images, 5 captions each."""

    def __init__(self, bank: ImageBank, images: int, captions_per_image: int) -> None:
        self.bank = bank
        self.count = images
        self.captions = _captions(images * captions_per_image)
        self.caption_to_image = [i // captions_per_image for i in range(len(self.captions))]

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {'image': self.bank.float_image(index), 'index': index}


class SceneStandIn(torch.utils.data.Dataset):
    """A scene-classification set: labelled images, class names and prompt templates."""

    def __init__(self, bank: ImageBank, images: int, classes: int) -> None:
        self.bank = bank
        self.count = images
        self.classes = [f'{CAPTION_WORDS[i % 16]} {i}' for i in range(classes)]
        self.templates = SCENE_TEMPLATES

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {'image': self.bank.float_image(index), 'label': index % len(self.classes)}


def section_callbacks(section: dict[str, Any], sizes: Sizes, device: torch.device) -> None:
    """Seconds per validation epoch with ZeroShotCallback / RetrievalCallback on the device."""
    from rs_vlm.callbacks import RetrievalCallback, ZeroShotCallback
    from rs_vlm.modules import RemoteCLIPModule

    torch.manual_seed(0)
    module = RemoteCLIPModule(sizes.eval_model)
    size = _image_size(module.model)
    bank = ImageBank(size)
    retrieval = RetrievalStandIn(bank, sizes.retrieval_images, sizes.captions_per_image)
    scene = SceneStandIn(bank, sizes.scene_images, sizes.scene_classes)
    val_batch = {'image': torch.randn(2, 3, size, size), 'text': module.tokenizer(_captions(2))}
    val_loader = torch.utils.data.DataLoader([val_batch], batch_size=None)
    precision = 'bf16-mixed'
    options = {'batch_size': sizes.eval_batch_size, 'num_workers': min(4, os.cpu_count() or 1)}
    section.update(
        model=sizes.eval_model,
        precision=precision,
        retrieval_shape=f'{len(retrieval)} images, {len(retrieval.captions)} captions (RSICD test)',
        scene_shape=(
            f'{len(scene)} images, {len(scene.classes)} classes x {len(SCENE_TEMPLATES)} templates'
        ),
        callback_options=options,
    )
    variants: dict[str, Callable[[], list[Any]]] = {
        'no_callback': list,
        'zero_shot': lambda: [ZeroShotCallback({'scene': scene}, **options)],
        'retrieval': lambda: [RetrievalCallback({'rsicd_shape': retrieval}, **options)],
    }
    timings: dict[str, Any] = {}
    section['validation_epoch_s'] = timings
    for name, make in variants.items():
        seconds = []
        for _ in range(2):  # the first run pays the warm-up (kernels, workers)
            trainer = _quiet_trainer(device, precision=precision, callbacks=make())
            _sync(device)
            began = time.perf_counter()
            trainer.validate(module, dataloaders=val_loader, verbose=False)
            _sync(device)
            seconds.append(time.perf_counter() - began)
        metrics = {
            k: round(float(v), 3) for k, v in trainer.callback_metrics.items() if k != 'val/loss'
        }
        timings[name] = {
            'first_s': round(seconds[0], 3),
            'second_s': round(seconds[1], 3),
            'metrics': metrics,
        }
    base = timings['no_callback']['second_s']
    for name in ('zero_shot', 'retrieval'):
        timings[name]['callback_s'] = round(timings[name]['second_s'] - base, 3)
        values = timings[name]['metrics'].values()
        if not values or not all(0 <= v <= 100 for v in values):
            raise RuntimeError(
                f'{name} logged no or out-of-range metrics: {timings[name]["metrics"]}'
            )


# -- augmentation ----------------------------------------------------------------------------------


def section_augmentation(section: dict[str, Any], sizes: Sizes, device: torch.device) -> None:
    """uint8 host batches -> device -> clip_train_augmentation, images/s."""
    from rs_vlm.datamodules.augmentation import clip_mean_std, clip_train_augmentation

    mean, std = clip_mean_std()
    generator = torch.Generator().manual_seed(3)
    shape = (sizes.aug_batch, 3, sizes.aug_source_size, sizes.aug_source_size)
    host = [torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator) for _ in range(2)]
    if device.type == 'cuda':
        host = [batch.pin_memory() for batch in host]
    section.update(
        batch=(
            f'{sizes.aug_batch} x uint8 3x{sizes.aug_source_size}x{sizes.aug_source_size} '
            f'-> float 3x{sizes.aug_size}x{sizes.aug_size}'
        ),
        pipeline=(
            'clip_train_augmentation: random resized crop (0.9-1), flip, quarter turns, normalise'
        ),
    )

    def rate(
        target: torch.device, transform: Callable[[torch.Tensor], torch.Tensor], iterations: int
    ) -> float:
        for batch in host[:2]:  # warm-up
            transform(batch.to(target, non_blocking=True))
        _sync(target)
        began = time.perf_counter()
        for index in range(iterations):
            out = transform(host[index % 2].to(target, non_blocking=True))
        _sync(target)
        seconds = time.perf_counter() - began
        if out.dtype == torch.float32 and out.shape[-2:] != (sizes.aug_size, sizes.aug_size):
            raise RuntimeError(f'augmentation gave shape {tuple(out.shape)}')
        return iterations * sizes.aug_batch / seconds

    pipeline = clip_train_augmentation(sizes.aug_size, mean, std).to(device)
    on_device = rate(device, lambda x: pipeline({'image': x})['image'], sizes.aug_iterations)
    copy_only = rate(device, lambda x: x, sizes.aug_iterations)
    section['images_per_s'] = round(on_device, 1)
    section['copy_only_images_per_s'] = round(copy_only, 1)
    if device.type == 'cuda':
        cpu_pipeline = clip_train_augmentation(sizes.aug_size, mean, std)
        on_cpu = rate(torch.device('cpu'), lambda x: cpu_pipeline({'image': x})['image'], 2)
        section['cpu_images_per_s'] = round(on_cpu, 1)
        section['cpu_threads'] = torch.get_num_threads()
        section['device_over_cpu'] = round(on_device / on_cpu, 2)


# -- CUDA tests ------------------------------------------------------------------------------------


def parse_junit(path: Path) -> dict[str, Any]:
    """Counts and per-test outcomes from a pytest JUnit XML file."""
    root = ET.parse(path).getroot()
    cases = []
    for case in root.iter('testcase'):
        outcome, message = 'passed', ''
        for kind in ('failure', 'error', 'skipped'):
            element = case.find(kind)
            if element is not None:
                outcome = {'failure': 'failed', 'error': 'error', 'skipped': 'skipped'}[kind]
                message = (element.get('message') or element.text or '')[:500]
                break
        cases.append(
            {
                'test': f'{case.get("classname")}::{case.get("name")}',
                'outcome': outcome,
                'seconds': round(float(case.get('time') or 0), 2),
                'message': message,
            }
        )
    counts = {
        name: sum(c['outcome'] == name for c in cases)
        for name in ('passed', 'failed', 'error', 'skipped')
    }
    return {'counts': counts, 'tests': cases}


def section_cuda_tests(section: dict[str, Any], report: Report, sizes: Sizes, output: Path) -> None:
    """``pytest -m cuda tests`` in a child process; outcomes from its JUnit XML."""
    xml = output / 'cuda_tests.xml'
    timeout = max(30.0, min(sizes.cuda_tests_max_s, report.remaining() - sizes.reserve_after_tests))
    command = [
        sys.executable, '-m', 'pytest', '-m', 'cuda', 'tests/cuda', '-q', '-p', 'no:cacheprovider',
        '-o', 'addopts=-ra --strict-markers', f'--junitxml={xml}',
    ]  # fmt: skip
    section['command'] = ' '.join(command[1:])
    env = {
        **os.environ,
        'PYTHONPATH': os.pathsep.join([str(REPO_ROOT), os.environ.get('PYTHONPATH', '')]),
    }
    try:
        done = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env
        )
        section['returncode'] = done.returncode
        section['output_tail'] = (done.stdout + done.stderr)[-3000:]
    except subprocess.TimeoutExpired as error:
        section['returncode'] = None
        section['timeout_s'] = round(timeout)
        section['output_tail'] = str(error.stdout or '')[-3000:]
    if not xml.exists():
        raise RuntimeError(
            f'pytest wrote no JUnit XML; output: {section.get("output_tail", "")[-1000:]}'
        )
    section.update(parse_junit(xml))
    if section['counts']['failed'] or section['counts']['error']:
        section['status'] = 'failures'


# -- markdown --------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:,.3f}' if abs(value) < 10 else f'{value:,.1f}'
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    lines += ['| ' + ' | '.join(_cell(value) for value in row) + ' |' for row in rows]
    return lines


def _training_lines(training: dict[str, Any]) -> list[str]:
    peak = training.get('peak_flops_used')
    against = f'{peak / 1e12:.1f} TFLOP/s (dense bf16 datasheet peak)' if peak else 'no peak'
    lines = ['', '## Training: RemoteCLIPModule + Trainer (ours) vs bare open_clip loop', '']
    lines.append(
        f'Batch {training["batch_size"]}, {training["steps"]}; FLOPs: {training["flops"]}; '
        f'MFU against {against}.'
    )
    lines.append('')
    header = ['model', 'precision', 'ours samples/s', 'bare samples/s', 'ratio ours/bare']
    header += ['ours peak MiB', 'bare peak MiB', 'memory ratio', 'TFLOP/s', 'MFU']
    header += ['of measured matmul']
    rows = []
    for row in training['rows']:
        s = row.get('summary')
        if not s:
            rows.append([row['model'], row['precision'], row.get('status')] + [''] * 8)
            continue
        keys = ['ours_samples_per_s', 'bare_samples_per_s', 'samples_per_s_ratio']
        keys += ['ours_peak_mib', 'bare_peak_mib', 'peak_memory_ratio', 'ours_tflops', 'mfu']
        keys.append('fraction_of_measured_matmul')
        rows.append([row['model'], row['precision'], *(s.get(key) for key in keys)])
    return lines + _table(header, rows)


def _fsdp_lines(fsdp: dict[str, Any]) -> list[str]:
    lines = ['', f'## FSDP: {fsdp["model"]}, {fsdp["strategy"]}, {fsdp["precision"]}', '']
    header = ['batch', 'fits', 'samples/s', 'last step ms', 'peak allocated MiB']
    header.append('peak reserved MiB')
    keys = ['samples_per_s', 'last_step_ms', 'peak_allocated_mib', 'peak_reserved_mib']
    rows = [[t['batch'], t['fits']] + [t.get(key) for key in keys] for t in fsdp['tries']]
    lines += _table(header, rows)
    lines.append('')
    lines.append(
        f'Paper batch {fsdp["paper_batch"]}; largest batch that fits: '
        f'{_cell(fsdp.get("largest_batch_that_fits"))}; smallest out of memory: '
        f'{_cell(fsdp.get("smallest_batch_out_of_memory"))}. {fsdp.get("note", "")}'
    )
    lines.append(f'Note: {fsdp["sharding_note"]}.')
    return lines


def _callback_lines(callbacks: dict[str, Any]) -> list[str]:
    lines = ['', f'## Callbacks on the device ({callbacks["model"]}, {callbacks["precision"]})']
    lines += [
        '',
        f'Retrieval: {callbacks["retrieval_shape"]}; zero-shot: {callbacks["scene_shape"]}.',
    ]
    lines.append('')
    rows = [
        [name, t['first_s'], t['second_s'], t.get('callback_s')]
        for name, t in callbacks['validation_epoch_s'].items()
    ]
    header = ['validation epoch', 'first s', 'second s', 'callback s (second - none)']
    return lines + _table(header, rows)


def _augmentation_lines(aug: dict[str, Any]) -> list[str]:
    lines = ['', '## Augmentation after transfer', '', f'{aug["batch"]}; {aug["pipeline"]}.', '']
    lines.append(
        f'- on the device: {_cell(aug["images_per_s"])} images/s '
        f'(copy alone {_cell(aug["copy_only_images_per_s"])})'
    )
    if 'cpu_images_per_s' in aug:
        lines.append(
            f'- same pipeline on the CPU ({aug["cpu_threads"]} threads): '
            f'{_cell(aug["cpu_images_per_s"])} images/s; device/CPU {aug["device_over_cpu"]}x'
        )
    return lines


def _test_lines(tests: dict[str, Any]) -> list[str]:
    lines = [
        '',
        '## Tests marked cuda',
        '',
        ', '.join(f'{k} {v}' for k, v in tests['counts'].items()),
    ]
    lines.append('')
    for case in tests['tests']:
        note = f' ({case["message"][:120]})' if case['message'] else ''
        lines.append(f'- {case["outcome"]}: `{case["test"]}` {case["seconds"]} s{note}')
    return lines


def _overhead_lines(overhead: dict[str, Any]) -> list[str]:
    lines = ['', f'## Where ours loses to bare ({overhead["model"]})', '']
    rows = [
        [precision, name, values['samples_per_s'], values['ratio_to_bare']]
        for precision, variants in overhead['samples_per_s'].items()
        for name, values in variants.items()
    ]
    return lines + _table(['precision', 'variant', 'samples/s', 'ratio to bare'], rows)


def render_markdown(data: dict[str, Any]) -> str:
    """The JSON report as a short Markdown page."""
    meta = data['meta']
    sections = data['sections']
    smoke = ' (smoke sizes)' if meta['smoke'] else ''
    lines = ['# GPU check', '']
    lines.append(
        f'Device `{meta["device"]}`{smoke}, budget {meta["budget_s"]} s, elapsed '
        f'{meta.get("elapsed_s")} s, started {meta["started_utc"]}.'
    )
    lines.append('')
    rows = [[name, s.get('status'), s.get('seconds')] for name, s in sections.items()]
    lines += _table(['section', 'status', 'seconds'], rows)
    env = sections.get('environment', {})
    if env.get('status') == 'ok':
        lines += ['', '## Environment', '']
        keys = ('gpu', 'capability', 'gpu_memory_gib', 'torch', 'cuda', 'lightning', 'open_clip')
        keys += ('pretrained', 'unwanted_imports')
        lines += [f'- {key}: {_cell(env[key])}' for key in keys if key in env]
    matmul = sections.get('matmul', {})
    if 'tflops' in matmul:
        lines.append('')
        lines.append(
            f'Measured matrix product: {matmul["n"]}^3 {matmul["dtype"]}, '
            f'{matmul["tflops"]} TFLOP/s (median).'
        )
    renderers: list[tuple[str, str, Callable[[dict[str, Any]], list[str]]]] = [
        ('training', 'rows', _training_lines),
        ('fsdp', 'tries', _fsdp_lines),
        ('callbacks', 'validation_epoch_s', _callback_lines),
        ('augmentation', 'images_per_s', _augmentation_lines),
        ('cuda_tests', 'counts', _test_lines),
        ('training_overhead', 'samples_per_s', _overhead_lines),
    ]
    for name, key, render in renderers:
        section = sections.get(name, {})
        if section.get(key):
            lines += render(section)
    errors = [(n, s) for n, s in sections.items() if s.get('status') == 'error']
    if errors:
        lines += ['', '## Errors', '']
        lines += [f'- {name}: {section.get("error")}' for name, section in errors]
    return '\n'.join(lines) + '\n'


# -- main ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    import logging
    import warnings

    import lightning.pytorch  # noqa: F401 - sets its log level on import; override after

    logging.getLogger('lightning.pytorch').setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*does not have many workers.*')
        warnings.filterwarnings('ignore', message='.*GPU available but not used.*')
        warnings.filterwarnings('ignore', message='.*(LR scheduler|sync_dist|torch.cuda.amp).*')
        yield


def main(argv: list[str] | None = None) -> int:
    """Run every section and write the report; 0 when no section failed."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--output', type=Path, required=True, help='folder for gpu_check.json/.md')
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--smoke', action='store_true', help='tiny models and sizes')
    parser.add_argument('--budget-s', type=float, default=420.0, help='time budget of all sections')
    parser.add_argument(
        '--sections', default=(
            'environment,matmul,training,callbacks,augmentation,cuda_tests,fsdp,'
            'training_overhead'
        ),
        help='comma-separated sections to run',
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda but torch sees no CUDA device')
    if args.output.exists() and not args.output.is_dir():
        parser.error(f'--output {args.output} exists and is not a folder')
    args.output.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    sizes = SMOKE if args.smoke else FULL
    meta = {
        'device': args.device,
        'smoke': args.smoke,
        'budget_s': args.budget_s,
        'started_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'sizes': asdict(sizes),
        'command': ' '.join(sys.argv),
    }
    report = Report(args.output, args.budget_s, meta)
    peak = None
    if device.type == 'cuda' and any(
        n in torch.cuda.get_device_name(device) for n in ('H100', 'H200')
    ):
        peak = HOPPER_BF16_DENSE_PEAK
    wanted = set(args.sections.split(','))
    # seconds the sections after training usually take on an H200 (20 s in all when smoke)
    typical = {'callbacks': 12, 'augmentation': 5, 'cuda_tests': 40, 'fsdp': 90}
    typical['training_overhead'] = 50
    reserve = 20.0 if args.smoke else float(sum(typical[n] for n in typical if n in wanted))
    # (name, estimated seconds needed to start it, function)
    plan: list[tuple[str, float, Callable[[dict[str, Any]], None]]] = [
        ('environment', 0, lambda s: section_environment(s, device)),
        ('matmul', 5, lambda s: section_matmul(s, device, sizes.matmul_n)),
        (
            'training',
            60 if not args.smoke else 5,
            lambda s: section_training(s, report, sizes, device, peak, reserve),
        ),
        ('callbacks', 20 if not args.smoke else 3, lambda s: section_callbacks(s, sizes, device)),
        (
            'augmentation',
            10 if not args.smoke else 1,
            lambda s: section_augmentation(s, sizes, device),
        ),
        (
            'cuda_tests',
            40 if not args.smoke else 5,
            lambda s: section_cuda_tests(s, report, sizes, args.output),
        ),
        ('fsdp', 60 if not args.smoke else 5, lambda s: section_fsdp(s, report, sizes, device)),
        (
            'training_overhead',
            40 if not args.smoke else 3,
            lambda s: section_training_overhead(s, report, sizes, device),
        ),
    ]
    with _quiet_lightning():
        for name, estimate, function in plan:
            if name in wanted:
                report.run(name, estimate, function)
    environment = report.data['sections'].get('environment', {})
    environment['unwanted_imports'] = [m for m in UNWANTED_MODULES if m in sys.modules]
    report.save()
    print(render_markdown(report.data), flush=True)
    failed = [
        n for n, s in report.data['sections'].items() if s.get('status') in ('error', 'failures')
    ]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
