"""Every fenced code block of README.md is run here or by ``.ci/run`` (docs that rot are bugs).

``rs-vlm`` lines run in-process through :func:`rs_vlm.cli.main` in one temporary working
directory, in README order, with the inputs they name made by the tests (tiny images, masks and
checkpoints; real DOTA and NEON label files from the shared fixtures, skipped when absent).
Python blocks are executed there too. Set-up lines (``make``, ``pip``, ``pytest``, ``ruff``) must
be commands that ``.ci/run`` or the Makefile runs; benchmark lines must name a script that
answers ``--help``. A README line no test knows how to check fails
:func:`test_every_readme_line_is_covered`.
"""

import csv
import json
import math
import re
import shlex
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from readme_blocks import CodeBlock, ShellCommand, ci_commands, readme_blocks, shell_commands

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('readme')]

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / 'README.md'

#: Minimal overrides appended to heavy README commands, each with why it is needed here.
OVERRIDES: dict[tuple[str, ...], tuple[str, ...]] = {
    ('fit', '--config', 'configs/vit-b-32.yaml', '--data.init_args.data_root=data'): (
        # ViT-B-32 with OpenAI weights needs a download and minutes per step on CPU; the tiny
        # ViT of the same family runs the same module, datamodule and CLI code paths (its
        # 32 px input and context length follow from the model name).
        '--model.init_args.model_name=rs-vit-tiny',
        # no network on CI: random initialisation instead of OpenAI's weights.
        '--model.init_args.pretrained=null',
        # the mixture prepared from the fixtures holds the two DOTA images (the train loader
        # drops incomplete batches).
        '--data.init_args.batch_size=2',
        # two shared CPU cores: worker processes only add start-up time.
        '--data.init_args.num_workers=0',
        # one training batch instead of 108,215 steps (no checkpoints or logs written).
        '--trainer.fast_dev_run=true',
        # the recipe's 16-mixed AMP is for GPUs.
        '--trainer.accelerator=cpu',
        '--trainer.precision=32-true',
    ),
}

#: README lines covered by another test, with where.
COVERED_ELSEWHERE: dict[tuple[str, ...], str] = {
    ('.venv/bin/rs-vlm', 'fit', '--config', 'configs/demo.yaml'): (
        'the demo config is run (shortened) by tests/demo'
    ),
}

_STATE: dict[str, Any] = {}


