"""Hostile files that used to hang, exhaust memory or print a traceback: each a clear error.

Every test writes the file an attacker or an unlucky user would (deeply nested JSON, a
5000-digit number, a gzip-compressed or lying shard index, a YAML alias bomb, a sparse
multi-gigabyte non-image, a lying ``.npy`` header, file names with line breaks) and checks the
error names the file and the line or key.
"""

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rs_vlm.cli import main as rs_vlm
from rs_vlm.conversion import read_coco
from rs_vlm.datasets import CaptionCSVDataset, KarpathyCaptionDataset
from rs_vlm.datasets.bad_input import BadInputPolicy
from rs_vlm.datasets.caption_readers import read_jsonl, read_karpathy_json
from rs_vlm.datasets.webdataset_shards import WebDatasetShards
from rs_vlm.errors import AnnotationError, CorpusError, InputError
from rs_vlm.lightning_cli import run_lightning_cli
from rs_vlm.prediction.embed import load_embeddings
from rs_vlm.reliability.config_size import MAX_CONFIG_NODES, check_config_text

DEEP = '[' * 100_000 + ']' * 100_000


def test_deeply_nested_json_is_a_corpus_error(tmp_path: Path) -> None:
    jsonl = tmp_path / 'c.jsonl'
    jsonl.write_text('{"filename": "a.jpg", "captions": ["a ship"]}\n' + DEEP + '\n')
    with pytest.raises(CorpusError, match=r'c\.jsonl, line 2: not valid JSON: nested too deeply'):
        read_jsonl(jsonl, BadInputPolicy('raise'))
    assert read_jsonl(jsonl, BadInputPolicy('skip'))[0] == ['a.jpg']
    karpathy = tmp_path / 'dataset.json'
    karpathy.write_text('{"images": ' + DEEP + '}')
    with pytest.raises(CorpusError, match='nested too deeply'):
        read_karpathy_json(karpathy, BadInputPolicy('raise'))
    coco = tmp_path / 'coco.json'
    coco.write_text(DEEP)
    with pytest.raises(AnnotationError, match=r'coco\.json'):
        list(read_coco(coco))


def test_five_thousand_digit_integer_names_the_line(tmp_path: Path) -> None:
    jsonl = tmp_path / 'c.jsonl'
    jsonl.write_text(
        '{"filename": "a.jpg", "captions": ["a ship"]}\n'
        '{"filename": "b.jpg", "captions": ["two planes"], "id": ' + '9' * 5000 + '}\n'
    )
    with pytest.raises(CorpusError, match=r'line 2: not valid JSON: a number cannot be read'):
        read_jsonl(jsonl, BadInputPolicy('raise'))


