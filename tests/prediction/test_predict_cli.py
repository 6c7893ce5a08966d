"""``rs-vlm predict classify`` / ``embed``: outputs equal the Python API, errors, exit codes."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from prediction_reference import image_features, text_features, zero_shot_probabilities

from rs_vlm.cli import main as rs_vlm_main
from rs_vlm.datasets.scene_classes import DEFAULT_TEMPLATES
from rs_vlm.models import create_clip
from rs_vlm.prediction import LoadedModel, find_images, load_embeddings
from rs_vlm.prediction.cli import classify_main, embed_main

CLASSES = ['forest', 'river', 'farmland']
COMMON = ['--model', 'rs-vit-tiny', '--device', 'cpu', '--num-workers', '0', '--no-progress']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A plain open_clip state_dict of a seeded random ``rs-vit-tiny``."""
    torch.manual_seed(3)
    model = create_clip('rs-vit-tiny').eval()
    path = tmp_path_factory.mktemp('weights') / 'tiny.pt'
    torch.save(model.state_dict(), path)
    return path, model


def _expected(
    checkpoint: tuple[Path, torch.nn.Module], tiny_model: LoadedModel, files: list[Path]
) -> torch.Tensor:
    loaded = (checkpoint[1], tiny_model[1], tiny_model[2])
    return zero_shot_probabilities(loaded, files, CLASSES, DEFAULT_TEMPLATES)


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline='', encoding='utf-8') as handle:
        return list(csv.reader(handle))


def _check_csv(rows: list[list[str]], expected: torch.Tensor, names: list[str], k: int) -> None:
    assert rows[0] == ['path'] + [f'{kind}_{r}' for r in range(1, k + 1)
                                  for kind in ('class', 'probability')]  # fmt: skip
    assert [row[0] for row in rows[1:]] == names
    for row, probabilities in zip(rows[1:], expected, strict=True):
        values, indices = probabilities.topk(k)
        assert row[1::2] == [CLASSES[i] for i in indices.tolist()]
        assert [float(v) for v in row[2::2]] == pytest.approx(values.tolist(), abs=2e-6)


@pytest.mark.slow
def test_python_m_rs_vlm_predict_classify(
    tmp_path: Path,
    checkpoint: tuple[Path, torch.nn.Module],
    tiny_model: LoadedModel,
    image_folder: Path,
) -> None:
    output = tmp_path / 'predictions.csv'
    command = [sys.executable, '-m', 'rs_vlm', 'predict', 'classify', *COMMON,
               '--checkpoint', str(checkpoint[0]), '--images', str(image_folder),
               '--classes', ','.join(CLASSES), '--top-k', '2', '--output', str(output)]  # fmt: skip
    environment = {**os.environ, 'OMP_NUM_THREADS': '1'}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'classified 5 image(s) into 3 classes (5 templates each); skipped 0' in done.stdout
    names = ['a.png', 'b.jpg', 'e.JPG', 'sub/c.tif', 'sub/d.png']
    expected = _expected(checkpoint, tiny_model, find_images(image_folder))
    _check_csv(_csv_rows(output), expected, names, k=2)


