"""An output that is an input, a folder, or in an unusable folder is refused before any work.

The commands get inputs they could not even parse (bytes that are no annotation, no corpus,
no checkpoint): the error must be about the output, which proves it came before reading, and
the input must be byte-for-byte unchanged.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.cli import main as rs_vlm
from rs_vlm.errors import OutputPathError
from rs_vlm.output_paths import check_output_paths, same_path

GARBAGE = b'\x00\xffnot parseable as anything\n'


def _garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GARBAGE)
    return path


def test_same_path_sees_through_relative_names_symlinks_and_hard_links(tmp_path: Path) -> None:
    target = _garbage(tmp_path / 'a' / 'ann.json')
    (tmp_path / 'link.json').symlink_to(target)
    os.link(target, tmp_path / 'hard.json')
    assert same_path(target, tmp_path / 'a' / '..' / 'a' / 'ann.json')
    assert same_path(target, tmp_path / 'link.json')
    assert same_path(target, tmp_path / 'hard.json')
    assert not same_path(target, tmp_path / 'a' / 'other.json')


def test_check_output_paths_rules(tmp_path: Path) -> None:
    source = _garbage(tmp_path / 'in.csv')
    check_output_paths({'--output': tmp_path / 'new' / 'out.csv'}, {'--input': source})
    with pytest.raises(OutputPathError, match='--output is the same file as the input --input'):
        check_output_paths({'--output': source}, {'--input': [tmp_path / 'x', source]})
    with pytest.raises(OutputPathError, match='--b and --a name the same file'):
        check_output_paths({'--a': tmp_path / 'o.csv', '--b': tmp_path / 'o.csv'}, {})
    with pytest.raises(OutputPathError, match='--output is a folder; expected a file name'):
        check_output_paths({'--output': tmp_path}, {})
    with pytest.raises(OutputPathError, match=r'in\.csv is a file, not a folder'):
        check_output_paths({'--output': source / 'out.csv'}, {})
    with pytest.raises(OutputPathError, match='--output is a file; expected a folder'):
        check_output_paths({'--output': source}, {}, folders=['--output'])
    with pytest.raises(OutputPathError, match='folder contains the input --input'):
        check_output_paths({'--output': tmp_path}, {'--input': source}, replaced=['--output'])
    check_output_paths({'--output': None}, {'--input': None})


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / 'ro'
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match='is not writable'):
            check_output_paths({'--output': folder / 'out.csv'}, {})
    finally:
        folder.chmod(0o755)


def test_convert_output_equal_to_annotations_is_refused(tmp_path: Path, capsys) -> None:
    annotations = _garbage(tmp_path / 'instances.json')
    args = ['convert', '--format', 'coco', '--annotations', str(annotations)]
    assert rs_vlm([*args, '--output', str(annotations), '--no-progress']) == 1
    error = capsys.readouterr().err
    assert '--output is the same file as the input --annotations' in error
    assert str(annotations) in error
    assert annotations.read_bytes() == GARBAGE


def test_convert_summary_equal_to_output_is_refused(tmp_path: Path, capsys) -> None:
    annotations = _garbage(tmp_path / 'instances.json')
    output = tmp_path / 'corpus.csv'
    args = ['convert', '--format', 'coco', '--annotations', str(annotations)]
    assert rs_vlm([*args, '--output', str(output), '--summary', str(output)]) == 1
    assert '--summary and --output name the same file' in capsys.readouterr().err
    assert not output.exists()


def test_convert_output_that_is_a_folder_is_refused_before_reading(tmp_path, capsys) -> None:
    annotations = _garbage(tmp_path / 'instances.json')
    args = ['convert', '--format', 'coco', '--annotations', str(annotations)]
    assert rs_vlm([*args, '--output', str(tmp_path)]) == 1
    assert '--output is a folder; expected a file name' in capsys.readouterr().err


def test_dedup_output_equal_to_the_train_corpus_is_refused(tmp_path: Path, capsys) -> None:
    corpus = _garbage(tmp_path / 'train.csv')
    test = tmp_path / 'test'
    test.mkdir()
    args = ['dedup', '--train', str(corpus), '--test', str(test), '--no-progress']
    assert rs_vlm([*args, '--output', str(corpus)]) == 1
    assert '--output is the same file as the input --train' in capsys.readouterr().err
    assert corpus.read_bytes() == GARBAGE
    assert rs_vlm([*args, '--output', str(tmp_path / 'd.txt'), '--pairs', str(corpus)]) == 1
    assert '--pairs is the same file as the input --train' in capsys.readouterr().err
    assert corpus.read_bytes() == GARBAGE


def test_export_output_equal_to_the_checkpoint_is_refused(tmp_path: Path, capsys) -> None:
    checkpoint = _garbage(tmp_path / 'model.pt')
    assert rs_vlm(['export', '--checkpoint', str(checkpoint), '--output', str(checkpoint)]) == 1
    assert '--output is the same file as the input --checkpoint' in capsys.readouterr().err
    assert checkpoint.read_bytes() == GARBAGE


def test_shard_output_containing_the_corpus_is_refused(tmp_path: Path, capsys) -> None:
    corpus = _garbage(tmp_path / 'data' / 'train.csv')
    assert rs_vlm(['shard', str(corpus), '--output', str(tmp_path / 'data')]) == 1
    assert 'folder contains the input corpus' in capsys.readouterr().err
    assert corpus.read_bytes() == GARBAGE


def test_predict_output_is_checked_before_the_model_is_loaded(tmp_path: Path, capsys) -> None:
    """A missing checkpoint would fail the load: the output error must come first."""
    image = tmp_path / 'images' / 'a.png'
    image.parent.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    captions = _garbage(tmp_path / 'captions.txt')
    common = ['--model', 'rs-vit-tiny', '--checkpoint', str(tmp_path / 'missing.pt')]
    embed = ['predict', 'embed', *common, '--captions', str(captions)]
    folder = tmp_path / 'out.npz'
    folder.mkdir()
    assert rs_vlm([*embed, '--output', str(folder)]) == 1
    assert '--output is a folder; expected a file name' in capsys.readouterr().err
    classify = ['predict', 'classify', *common, '--images', str(image.parent)]
    classes = _garbage(tmp_path / 'classes.csv')
    assert rs_vlm([*classify, '--classes-file', str(classes), '--output', str(classes)]) == 1
    assert '--output is the same file as the input --classes-file' in capsys.readouterr().err
    assert classes.read_bytes() == GARBAGE


def test_fit_with_an_unwritable_checkpoint_folder_stops_before_training(tmp_path, capsys) -> None:
    from rs_vlm.lightning_cli import run_lightning_cli

    blocker = _garbage(tmp_path / 'blocker')
    config = tmp_path / 'fit.yaml'
    config.write_text(
        f"""
trainer:
  accelerator: cpu
  max_epochs: 1
  logger: false
  enable_progress_bar: false
  default_root_dir: {tmp_path}
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {{dirpath: {blocker / 'checkpoints'}}}
model:
  class_path: rs_vlm.modules.RemoteCLIPModule
  init_args: {{model_name: rs-vit-tiny}}
data:
  class_path: rs_vlm.datamodules.CaptionDataModule
  init_args: {{train_csv: {_garbage(tmp_path / 'train.csv')}, tokenizer: rs-vit-tiny}}
""",
        encoding='utf-8',
    )
    assert run_lightning_cli(['fit', '--config', str(config)]) == 1
    error = capsys.readouterr().err
    assert 'cannot write ModelCheckpoint #1 dirpath' in error and 'is a file, not a folder' in error
    torch.use_deterministic_algorithms(False)