def _shard_folder(tmp_path: Path) -> Path:
    folder = tmp_path / 'shards'
    folder.mkdir()
    buffer = io.BytesIO()
    Image.new('RGB', (8, 8), 'red').save(buffer, format='PNG')
    with tarfile.open(folder / 'shard-000000.tar', 'w', format=tarfile.USTAR_FORMAT) as archive:
        for name, data in (('000.png', buffer.getvalue()), ('000.txt', b'a red square')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return folder


def test_shard_index_gzip_huge_sizes_and_bad_entries(tmp_path: Path) -> None:
    folder = _shard_folder(tmp_path)
    scanned = WebDatasetShards(folder, image_size=None)
    (entry,) = scanned.samples
    index = folder / 'index.json'
    good = {'samples': [list(entry)], 'shards': ['shard-000000.tar']}
    index.write_text(json.dumps(good))
    assert WebDatasetShards(folder, image_size=None)[0]['image'].shape == (3, 8, 8)
    index.write_bytes(gzip.compress(json.dumps(good).encode()))
    with pytest.raises(CorpusError, match=r'index\.json: shard index is gzip-compressed'):
        WebDatasetShards(folder)
    cases = [
        ([entry[0], entry[1], entry[2], 10**18, entry[4]], 'truncated: .* up to byte 1000'),
        ([entry[0], entry[1], -5, entry[3], entry[4]], 'offset must be an integer >= 0'),
        ([entry[0], entry[1], entry[2], 1.5, entry[4]], 'size must be an integer'),
        (['missing.tar', entry[1], entry[2], entry[3], entry[4]], 'missing: missing.tar'),
        (['../shard-000000.tar', *entry[1:]], 'unsafe member name'),
        ([entry[0], entry[1], entry[2], entry[3], 'a caption'], 'captions must be a list'),
        ([entry[0], entry[1]], r'expected \[shard, member, offset, size'),
    ]
    for bad, message in cases:
        index.write_text(json.dumps({'samples': [list(entry), bad]}))
        with pytest.raises(CorpusError, match=message):
            WebDatasetShards(folder)
    index.write_text('{"samples": ' + DEEP + '}')
    with pytest.raises(CorpusError, match='nested too deeply'):
        WebDatasetShards(folder)


def test_shard_refuses_a_huge_non_image_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.new('RGB', (8, 8), 'red').save(tmp_path / 'red.png')
    huge = tmp_path / 'huge.jpg'
    with huge.open('wb') as handle:
        handle.truncate(3 << 30)  # sparse: 3 GB of zeros, no disk used
    corpus = tmp_path / 'c.csv'
    corpus.write_text('filepath,title\nred.png,a red square\nhuge.jpg,not an image\n')
    output = tmp_path / 'shards'
    assert rs_vlm(['shard', str(corpus), '--output', str(output)]) == 1
    assert f'{huge}: not an image' in capsys.readouterr().err
    assert rs_vlm(['shard', str(corpus), '--output', str(output), '--on-error', 'skip']) == 0
    assert 'skipped 1 bad inputs' in capsys.readouterr().out
    assert len(WebDatasetShards(output)) == 1
    with huge.open('r+b') as handle:
        handle.write(b'\xff\xd8\xff\xe0')  # a JPEG start, and still 3 GB
    assert rs_vlm(['shard', str(corpus), '--output', str(tmp_path / 's2')]) == 1
    assert 'is over the 1,073,741,824 limit' in capsys.readouterr().err


def _alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]']
    for level in range(1, levels):
        lines.append(f'a{level}: &a{level} [' + ', '.join([f'*a{level - 1}'] * 10) + ']')
    return '\n'.join(lines) + '\n'


def test_yaml_alias_bomb_is_refused_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / 'bomb.yaml'
    nested = ''.join(f'  {line}\n' for line in _alias_bomb().splitlines())
    config.write_text('trainer:\n  max_epochs: 1\nbomb:\n' + nested)
    assert run_lightning_cli(['fit', '--config', str(config)]) == 2
    assert f'{config}: YAML aliases expand to more than' in capsys.readouterr().err
    assert run_lightning_cli(['fit', f'--config={config}']) == 2
    inline = '{a: &a [1, 2], b: [*a, *a, *a]}'
    check_config_text(inline, 'inline')  # a few aliases are fine
    with pytest.raises(InputError, match=f'more than {MAX_CONFIG_NODES:,}'):
        check_config_text(_alias_bomb(6), 'inline')
    with pytest.raises(InputError, match='refers to itself'):
        check_config_text('a: &a [1, *a]', 'inline')
    big = tmp_path / 'big.yaml'
    big.write_text('x: ' + 'y' * (2 << 20))
    assert run_lightning_cli(['fit', '--config', str(big)]) == 2
    assert 'over the limit of 1,048,576' in capsys.readouterr().err


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    entries = {
        'image_features': np.zeros((2, 4), np.float32),
        'image_files': np.array(['a.jpg', 'b.jpg']),
        'caption_features': np.zeros((0, 4), np.float32),
        'captions': np.array([], dtype=np.str_),
        'model': np.array('rs-vit-tiny'),
        'checkpoint': np.array(''),
    }
    np.savez(path, **(entries | arrays))
    return path


