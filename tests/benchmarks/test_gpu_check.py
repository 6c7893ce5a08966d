"""benchmarks/gpu_check.py: its CPU smoke run end to end, the batch search and bad arguments."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / 'benchmarks' / 'gpu_check.py'


def load_script():
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args, timeout=300):
    env = {**os.environ, 'PYTHONPATH': str(REPO_ROOT), 'OMP_NUM_THREADS': '1'}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env,
    )  # fmt: skip


def test_predict_max_batch_extrapolates_the_two_largest_points():
    predict = load_script().predict_max_batch
    # 10 000 MiB at 28, 20 000 MiB at 112: 10 000/84 MiB per sample; 100 000 MiB holds
    # 28 + 90 000 * 84 / 10 000 = 784 samples
    assert predict([(28, 10_000.0), (112, 20_000.0)], 100_000.0) == 784
    assert predict([(4, 1.0), (28, 10_000.0), (112, 20_000.0)], 100_000.0) == 784
    # never below the largest batch already measured
    assert predict([(28, 10_000.0), (112, 20_000.0)], 15_000.0) == 112
    with pytest.raises(ValueError, match='two batch sizes'):
        predict([(28, 10_000.0)], 100_000.0)
    with pytest.raises(ValueError, match='does not grow'):
        predict([(28, 10_000.0), (112, 9_000.0)], 100_000.0)


def test_refuses_an_output_that_is_a_file(tmp_path):
    target = tmp_path / 'taken'
    target.write_text('keep me')
    done = run_script('--device', 'cpu', '--smoke', '--output', str(target), timeout=120)
    assert done.returncode == 2
    assert f'--output {target} exists and is not a folder' in done.stderr
    assert target.read_text() == 'keep me'


@pytest.mark.slow
def test_cpu_smoke_run_writes_every_section(tmp_path):
    done = run_script('--device', 'cpu', '--smoke', '--output', str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / 'gpu_check.json').read_text())
    sections = report['sections']
    assert list(sections) == [
        'environment', 'matmul', 'training', 'callbacks', 'augmentation', 'cuda_tests', 'fsdp',
        'training_overhead',
    ]  # fmt: skip
    assert {name: s['status'] for name, s in sections.items()} == dict.fromkeys(sections, 'ok')
    assert sections['environment']['unwanted_imports'] == []
    rows = sections['training']['rows']
    measured = [r for r in rows if r.get('summary')]
    assert {(r['model'], r['precision']) for r in measured} == {
        ('rs-rn-tiny', 'bf16-mixed'),
        ('rs-vit-tiny', 'bf16-mixed'),
    }
    for row in measured:
        assert len(row['rounds']) == 2
        for side in ('ours', 'bare'):
            # same seed, same weights, same first batch: the same first loss on both sides
            assert row['rounds'][0][side]['first_loss'] == pytest.approx(
                row['rounds'][0]['bare']['first_loss'], rel=1e-2
            )
        assert row['summary']['samples_per_s_ratio'] > 0
    assert all(flops > 0 for flops in sections['training']['flops_per_step'].values())
    fsdp = sections['fsdp']
    assert fsdp['largest_batch_that_fits'] == 16 and [t['batch'] for t in fsdp['tries']] == [
        4,
        8,
        16,
    ]
    timings = sections['callbacks']['validation_epoch_s']
    assert set(timings['zero_shot']['metrics']) == {'val/scene/top1', 'val/scene/top5'}
    assert len(timings['retrieval']['metrics']) == 7
    assert sections['augmentation']['images_per_s'] > 0
    tests = sections['cuda_tests']
    # without CUDA every test marked cuda is collected and skipped
    assert tests['counts']['skipped'] == len(tests['tests']) >= 7
    assert all(t['test'].startswith('tests.cuda.') for t in tests['tests'])
    overhead = sections['training_overhead']['samples_per_s']['bf16-mixed']
    assert set(overhead) == {
        'bare',
        'ours',
        'ours_without_loss_guard',
        'ours_without_loss_guard_and_logging',
    }
    markdown = (tmp_path / 'gpu_check.md').read_text()
    for heading in (
        '## Training',
        '## FSDP',
        '## Callbacks',
        '## Augmentation',
        '## Tests marked cuda',
    ):
        assert heading in markdown


def test_fsdp_search_finds_the_largest_batch_within_five_percent():
    script = load_script()
    capacity = 132_000.0

    def memory(batch):  # a made-up device: 9 GB fixed + 100 MiB per sample; 1230 fit
        return 9_000.0 + 100.0 * batch

    fits, fails, tried = [(28, memory(28)), (112, memory(112))], [], []
    while (batch := script.next_fsdp_batch(fits, fails, capacity)) is not None:
        tried.append(batch)
        if memory(batch) <= capacity:
            fits.append((batch, memory(batch)))
        else:
            fails.append(batch)
        assert len(tried) < 10
    best = max(b for b, _ in fits)
    assert best <= 1230 < min(fails) and min(fails) - best <= 0.05 * best
    assert tried[0] == 1224  # the prediction from the two probes, rounded down to 8