# -- README structure ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One README item to run: a shell command or a Python block.

    Attributes:
        kind: ``'rs-vlm'``, ``'setup'``, ``'benchmark'`` or ``'python'``.
        line: README line number.
        command: The shell command (None for Python blocks).
        block: The Python block (None for shell commands).
    """

    kind: str
    line: int
    command: ShellCommand | None = None
    block: CodeBlock | None = None

    @property
    def id(self) -> str:
        """A test id naming the README line."""
        if self.command is not None:
            return f'L{self.line}:{" ".join(self.command.tokens[:3])}'
        return f'L{self.line}:python'


def _kind(command: ShellCommand) -> str | None:
    head = command.tokens[0]
    if head in ('rs-vlm', '.venv/bin/rs-vlm'):
        return 'rs-vlm'
    if head == 'make' or head.endswith(('/pip', '/ruff')) or head in ('python3', 'pip'):
        return 'setup'
    if command.tokens[1:3] == ('-m', 'pytest'):
        return 'setup'
    if len(command.tokens) == 2 and command.tokens[1].startswith('benchmarks/'):
        return 'benchmark'
    return None


def readme_steps() -> list[Step]:
    """Every shell command and Python block of the README, in order."""
    steps: list[Step] = []
    for block in readme_blocks(README):
        if block.language == 'python':
            steps.append(Step('python', block.line, block=block))
        elif block.language in ('bash', 'sh', 'shell', 'console'):
            for command in shell_commands(block):
                steps.append(Step(_kind(command) or 'unknown', command.line, command=command))
        else:
            steps.append(Step('unknown', block.line, block=block))
    return steps


STEPS = readme_steps()


def test_every_readme_line_is_covered() -> None:
    """Every block is bash or python and every shell line is of a kind a test checks."""
    unknown = [step.id for step in STEPS if step.kind == 'unknown']
    assert not unknown, f'README lines no test runs (add a handler in {__file__}): {unknown}'
    assert sum(step.kind == 'rs-vlm' for step in STEPS) >= 10
    assert sum(step.kind == 'python' for step in STEPS) == 3


# -- set-up and benchmark lines: run by .ci/run ---------------------------------------------------


@pytest.mark.parametrize('step', [s for s in STEPS if s.kind == 'setup'], ids=lambda s: s.id)
def test_setup_line_is_run_by_ci(step: Step) -> None:
    """``make``/``pip``/``pytest``/``ruff`` lines are commands .ci/run or the Makefile runs."""
    assert step.command is not None
    ci = ci_commands(REPO_ROOT / '.ci' / 'run', REPO_ROOT / 'Makefile')
    tokens = list(step.command.tokens)
    if tokens[0] == 'make':
        targets = {
            line.split(':')[0]
            for line in (REPO_ROOT / 'Makefile').read_text(encoding='utf-8').splitlines()
            if line and not line.startswith(('\t', '#', '.')) and ':' in line and '=' not in line
        }
        assert set(tokens[1:]) <= targets, f'README line {step.line}: no Makefile target'
        return
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == '&&':
            parts.append([])
        else:
            parts[-1].append(token)
    for part in parts:
        if tuple(part) in ci:
            continue
        # `pytest -m EXPR`: the plain command must be in CI and EXPR may name only markers
        # registered in setup.cfg (with --strict-markers CI would reject the others).
        assert part[1:3] == ['-m', 'pytest'] and '-m' in part[3:], (
            f'README line {step.line}: {" ".join(part)!r} is run neither by .ci/run nor make'
        )
        assert tuple(part[: part.index('-m', 3)]) in ci
        expression = part[part.index('-m', 3) + 1]
        registered = (REPO_ROOT / 'setup.cfg').read_text(encoding='utf-8')
        for word in expression.replace('(', ' ').replace(')', ' ').split():
            if word not in ('not', 'and', 'or'):
                assert f'\n    {word}:' in registered, f'marker {word!r} is not registered'


@pytest.mark.parametrize('step', [s for s in STEPS if s.kind == 'benchmark'], ids=lambda s: s.id)
def test_benchmark_line_names_a_script(step: Step) -> None:
    """Benchmark lines name an existing script that answers ``--help`` (not run: too slow)."""
    assert step.command is not None
    script = REPO_ROOT / step.command.tokens[1]
    assert script.is_file(), f'README line {step.line}: {script} does not exist'
    result = subprocess.run(
        [sys.executable, str(script), '--help'],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert 'usage' in result.stdout.lower()


# -- the walk through the README ------------------------------------------------------------------


@pytest.fixture(scope='module')
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working directory of the README commands (``configs/`` links to the repo's)."""
    root = tmp_path_factory.mktemp('readme')
    (root / 'configs').symlink_to(REPO_ROOT / 'configs', target_is_directory=True)
    return root


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(target)