def test_bad_embeddings_files_name_the_key(tmp_path: Path) -> None:
    assert len(load_embeddings(_npz(tmp_path / 'good.npz')).image_files) == 2
    cases = [
        ({'image_features': np.array(['x', 'y'])}, 'image_features', 'expected a float'),
        ({'image_features': np.zeros((3, 4), np.float32)}, 'image_features', r'\[2, D\]'),
        ({'image_features': np.zeros(8, np.float32)}, 'image_features', r'float \[2, D\]'),
        ({'image_files': np.zeros(2)}, 'image_files', 'list of strings'),
        ({'model': np.array(['a', 'b'])}, 'model', 'one string'),
        ({'image_features': np.full((2, 4), np.nan, np.float32)}, 'image_features', 'NaN'),
        (
            {'caption_features': np.zeros((1, 5), np.float32), 'captions': np.array(['c'])},
            'caption_features',
            '5 dimensions, the image features 4',
        ),
    ]
    for arrays, key, message in cases:
        path = _npz(tmp_path / f'{key}.npz', **arrays)
        with pytest.raises(InputError, match=f"key '{key}': .*{message}"):
            load_embeddings(path)


def test_embeddings_header_declaring_terabytes_is_refused_before_allocation(
    tmp_path: Path,
) -> None:
    path = _npz(tmp_path / 'lying.npz')
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {'descr': '<f4', 'fortran_order': False, 'shape': (10**7, 10**5)}
    )
    with zipfile.ZipFile(path, 'a') as archive:
        archive.writestr('image_features.npy', header.getvalue() + b'\0' * 64)  # duplicate
    with pytest.raises(InputError, match=r"key 'image_features': array header declares"):
        load_embeddings(path)


def test_missing_karpathy_image_is_named_by_key_not_line_zero(tmp_path: Path) -> None:
    document = {'images': [{'filename': 'gone.png', 'sentences': [{'raw': 'a bridge'}]}]}
    path = tmp_path / 'dataset_rsicd.json'
    path.write_text(json.dumps(document))
    with pytest.raises(CorpusError, match=r"key 'images\[0\]': image file not found") as info:
        KarpathyCaptionDataset(path, tmp_path)
    assert 'line' not in str(info.value)


def test_evaluating_an_empty_dataset_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / 'data' / 'remotecount'
    root.mkdir(parents=True)
    (root / 'remotecount.csv').write_text(
        'filepath,caption,class_name,count\nimages/a.png,Some planes.,plane,3\n'
    )
    output = tmp_path / 'report'
    argv = ['evaluate', '--model', 'rs-vit-tiny', '--data-root', str(tmp_path / 'data')]
    assert rs_vlm([*argv, '--output', str(output), '--suite', 'count', '--no-tensorboard']) == 1
    error = capsys.readouterr().err
    assert 'torch.cat' not in error
    assert f'read from {root} has no samples to encode; 1 bad inputs were skipped' in error


def test_dedup_refuses_or_skips_file_names_with_line_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = tmp_path / 'train', tmp_path / 'test'
    train.mkdir()
    test.mkdir()
    for folder in (train, test):
        Image.new('RGB', (32, 32), 'green').save(folder / 'green.png')
    Image.new('RGB', (32, 32), 'green').save(train / 'evil\nname.png')
    output = tmp_path / 'dropped.txt'
    pairs = tmp_path / 'pairs.csv'
    argv = ['dedup', '--train', str(train), '--test', str(test), '--output', str(output)]
    assert rs_vlm([*argv, '--no-progress']) == 1
    assert 'line break' in capsys.readouterr().err
    assert rs_vlm([*argv, '--no-progress', '--on-error', 'skip', '--pairs', str(pairs)]) == 0
    assert output.read_text() == f'{train / "green.png"}\n'  # one path, one line
    assert '1 unreadable images skipped' in capsys.readouterr().err
    assert pairs.read_text().splitlines()[1] == f'{train / "green.png"},{test / "green.png"},0'


def test_caption_csv_dataset_reads_a_quoted_caption_with_a_newline(tmp_path: Path) -> None:
    Image.new('RGB', (8, 8), 'red').save(tmp_path / 'a,b.png')
    corpus = tmp_path / 'c.csv'
    corpus.write_text('filepath,title\n"a,b.png","a red\nsquare"\n')
    assert CaptionCSVDataset(corpus, mode='retrieval').captions == ['a red\nsquare']
