"""NaN/inf training loss: ``skip`` leaves the weights untouched for that batch and counts it;
``raise`` stops training with the batch's source files in the message."""

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader

from rs_vlm.modules import RemoteCLIPModule
from rs_vlm.reliability import NonFiniteLossError, NonFiniteLossGuard

BAD_BATCH = 1


def test_guard_passes_finite_and_names_files_of_nonfinite() -> None:
    batch = {'path': ['/data/a.jpg', '/data/b.jpg']}
    guard = NonFiniteLossGuard('raise')
    assert guard.check(torch.tensor(0.5), batch, step=3)
    with pytest.raises(NonFiniteLossError, match=r'global step 7; source files: /data/a\.jpg, /d'):
        guard.check(torch.tensor(float('nan')), batch, step=7)
    skipping = NonFiniteLossGuard('skip')
    assert not skipping.check(torch.tensor(float('inf')), batch, step=1)
    assert not skipping.check(torch.tensor(-float('inf')), {}, step=2)
    assert skipping.num_skipped == 2
    with pytest.raises(ValueError, match='nonfinite_loss'):
        NonFiniteLossGuard('ignore')  # type: ignore[arg-type]


def test_guard_follows_the_decision_of_all_ranks() -> None:
    """A finite local loss is still skipped when another rank's is not (no rank diverges)."""
    guard = NonFiniteLossGuard('skip')
    assert not guard.check(torch.tensor(1.0), {}, step=0, all_ranks_finite=lambda local: False)
    assert guard.check(torch.tensor(1.0), {}, step=0, all_ranks_finite=lambda local: local)


class _Snapshots(Callback):
    def __init__(self) -> None:
        self.before: dict[int, dict[str, torch.Tensor]] = {}
        self.after: dict[int, dict[str, torch.Tensor]] = {}

    @staticmethod
    def _copy(module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in module.model.state_dict().items()}

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.before[batch_idx] = self._copy(module)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.after[batch_idx] = self._copy(module)


def _batches(module: RemoteCLIPModule) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    tokens = module.tokenizer(['a ship', 'two planes', 'a bridge', 'some trees'])
    batches = []
    for index in range(3):
        image = torch.randn(4, 3, 32, 32, generator=generator)
        if index == BAD_BATCH:
            image[2] = float('nan')  # one corrupt sample poisons the whole contrastive loss
        paths = [f'/corpus/img_{index}_{i}.jpg' for i in range(4)]
        batches.append({'image': image, 'text': tokens, 'path': paths})
    return batches


def _fit(
    policy: str, tmp_path: Path, callbacks: list, max_fraction: float = 0.5
) -> tuple[Trainer, RemoteCLIPModule]:
    torch.manual_seed(0)
    module = RemoteCLIPModule(
        'rs-vit-tiny',
        lr=1e-3,
        warmup_steps=1,
        max_steps=3,
        nonfinite_loss=policy,
        nonfinite_max_skipped_fraction=max_fraction,
    )
    trainer = Trainer(
        accelerator='cpu',
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
        default_root_dir=tmp_path,
    )
    loader = DataLoader(_batches(module), batch_size=None)
    trainer.fit(module, loader)
    return trainer, module


def test_skip_policy_skips_the_update_and_counts(tmp_path: Path) -> None:
    snapshots = _Snapshots()
    trainer, module = _fit('skip', tmp_path, [snapshots])
    assert trainer.state.finished
    for key, value in snapshots.before[BAD_BATCH].items():
        assert torch.equal(value, snapshots.after[BAD_BATCH][key]), key
    changed = [not torch.equal(v, snapshots.after[0][k]) for k, v in snapshots.before[0].items()]
    assert any(changed)  # a good batch does update the weights
    assert module.nonfinite_guard.num_skipped == 1
    assert trainer.callback_metrics['train/nonfinite_skipped'].item() == 1.0
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert math.isfinite(trainer.callback_metrics['train/loss'].item())


def test_raise_policy_names_the_batch_files(tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError) as info:
        _fit('raise', tmp_path, [])
    message = str(info.value)
    assert 'global step 1' in message
    assert all(f'/corpus/img_{BAD_BATCH}_{i}.jpg' in message for i in range(4))


def test_guard_stops_when_most_steps_are_skipped() -> None:
    """11 of 12 steps non-finite: stop at the third skip (3 of 3 > 10%), not exit 0."""
    guard = NonFiniteLossGuard('skip', max_skipped_fraction=0.1, min_skipped=3)
    nan, one = torch.tensor(float('nan')), torch.tensor(1.0)
    assert guard.check(one, {}, step=0)
    assert not guard.check(nan, {}, step=1)
    assert not guard.check(nan, {}, step=2)
    with pytest.raises(NonFiniteLossError, match=r'in 3 of 4 steps \(75%, more than the 10%'):
        guard.check(nan, {}, step=3)


def test_guard_tolerates_rare_skips_and_checks_the_total_at_the_end() -> None:
    guard = NonFiniteLossGuard('skip', max_skipped_fraction=0.1, min_skipped=3)
    for step in range(40):
        finite = step % 10 != 9  # every 10th skipped: never more than 10%, tolerated
        assert guard.check(torch.tensor(1.0 if finite else float('inf')), {}, step=step) is finite
    guard.check_fraction(at_end=True)
    short = NonFiniteLossGuard('skip', max_skipped_fraction=0.1, min_skipped=3)
    short.check(torch.tensor(float('nan')), {}, step=0)
    short.check(torch.tensor(1.0), {}, step=1)
    short.check_fraction()  # 1 skip: below min_skipped while running
    with pytest.raises(NonFiniteLossError, match='1 of 2 steps'):
        short.check_fraction(at_end=True)
    with pytest.raises(ValueError, match='max_skipped_fraction'):
        NonFiniteLossGuard('skip', max_skipped_fraction=1.5)


def test_skip_run_fails_when_the_fraction_is_exceeded(tmp_path: Path) -> None:
    """One NaN batch of three is 33%: with the default 10% the run ends in an error."""
    with pytest.raises(NonFiniteLossError, match='1 of 3 steps'):
        _fit('skip', tmp_path, [], max_fraction=0.1)