def _write_image(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _noise_image(seed: int, size: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _read_corpus(path: Path) -> dict[str, list[str]]:
    """CSV/TSV corpus -> ``{image path: captions}``."""
    captions: dict[str, list[str]] = {}
    delimiter = '\t' if path.suffix == '.tsv' else ','
    with path.open(newline='', encoding='utf-8') as file:
        for row in csv.DictReader(file, delimiter=delimiter):
            captions.setdefault(row['filepath'], []).append(row['title'])
    return captions


def _demo_model_name() -> str:
    config = yaml.safe_load((REPO_ROOT / 'configs' / 'demo.yaml').read_text(encoding='utf-8'))
    return config['model']['init_args']['model_name']


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from rs_vlm.cli import main

    # LightningCLI compares its arguments with sys.argv; make them agree, as in a shell.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', ['rs-vlm', *argv])
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=".*LightningCLI's args parameter")
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse's answer to a wrong option
                code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


#: Files one README command makes that later ones read -> the command (leading words).
PRODUCERS: dict[str, tuple[str, ...]] = {
    'corpora/dota.csv': ('convert', '--format', 'dota'),
    'corpora/mixture.json': ('prepare',),
    'model.pt': ('export',),
    'embeddings.npz': ('predict', 'embed'),
    'scene_index/manifest.json': ('predict', 'index'),
}


def _require(workspace: Path, relative: str, request: pytest.FixtureRequest) -> Path:
    """Make sure an earlier README command's output exists (pytest-xdist may run tests of this
    file in another process, with its own workspace): run that command here when it is missing.
    """
    path = workspace / relative
    if not path.exists():
        producer = PRODUCERS[relative]
        (step,) = [
            s
            for s in STEPS
            if s.kind == 'rs-vlm'
            and s.command is not None
            and s.command.tokens[1 : 1 + len(producer)] == producer
        ]
        _run_step(step, workspace, request)
    return path


# Each handler prepares the inputs one README command names, runs nothing itself, and returns a
# check run on the outputs after the command succeeded.
Handler = Callable[[Path, pytest.FixtureRequest], Callable[[str, str], None]]


def _convert_dota(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    fixtures: Path = request.getfixturevalue('real_fixtures') / 'dota_devkit'
    for stem in ('P0706', 'P1888'):  # the two DOTA images of the fixtures
        _link(
            fixtures / 'labelTxt' / f'{stem}.txt',
            workspace / f'data/DOTA/train/labelTxt/{stem}.txt',
        )
        _link(fixtures / 'images' / f'{stem}.png', workspace / f'data/DOTA/train/images/{stem}.png')

    def check(out: str, err: str) -> None:
        corpus = _read_corpus(workspace / 'corpora/dota.csv')
        assert sorted(Path(p).stem for p in corpus) == ['P0706', 'P1888']
        assert all(len(texts) == 5 for texts in corpus.values())
        (p0706,) = [texts for path, texts in corpus.items() if 'P0706' in path]
        # P0706 holds 531 ships (above the "many" threshold of 10) and 5 harbors.
        assert any('ship' in text for text in p0706)
        assert (workspace / 'corpora/dota.csv.summary.json').is_file()
        for path in corpus:  # paths are relative to the corpus folder
            assert (workspace / 'corpora' / path).resolve().is_file()

    return check


def _convert_neon(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    fixtures: Path = request.getfixturevalue('real_fixtures') / 'deepforest'
    _link(fixtures / 'OSBS_029.csv', workspace / 'data/NEON/annotations.csv')
    _link(fixtures / 'OSBS_029.tif', workspace / 'data/NEON/OSBS_029.tif')

    def check(out: str, err: str) -> None:
        corpus = _read_corpus(workspace / 'corpora/trees.csv')
        assert [Path(p).name for p in corpus] == ['OSBS_029.tif']
        (texts,) = corpus.values()
        assert len(texts) == 5 and any('tree' in text for text in texts)

    return check


def _convert_masks(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    # Index-coded masks: tile a holds two buildings (id 3), tile b one tree (id 5); id 0 is
    # background, ignored by the README's --ignore-index 0.
    names = ['background', 'road', 'water', 'building', 'farmland', 'tree']
    (workspace / 'data/landcover').mkdir(parents=True, exist_ok=True)
    (workspace / 'data/landcover/classes.txt').write_text('\n'.join(names) + '\n')
    masks = {'tile_a': [(3, 2, 2, 10, 10), (3, 20, 20, 30, 26)], 'tile_b': [(5, 4, 8, 12, 30)]}
    for seed, (stem, blobs) in enumerate(masks.items()):
        mask = np.zeros((32, 40), dtype=np.uint8)
        for class_id, x0, y0, x1, y1 in blobs:
            mask[y0:y1, x0:x1] = class_id
        _write_image(workspace / f'data/landcover/masks/{stem}.png', mask)
        _write_image(workspace / f'data/landcover/images/{stem}.png', _noise_image(seed, 40)[:32])

    def check(out: str, err: str) -> None:
        lines = (workspace / 'corpora/landcover.jsonl').read_text(encoding='utf-8').splitlines()
        records = {Path(r['filepath']).stem: r['captions'] for r in map(json.loads, lines)}
        assert sorted(records) == ['tile_a', 'tile_b']
        assert all(len(captions) == 5 for captions in records.values())
        assert any('building' in caption for caption in records['tile_a'])
        assert any('tree' in caption for caption in records['tile_b'])
        text = ' '.join(caption for captions in records.values() for caption in captions)
        assert 'background' not in text and ' 0 ' not in text
        summary = json.loads((workspace / 'corpora/landcover.jsonl.summary.json').read_text())
        assert summary['objects'] == 3

    return check


def _dedup(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    _require(workspace, 'corpora/dota.csv', request)
    test_images = workspace / 'data/RSICD/test_images'
    test_images.mkdir(parents=True, exist_ok=True)
    # The same picture as a training image (under another name) and an unrelated image.
    _link(workspace / 'data/DOTA/train/images/P0706.png', test_images / 'test_0001.png')
    _write_image(test_images / 'unrelated.png', _noise_image(7, 224))

    def check(out: str, err: str) -> None:
        dropped = (workspace / 'corpora/dota.dropped.txt').read_text(encoding='utf-8').split()
        assert [Path(p).stem for p in dropped if p.strip()] == ['P0706']
        kept = _read_corpus(workspace / 'corpora/dota.dedup.csv')
        assert [Path(p).stem for p in kept] == ['P1888']

    return check


def _prepare(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    # The DOTA release layout of the convert step is the one source under data/.
    _require(workspace, 'corpora/dota.csv', request)

    def check(out: str, err: str) -> None:
        manifest = json.loads((workspace / 'corpora/mixture.json').read_text(encoding='utf-8'))
        assert [(c['name'], c['images'], c['captions']) for c in manifest['corpora']] == [
            ('dota', 2, 10)
        ]
        corpus = _read_corpus(workspace / 'corpora/dota.tsv')
        assert sorted(Path(p).stem for p in corpus) == ['P0706', 'P1888']
        assert all(Path(p).is_absolute() for p in corpus)
        assert '| DET-10 | DOTA | 2 | 10 |' in out and 'Potsdam: expected' in out

    return check


def _fit_vit_b_32(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    _require(workspace, 'corpora/mixture.json', request)

    def check(out: str, err: str) -> None:
        pass  # exit code 0 after one training step is the check

    return check


def _print_config(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    def check(out: str, err: str) -> None:
        config = yaml.safe_load(out)
        assert config['model']['init_args']['model_name'] == 'ViT-B-32-quickgelu'
        # the interpolation ${model.init_args.model_name} is resolved
        assert config['data']['init_args']['tokenizer'] == 'ViT-B-32-quickgelu'
        # image size and context length resolved from the model's open_clip config
        assert config['data']['init_args']['image_size'] == 224
        assert config['data']['init_args']['context_length'] == 77
        assert config['data']['init_args']['data_root'] == 'data'
        callbacks = {c['class_path']: c['init_args'] for c in config['trainer']['callbacks']}
        retrieval = callbacks['rs_vlm.callbacks.benchmarks.retrieval_benchmarks']
        assert retrieval['data_root'] == 'data'
        assert config['trainer']['max_steps'] == 108215

    return check


def _export(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    checkpoint = workspace / 'outputs/demo/checkpoints/last.ckpt'
    if not checkpoint.exists():
        _train_demo_model_checkpoint(checkpoint)

    def check(out: str, err: str) -> None:
        import open_clip

        import rs_vlm.models  # noqa: F401  (registers the package's model configs)

        exported = torch.load(workspace / 'model.pt', weights_only=True)
        reference = open_clip.create_model(_demo_model_name())
        assert set(exported) == set(reference.state_dict())
        trained = torch.load(checkpoint, weights_only=False)['state_dict']
        for key in ('visual.conv1.weight', 'token_embedding.weight', 'text_projection'):
            torch.testing.assert_close(exported[key], trained[f'model.{key}'])

    return check


def _train_demo_model_checkpoint(path: Path) -> None:
    """What ``make demo`` leaves in outputs/demo/checkpoints: the demo's model after a step."""
    from lightning.pytorch import Trainer

    from rs_vlm.datamodules import SyntheticAerialDataModule
    from rs_vlm.modules import RemoteCLIPModule

    model_name = _demo_model_name()
    module = RemoteCLIPModule(model_name=model_name, pretrained=None, warmup_steps=1)
    datamodule = SyntheticAerialDataModule(
        image_size=module.model.visual.image_size[0],
        batch_size=4,
        tokenizer=model_name,
        context_length=module.model.context_length,
        train_length=4,
        val_length=4,
    )
    trainer = Trainer(
        accelerator='cpu',
        max_steps=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=path.parent,
    )
    trainer.fit(module, datamodule=datamodule)
    path.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(path)


def _evaluate(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    # A release-format file of the right architecture (the real weights cannot be downloaded):
    # the plain open_clip state_dict of ViT-B-32-quickgelu, filled with random values.
    import open_clip

    shapes = open_clip.create_model('ViT-B-32-quickgelu', device='meta').state_dict()
    generator = torch.Generator().manual_seed(0)
    weights = {
        key: torch.randn(value.shape, generator=generator) * 0.02 for key, value in shapes.items()
    }
    weights['logit_scale'] = torch.tensor(math.log(100.0))
    torch.save(weights, workspace / 'RemoteCLIP-ViT-B-32.pt')
    # One benchmark present, in RSITMD's "precomp" layout: two test images, five captions each.
    rsitmd = workspace / 'data/rsitmd'
    names = ['harbor_1.png', 'forest_2.png']
    for seed, name in enumerate(names):
        _write_image(rsitmd / 'images' / name, _noise_image(seed, 64))
    (rsitmd / 'test_filename.txt').write_text('\n'.join(names) + '\n')
    captions = [f'{scene} picture number {i}' for scene in ('harbor', 'forest') for i in range(5)]
    (rsitmd / 'test_caps.txt').write_text('\n'.join(captions) + '\n')

    def check(out: str, err: str) -> None:
        report = workspace / 'reports/vit-b-32'
        assert (report / 'report.md').is_file()
        results = json.loads((report / 'report.json').read_text(encoding='utf-8'))
        assert results['model'] == 'ViT-B-32-quickgelu' and results['errors'] == []
        skipped = {(entry['suite'], entry['dataset']) for entry in results['skipped']}
        assert ('retrieval', 'RSICD') in skipped and ('retrieval', 'RSITMD') not in skipped
        rsitmd = results['retrieval']['RSITMD']
        ours = rsitmd['ours']
        # Two images: every text query finds its image in the top 5, every image query finds
        # its captions among all 10.
        assert ours['t2i_r5'] == ours['t2i_r10'] == ours['i2t_r10'] == 100.0
        keys = [f'{way}_r{k}' for way in ('i2t', 't2i') for k in (1, 5, 10)]
        assert ours['mean_recall'] == pytest.approx(sum(ours[key] for key in keys) / 6)
        assert rsitmd['paper']['mean_recall'] == 49.38  # Table II, RemoteCLIP ViT-B-32
        assert rsitmd['difference']['mean_recall'] == pytest.approx(
            ours['mean_recall'] - 49.38, abs=0.01
        )

    return check


def _tiles(workspace: Path) -> None:
    for seed in range(3):
        _write_image(workspace / f'tiles/tile_{seed}.png', _noise_image(seed))


def _classify(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    _require(workspace, 'model.pt', request)
    _tiles(workspace)

    def check(out: str, err: str) -> None:
        with (workspace / 'predictions.csv').open(newline='', encoding='utf-8') as file:
            rows = list(csv.reader(file))
        header, body = rows[0], rows[1:]
        assert len(body) == 3
        classes = {'forest', 'river', 'farmland', 'harbor'}
        assert all(set(row) & classes for row in body), (header, body)

    return check


def _embed(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    _require(workspace, 'model.pt', request)
    _tiles(workspace)

    def check(out: str, err: str) -> None:
        with np.load(workspace / 'embeddings.npz') as data:
            features = data['image_features']
            assert len(data['image_files']) == 3
        assert features.shape[0] == 3
        np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-4)

    return check


def _search_embeddings(
    workspace: Path, request: pytest.FixtureRequest
) -> Callable[[str, str], None]:
    _require(workspace, 'embeddings.npz', request)

    def check(out: str, err: str) -> None:
        rows = [line.split('\t') for line in out.strip().splitlines()]
        assert len(rows) == 3  # three tiles embedded, --k 10
        assert [row[0] for row in rows] == ['1', '2', '3'] and {row[2] for row in rows} == {'image'}
        scores = [float(row[1]) for row in rows]
        assert scores == sorted(scores, reverse=True)

    return check


def _scene(workspace: Path) -> Path:
    """A 256 x 256 px georeferenced RGB GeoTIFF (UTM 17N, 0.5 m)."""
    import rasterio

    path = workspace / 'scene.tif'
    if not path.exists():
        pixels = np.moveaxis(_noise_image(7, size=256), -1, 0)
        profile = {
            'driver': 'GTiff', 'width': 256, 'height': 256, 'count': 3, 'dtype': 'uint8',
            'crs': 'EPSG:32617', 'transform': rasterio.Affine(0.5, 0, 404000, 0, -0.5, 3285000),
        }  # fmt: skip
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(pixels)
    return path


def _map(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    import rasterio

    _require(workspace, 'model.pt', request)
    scene = _scene(workspace)

    def check(out: str, err: str) -> None:
        with rasterio.open(scene) as source, rasterio.open(workspace / 'map.tif') as out_map:
            assert (out_map.crs, out_map.transform) == (source.crs, source.transform)
            bands = out_map.read()
        assert bands.shape == (4, 256, 256)  # class index + forest, river, farmland
        np.testing.assert_allclose(bands[1:].sum(axis=0), 1.0, atol=1e-5)

    return check


def _index(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    _require(workspace, 'model.pt', request)
    _scene(workspace)

    def check(out: str, err: str) -> None:
        manifest = json.loads((workspace / 'scene_index/manifest.json').read_text())
        assert manifest['count'] == 4  # 224 px tiles at offsets 0 and 32 on 256 px
        assert manifest['source']['kind'] == 'raster'

    return check


def _search_index(workspace: Path, request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    _require(workspace, 'scene_index/manifest.json', request)

    def check(out: str, err: str) -> None:
        hits = json.loads((workspace / 'hits.geojson').read_text())
        assert len(hits['features']) == 4
        for feature in hits['features']:
            lon, lat = feature['geometry']['coordinates'][0][0]
            assert -82 < lon < -80 and 29 < lat < 30  # UTM 17N -> WGS 84

    return check


#: README command (leading words) -> its handler. The longest matching key wins.
HANDLERS: dict[tuple[str, ...], Handler] = {
    ('convert', '--format', 'dota'): _convert_dota,
    ('convert', '--format', 'csv'): _convert_neon,
    ('convert', '--format', 'mask'): _convert_masks,
    ('dedup',): _dedup,
    ('prepare',): _prepare,
    ('fit', '--config', 'configs/vit-b-32.yaml', '--data.init_args.data_root=data'): _fit_vit_b_32,
    ('fit', '--config', 'configs/vit-b-32.yaml', '--print_config'): _print_config,
    ('export',): _export,
    ('evaluate',): _evaluate,
    ('predict', 'classify'): _classify,
    ('predict', 'embed'): _embed,
    ('predict', 'search', '--embeddings'): _search_embeddings,
    ('predict', 'map'): _map,
    ('predict', 'index'): _index,
    ('predict', 'search', '--index'): _search_index,
}


def _handler(argv: tuple[str, ...]) -> Handler | None:
    matches = [key for key in HANDLERS if argv[: len(key)] == key]
    return HANDLERS[max(matches, key=len)] if matches else None


def test_every_command_has_a_handler() -> None:
    """Each README ``rs-vlm`` line is run by :func:`test_readme_step` (or covered elsewhere)."""
    for step in STEPS:
        if step.kind == 'rs-vlm':
            assert step.command is not None
            if step.command.tokens in COVERED_ELSEWHERE:
                continue
            assert _handler(step.command.tokens[1:]) is not None, (
                f'README line {step.line}: no handler for {step.command.text!r}'
            )


def _run_python_block(step: Step, workspace: Path, request: pytest.FixtureRequest) -> None:
    assert step.block is not None
    text = step.block.text
    if 'load_model(' in text:
        _require(workspace, 'model.pt', request)
    if 'AIDDataModule' in text:
        # AID's layout: class folders below the root, named like the release ("Airport").
        for class_name in ('Airport', 'Forest'):
            for index in range(10):
                _write_image(
                    workspace / f'data/AID/{class_name}/{class_name.lower()}_{index}.jpg',
                    _noise_image(index + (0 if class_name == 'Airport' else 100), 40),
                )
    namespace: dict[str, Any] = {'__name__': f'readme_line_{step.line}'}
    exec(compile(text, f'README.md:{step.line}', 'exec'), namespace)
    if 'load_model(' in text:
        tokens = namespace['tokenizer'](['a harbor with ships'])
        assert tokens.ndim == 2 and tokens.dtype == torch.long
        image = namespace['preprocess'](Image.fromarray(_noise_image(1)))
        with torch.no_grad():
            features = namespace['model'].encode_image(image[None])
        assert torch.isfinite(features).all()
    if 'EvaluationCallback' in text:
        callback_classes = [
            value
            for value in namespace.values()
            if isinstance(value, type) and value.__module__ == namespace['__name__']
        ]
        assert len(callback_classes) == 1
        _use_callback(callback_classes[0])


def _use_callback(callback_class: type) -> None:
    """Train two steps with the README's callback; it logs a similarity in [-1, 1]."""
    import torch.nn.functional as F
    from lightning.pytorch import Trainer

    from rs_vlm.datamodules import SyntheticAerialDataModule
    from rs_vlm.datasets import SyntheticAerial
    from rs_vlm.modules import RemoteCLIPModule

    module = RemoteCLIPModule(model_name='rs-vit-tiny', pretrained=None, warmup_steps=1)
    datamodule = SyntheticAerialDataModule(
        image_size=32, batch_size=4, tokenizer='rs-vit-tiny', train_length=8, val_length=4
    )
    dataset = SyntheticAerial(split='val', task='retrieval', image_size=32, length=3)
    callback = callback_class(dataset, name='synthetic', batch_size=8)
    trainer = Trainer(
        accelerator='cpu',
        max_epochs=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    )
    trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == 2
    logged = float(trainer.callback_metrics['val/synthetic/pair_similarity'])
    assert -1.0 <= logged <= 1.0
    # The same number by hand: open_clip's evaluation transform on each image as a PIL image,
    # each caption against its own image.
    module.eval()
    import open_clip

    preprocess = open_clip.image_transform(module.model.visual.image_size[0], is_train=False)
    pils = [
        Image.fromarray(dataset[i]['image'].round().byte().permute(1, 2, 0).numpy())
        for i in range(len(dataset))
    ]
    images = torch.stack([preprocess(image) for image in pils])
    with torch.no_grad():
        image_features = F.normalize(module.model.encode_image(images), dim=-1)
        text_features = F.normalize(
            module.model.encode_text(module.tokenizer(dataset.captions)), dim=-1
        )
    own = image_features[torch.as_tensor(dataset.caption_to_image)]
    expected = float((own * text_features).sum(dim=-1).mean())
    assert logged == pytest.approx(expected, abs=1e-4)


def _run_step(step: Step, workspace: Path, request: pytest.FixtureRequest) -> None:
    """Run one README command or Python block in the workspace (the current directory)."""
    if step.kind == 'python':
        _run_python_block(step, workspace, request)
        return
    assert step.command is not None
    if step.command.tokens in COVERED_ELSEWHERE:
        pytest.skip(COVERED_ELSEWHERE[step.command.tokens])
    argv = step.command.tokens[1:]
    handler = _handler(argv)
    assert handler is not None, f'README line {step.line}: no handler'
    check = handler(workspace, request)
    override = OVERRIDES.get(argv, ())
    code, out, err = _run_cli([*argv, *override], request.getfixturevalue('capsys'))
    assert code == 0, f'README line {step.line} exited {code}:\n{out}\n{err}'
    check(out, err)


@pytest.mark.parametrize(
    'step', [s for s in STEPS if s.kind in ('rs-vlm', 'python')], ids=lambda s: s.id
)
def test_readme_step(
    step: Step, workspace: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run one README command or Python block, in README order, in the shared workspace."""
    monkeypatch.chdir(workspace)
    _run_step(step, workspace, request)


# -- commands, names and links in the README's prose ----------------------------------------------


def _inline_code() -> list[str]:
    """Inline code spans of the README (outside fenced blocks), whitespace normalised."""
    text = README.read_text(encoding='utf-8')
    prose = re.sub(r'^[ \t]*```.*?^[ \t]*```[ \t]*$', '', text, flags=re.DOTALL | re.MULTILINE)
    return [' '.join(span.split()) for span in re.findall(r'`([^`]+)`', prose)]


INLINE_COMMANDS = [span for span in _inline_code() if span.startswith('rs-vlm ')]


def test_inline_names_resolve() -> None:
    """Dotted ``rs_vlm.`` names, config files and linked docs named in the prose exist."""
    import importlib

    names = [span for span in _inline_code() if re.fullmatch(r'rs_vlm(\.\w+)+', span)]
    assert names
    for name in names:
        module, _, attribute = name.rpartition('.')
        assert hasattr(importlib.import_module(module), attribute), name
    files = [span for span in _inline_code() if re.fullmatch(r'configs/[\w.-]+\.yaml', span)]
    links = re.findall(r'\]\(((?:docs|configs)/[^)#]+)\)', README.read_text(encoding='utf-8'))
    assert files and links
    for relative in files + links:
        assert (REPO_ROOT / relative).is_file(), relative


@pytest.mark.parametrize('span', INLINE_COMMANDS, ids=lambda span: span[:40])
def test_inline_command(
    span: str, workspace: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rs-vlm`` commands in the prose: run, or parsed when they need hardware we lack."""
    monkeypatch.chdir(workspace)
    argv = shlex.split(span)[1:]
    capsys = request.getfixturevalue('capsys')
    if len(argv) == 1:
        # a command name in a sentence ("`rs-vlm evaluate`"): it must be a command
        from rs_vlm.cli import PREDICT_ACTIONS, SUBCOMMANDS

        assert argv[0] in {*SUBCOMMANDS, *PREDICT_ACTIONS, 'fit', 'validate', 'test', 'predict'}
        return
    if argv[0] == 'fit':
        # 8 GPUs x 4 nodes are not here: resolve the configuration instead of training.
        code, out, err = _run_cli([*argv, '--print_config'], capsys)
        assert code == 0, err
        trainer = yaml.safe_load(out)['trainer']
        for option in argv:
            if option.startswith('--trainer.'):
                key, value = option[len('--trainer.') :].split('=')
                assert str(trainer[key]) == value
        return
    assert argv[0] == 'shard', f'no check for the README command {span!r}'
    _require(workspace, 'corpora/dota.csv', request)
    code, out, err = _run_cli(argv, capsys)
    assert code == 0, err
    # the README's next sentence reads the shards back with WebDatasetShards
    (reader,) = [s for s in _inline_code() if s.startswith('rs_vlm.datasets.WebDatasetShards(')]
    import rs_vlm.datasets

    shards = eval(reader, {'rs_vlm': rs_vlm})
    assert len(shards) == 2  # the two images of the DOTA corpus
