"""The command line: checkpoint settings, "did you mean" for options, quiet healthy runs."""

import warnings
from pathlib import Path

import pytest
import yaml
from PIL import Image

from rs_vlm.cli import main

TINY_CONFIG = Path(__file__).with_name('configs') / 'tiny-fit.yaml'


@pytest.fixture
def caption_csv(tmp_path: Path) -> Path:
    folder = tmp_path / 'images'
    folder.mkdir()
    rows = ['filepath,title']
    for i in range(4):
        Image.new('RGB', (40, 36), (60 * i, 30, 30)).save(folder / f'tile_{i}.jpg')
        rows.append(f'images/tile_{i}.jpg,a tile of farmland number {i}')
    csv = tmp_path / 'train.csv'
    csv.write_text('\n'.join(rows) + '\n', encoding='utf-8')
    return csv


def _fit_args(caption_csv: Path, root: Path) -> list[str]:
    return [
        'fit',
        '--config',
        str(TINY_CONFIG),
        f'--data.init_args.train_csv={caption_csv}',
        f'--trainer.default_root_dir={root}',
    ]


def test_checkpoint_interval_from_the_command_line(caption_csv: Path, tmp_path: Path) -> None:
    ckpts = tmp_path / 'ckpts'
    args = [
        *_fit_args(caption_csv, tmp_path / 'run'),
        '--trainer.enable_checkpointing=true',
        '--trainer.max_steps=3',
        '--checkpoint.every_n_train_steps=1',
        '--checkpoint.save_top_k=-1',
        f'--checkpoint.dirpath={ckpts}',
        '--checkpoint.filename={step}',
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert main(args) == 0
    assert sorted(path.name for path in ckpts.iterdir()) == [
        'step=1.ckpt',
        'step=2.ckpt',
        'step=3.ckpt',
    ]
    # Healthy run: no warning about giving LightningCLI both args and a command line.
    assert not [w for w in caught if "LightningCLI's args parameter" in str(w.message)]
    saved = yaml.safe_load((tmp_path / 'run' / 'config.yaml').read_text())
    assert saved['checkpoint']['every_n_train_steps'] == 1


def test_checkpoint_section_and_listed_callback_conflict(
    caption_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config['trainer']['enable_checkpointing'] = True
    config['trainer']['callbacks'] = [
        {'class_path': 'lightning.pytorch.callbacks.ModelCheckpoint', 'init_args': {}}
    ]
    path = tmp_path / 'listed.yaml'
    path.write_text(yaml.safe_dump(config))
    args = ['fit', '--config', str(path), f'--data.init_args.train_csv={caption_csv}']
    args.append(f'--trainer.default_root_dir={tmp_path / "run"}')
    assert main([*args, '--checkpoint.every_n_train_steps=1']) == 2  # a config error
    assert 'ModelCheckpoint is configured twice' in capsys.readouterr().err
    # Without --checkpoint.* the listed callback alone is used, as before.
    assert main([*args, '--trainer.max_steps=1']) == 0


@pytest.mark.parametrize(
    ('typo', 'suggestion'),
    [
        ('--trainer.max_stepz=3', '--trainer.max_steps'),
        ('--checkpoint.every_n_train_stpes=3', '--checkpoint.every_n_train_steps'),
        ('--seed_everyting=1', '--seed_everything'),
    ],
)
def test_mistyped_lightning_option_suggests_the_closest(
    typo: str, suggestion: str, caption_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main([*_fit_args(caption_csv, tmp_path), typo]) == 2
    err = capsys.readouterr().err
    assert f'did you mean {suggestion}' in err
    assert len(err.strip().splitlines()) <= 4  # no usage block
    assert "run 'rs-vlm fit --help'" in err


@pytest.mark.parametrize(
    ('argv', 'suggestion'),
    [
        (['evaluate', '--model', 'x', '--output', 'o', '--data-rot', 'd'], '--data-root'),
        (
            ['predict', 'embed', '--model', 'x', '--output', 'o.npz', '--captoins', 'c'],
            '--captions',
        ),
        (['export', '--checkpoint', 'c', '--ouptut', 'o'], '--output'),
        (['convert', '--help-formatz'], None),
    ],
)
def test_mistyped_option_of_a_tool_suggests_the_closest(
    argv: list[str], suggestion: str | None, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    if suggestion is not None:
        assert f'did you mean {suggestion}' in err
    assert 'usage:' not in err
    assert '--help' in err