def test_classify_json_with_classes_file_and_skipped_image(
    tmp_path: Path,
    checkpoint: tuple[Path, torch.nn.Module],
    tiny_model: LoadedModel,
    image_folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    classes_file = tmp_path / 'classes.txt'
    classes_file.write_text('\n'.join(CLASSES) + '\n', encoding='utf-8')
    bad = tmp_path / 'bad.tif'
    bad.write_bytes(b'II*\x00 not really a tiff')
    output = tmp_path / 'out' / 'predictions.json'
    images = [str(image_folder / 'b.jpg'), str(bad), str(image_folder / 'sub')]
    code = rs_vlm_main(['predict', 'classify', *COMMON, '--checkpoint', str(checkpoint[0]),
                        '--images', *images, '--classes-file', str(classes_file),
                        '--on-error', 'skip', '--output', str(output)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert 'skipped 1' in printed and f'skipped {bad.as_posix()}: ' in printed
    document = json.loads(output.read_text(encoding='utf-8'))
    assert document['classes'] == CLASSES and document['templates'] == DEFAULT_TEMPLATES
    assert document['checkpoint'] == str(checkpoint[0])
    assert [entry['path'] for entry in document['skipped']] == [bad.as_posix()]
    files = [image_folder / 'b.jpg', image_folder / 'sub' / 'c.tif', image_folder / 'sub' / 'd.png']
    assert [p['path'] for p in document['predictions']] == [f.as_posix() for f in files]
    expected = _expected(checkpoint, tiny_model, files)
    for entry, probabilities in zip(document['predictions'], expected, strict=True):
        assert [c['class'] for c in entry['top_k']] == [
            CLASSES[i] for i in probabilities.argsort(descending=True).tolist()
        ]
        assert sum(c['probability'] for c in entry['top_k']) == pytest.approx(1.0, abs=1e-5)


def test_classify_errors_leave_the_previous_output(
    tmp_path: Path, image_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / 'predictions.csv'
    output.write_text('previous run\n', encoding='utf-8')
    wrong = tmp_path / 'resnet.pt'
    torch.save(create_clip('rs-rn-tiny').state_dict(), wrong)
    base = [*COMMON, '--images', str(image_folder), '--classes', 'a,b', '--output', str(output)]
    assert classify_main([*base, '--checkpoint', str(wrong)]) == 1
    assert f'error: {wrong}: ' in capsys.readouterr().err
    broken = tmp_path / 'images'
    broken.mkdir()
    (broken / 'x.jpg').write_bytes(b'\xff\xd8\xff not a jpeg')
    base[base.index(str(image_folder))] = str(broken)
    assert classify_main(base) == 1
    assert 'x.jpg: cannot read image' in capsys.readouterr().err
    templates = tmp_path / 'templates.txt'
    templates.write_text('a photo of {}\nno slot\n', encoding='utf-8')
    assert classify_main([*base, '--templates', str(templates)]) == 1
    assert 'templates.txt, line 2' in capsys.readouterr().err
    assert output.read_text(encoding='utf-8') == 'previous run\n'
    with pytest.raises(SystemExit) as exit_info:
        classify_main([*base[:-1], str(tmp_path / 'predictions.xlsx')])
    assert exit_info.value.code == 2
    assert 'expected a .csv or .json' in capsys.readouterr().err


def test_embed_cli_writes_images_and_captions(
    tmp_path: Path,
    checkpoint: tuple[Path, torch.nn.Module],
    tiny_model: LoadedModel,
    image_folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    captions = ['a harbor with ships', 'green fields along a river']
    captions_file = tmp_path / 'captions.txt'
    captions_file.write_text('\n'.join(captions) + '\n', encoding='utf-8')
    output = tmp_path / 'embeddings.npz'
    code = embed_main([*COMMON, '--checkpoint', str(checkpoint[0]), '--images',
                       str(image_folder), '--captions', str(captions_file), '--output',
                       str(output)])  # fmt: skip
    assert code == 0
    assert 'embedded 5 image(s) (skipped 0) and 2 caption(s), 64 dimensions' in (
        capsys.readouterr().out
    )
    stored = load_embeddings(output)
    loaded = (checkpoint[1], tiny_model[1], tiny_model[2])
    np.testing.assert_allclose(
        stored.image_features, image_features(loaded, find_images(image_folder)).numpy(),
        atol=1e-5,
    )  # fmt: skip
    np.testing.assert_allclose(
        stored.caption_features, text_features(loaded, captions).numpy(), atol=1e-5
    )
    assert stored.model_name == 'rs-vit-tiny' and stored.checkpoint == str(checkpoint[0])
    assert stored.image_files[0] == 'a.png' and stored.captions == captions
    with pytest.raises(SystemExit):
        embed_main([*COMMON, '--output', str(output)])
    assert 'give --images and/or --captions' in capsys.readouterr().err


def test_help_answers_without_loading_torch() -> None:
    code = (
        'import sys\n'
        'from rs_vlm.cli import main\n'
        'try:\n'
        "    main(['predict', 'classify', '--help'])\n"
        'except SystemExit as exit_:\n'
        "    assert exit_.code == 0 and 'torch' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '--classes-file' in done.stdout and '--on-error {raise,skip}' in done.stdout
