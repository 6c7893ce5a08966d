"""`rs-vlm convert` and `rs-vlm dedup` end to end on small files the tests make."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from rs_vlm.cli import main as rs_vlm
from rs_vlm.conversion import ISPRS_PALETTE, boxes_to_captions

QUAD = '10 10 20 10 20 20 10 20'


def dota_tree(tmp_path, files):
    labels = tmp_path / 'labelTxt'
    images = tmp_path / 'images'
    labels.mkdir()
    images.mkdir()
    for name, content in files.items():
        (labels / f'{name}.txt').write_text(content)
        Image.new('RGB', (100, 80)).save(images / f'{name}.png')
    return labels


def read_corpus(path):
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle))


def test_convert_dota_writes_five_rows_per_image_and_summary(tmp_path):
    labels = dota_tree(
        tmp_path,
        {
            'A': f'imagesource:GoogleEarth\n{QUAD} ship 0\n{QUAD} small-vehicle 0\n',
            'B': 'gsd:0.1\n',  # no objects: skipped by default
            'C': f'{QUAD} harbor 0\n200 200 210 200 210 210 200 210 ship 0\n',
        },
    )
    output = tmp_path / 'corpus.csv'
    args = ['convert', '--format', 'dota', '--annotations', str(labels), '--output', str(output)]
    args.append('--relative-paths')
    assert rs_vlm([*args, '--seed', '3', '--no-progress']) == 0
    rows = read_corpus(output)
    assert [r['filepath'] for r in rows] == ['images/A.png'] * 5 + ['images/C.png'] * 5
    expected = boxes_to_captions(
        [[10, 10, 20, 20]] * 2, ['ship', 'small-vehicle'], 100, 80, seed=3, key='images/A.png'
    )
    assert [r['title'] for r in rows[:5]] == expected
    summary = json.loads((tmp_path / 'corpus.csv.summary.json').read_text())
    assert summary['images'] == 2 and summary['captions'] == 10 and summary['objects'] == 3
    assert summary['skipped'] == {'no objects': 1}
    assert summary['dropped_boxes'] == {'outside image': 1}
    first = output.read_bytes()
    assert rs_vlm([*args, '--seed', '3', '--no-progress']) == 0  # re-running is safe
    assert output.read_bytes() == first
    assert rs_vlm([*args, '--seed', '4', '--no-progress', '--keep-empty']) == 0
    assert len(read_corpus(output)) == 15


def test_convert_error_leaves_no_partial_corpus(tmp_path, capsys):
    labels = dota_tree(
        tmp_path, {'A': f'{QUAD} ship 0\n', 'B': f'{QUAD} ship 0\n10 10 x 10 ship 0\n'}
    )
    output = tmp_path / 'corpus.csv'
    output.write_text('previous corpus\n')
    args = ['convert', '--format', 'dota', '--annotations', str(labels), '--output', str(output)]
    args.append('--relative-paths')
    assert rs_vlm([*args, '--no-progress']) == 1
    error = capsys.readouterr().err
    assert 'B.txt, line 2' in error
    assert output.read_text() == 'previous corpus\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['corpus.csv', 'images', 'labelTxt']
    assert rs_vlm([*args, '--no-progress', '--on-error', 'skip']) == 0
    assert [r['filepath'] for r in read_corpus(output)] == ['images/A.png'] * 5
    summary = json.loads((tmp_path / 'corpus.csv.summary.json').read_text())
    assert summary['skipped'] == {'malformed annotation': 1}
    assert 'B.txt, line 2' in summary['errors'][0]


def test_convert_strict_classes_and_class_map_jsonl(tmp_path):
    labels = dota_tree(tmp_path, {'A': f'{QUAD} ship 0\n{QUAD} sub 0\n'})
    (tmp_path / 'classes.txt').write_text('ship\nharbor\n')
    (tmp_path / 'map.json').write_text('{"sub": "submarine"}')
    output = tmp_path / 'corpus.jsonl'
    base = ['convert', '--format', 'dota', '--annotations', str(labels), '--output', str(output)]
    base.append('--relative-paths')
    assert rs_vlm([*base, '--classes', str(tmp_path / 'classes.txt'), '--no-progress']) == 1
    assert rs_vlm([*base, '--jsonl', '--class-map', str(tmp_path / 'map.json')]) == 0
    (entry,) = [json.loads(line) for line in output.read_text().splitlines()]
    assert entry['filepath'] == 'images/A.png' and len(entry['captions']) == 5
    assert 'submarine' in ' '.join(entry['captions'])


def test_convert_isprs_masks(tmp_path):
    images = tmp_path / 'images'
    masks = tmp_path / 'masks'
    images.mkdir()
    masks.mkdir()
    index = np.zeros((40, 40), np.uint8)  # impervious surface everywhere
    index[5:10, 5:10] = 4  # a car
    index[20:30, 20:30] = 1  # a building
    index[0:2, 38:40] = 5  # clutter: ignored
    Image.fromarray(np.array(ISPRS_PALETTE, np.uint8)[index]).save(masks / 'tile_label.png')
    Image.new('RGB', (40, 40)).save(images / 'tile_RGB.png')
    output = tmp_path / 'potsdam.csv'
    args = [
        'convert', '--format', 'mask', '--mask-format', 'isprs', '--annotations', str(masks),
        '--images', str(images), '--strip-suffix', '_label', '--image-suffix', '_RGB',
        '--output', str(output), '--no-progress', '--relative-paths',
    ]  # fmt: skip
    assert rs_vlm(args) == 0
    rows = read_corpus(output)
    assert {r['filepath'] for r in rows} == {'images/tile_RGB.png'} and len(rows) == 5
    text = ' '.join(r['title'] for r in rows).lower()
    assert 'a car' in text and 'a building' in text and 'clutter' not in text
    # the paper's Table I keeps 4 ISPRS classes: impervious surface gives no caption
    assert 'impervious' not in text


def test_dedup_cli(tmp_path):
    rng = np.random.default_rng(0)
    train, test = tmp_path / 'train', tmp_path / 'test'
    train.mkdir()
    test.mkdir()

    def smooth():
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        return Image.fromarray(coarse).resize((64, 64), Image.Resampling.BICUBIC)

    pictures = [smooth() for _ in range(6)]
    for i, picture in enumerate(pictures):
        picture.save(train / f'{i}.png')
    pictures[2].save(test / 'same.png')
    touched = np.array(pictures[4])
    touched[0, 0] = 255 - touched[0, 0]  # near-duplicate: one pixel changed
    Image.fromarray(touched).save(test / 'touched.png')
    smooth().save(test / 'other.png')
    (train / 'broken.png').write_bytes(b'no image')
    output = tmp_path / 'dropped.txt'
    args = ['dedup', '--train', str(train), '--test', str(test), '--output', str(output)]
    assert rs_vlm([*args, '--no-progress']) == 1
    assert not output.exists()
    pairs = tmp_path / 'pairs.csv'
    assert rs_vlm([*args, '--no-progress', '--on-error', 'skip', '--pairs', str(pairs)]) == 0
    assert output.read_text().splitlines() == [str(train / '2.png'), str(train / '4.png')]
    assert len(pairs.read_text().splitlines()) == 3


@pytest.mark.parametrize(
    'argv',
    [
        ['convert'],
        ['convert', '--format', 'kml'],
        [
            'convert',
            '--format',
            'dota',
            '--annotations',
            '.',
            '--output',
            'x.csv',
            '--center-fraction',
            '2',
        ],
    ],
)
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        rs_vlm(argv)
    assert info.value.code == 2


@pytest.mark.parametrize('jsonl', [False, True])
def test_dedup_filters_a_converted_corpus(tmp_path, jsonl):
    rng = np.random.default_rng(1)
    labels = dota_tree(tmp_path, {name: f'{QUAD} ship 0\n' for name in 'ABC'})
    for name in 'ABC':  # distinct smooth images
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((100, 80), Image.Resampling.BICUBIC).save(
            tmp_path / 'images' / f'{name}.png'
        )
    test = tmp_path / 'test'
    test.mkdir()
    Image.open(tmp_path / 'images' / 'B.png').save(test / 'b_copy.png')
    corpus = tmp_path / ('corpus.jsonl' if jsonl else 'corpus.csv')
    convert = ['convert', '--format', 'dota', '--annotations', str(labels), '--output', str(corpus)]
    convert.append('--relative-paths')
    assert rs_vlm([*convert, '--no-progress', *(['--jsonl'] if jsonl else [])]) == 0
    filtered = tmp_path / f'filtered{corpus.suffix}'
    dropped = tmp_path / 'dropped.txt'
    args = ['dedup', '--train', str(corpus), '--test', str(test), '--output', str(dropped)]
    assert rs_vlm([*args, '--corpus-output', str(filtered), '--no-progress']) == 0
    assert dropped.read_text().splitlines() == [str(tmp_path / 'images' / 'B.png')]
    if jsonl:
        paths = [json.loads(line)['filepath'] for line in filtered.read_text().splitlines()]
        assert paths == ['images/A.png', 'images/C.png']
    else:
        rows = read_corpus(filtered)
        assert [r['filepath'] for r in rows] == ['images/A.png'] * 5 + ['images/C.png'] * 5
        original = read_corpus(corpus)
        assert rows == [r for r in original if r['filepath'] != 'images/B.png']


def test_dedup_bad_corpus_names_the_line(tmp_path, capsys):
    corpus = tmp_path / 'c.csv'
    corpus.write_text('filepath,title\na.png,A ship .\nb.png\n')
    args = ['dedup', '--train', str(corpus), '--test', str(tmp_path), '--output', 'x.txt']
    assert rs_vlm(args) == 1
    assert f'{corpus}, line 3: expected 2 fields' in capsys.readouterr().err
    corpus.write_text('path,title\n')
    assert rs_vlm(args) == 1
    assert 'no "filepath" column' in capsys.readouterr().err


def test_convert_index_masks_from_npy(tmp_path):
    masks = tmp_path / 'masks'
    masks.mkdir()
    mask = np.zeros((20, 30), np.uint16)
    mask[2:5, 2:5] = 2
    mask[10:12, 20:29] = 3
    np.save(masks / 'tile.npy', mask[..., None])
    np.save(masks / 'empty.npy', np.zeros((20, 30), np.uint16))
    Image.new('RGB', (30, 20)).save(masks / 'tile.png')
    Image.new('RGB', (30, 20)).save(masks / 'empty.png')
    (tmp_path / 'names.txt').write_text('no data\nbackground\nbuilding\nroad\n')
    output = tmp_path / 'loveda.csv'
    args = [
        'convert', '--format', 'mask', '--annotations', str(masks), '--output', str(output),
        '--class-names', str(tmp_path / 'names.txt'), '--ignore-index', '0', '1',
        '--no-progress', '--relative-paths',
    ]  # fmt: skip
    assert rs_vlm(args) == 1  # masks/*.png are taken as masks of themselves
    assert rs_vlm([*args[:4], str(masks / 'tile.npy'), *args[5:]]) == 0
    rows = read_corpus(output)
    assert {r['filepath'] for r in rows} == {'masks/tile.png'}
    text = ' '.join(r['title'] for r in rows)
    assert 'a building' in text and 'a road' in text
    assert rs_vlm([*args[:4], str(masks / 'empty.npy'), *args[5:], '--keep-empty']) == 0
    assert len(read_corpus(output)) == 5


def test_convert_a_folder_without_files_of_the_format_is_an_error(tmp_path, capsys):
    folder = tmp_path / 'Annotations'
    folder.mkdir()
    for name in ('a', 'b'):
        (folder / f'{name}.xml').write_text('<annotation/>')
    output = tmp_path / 'corpus.csv'
    args = ['convert', '--format', 'dota', '--annotations', str(folder), '--output', str(output)]
    assert rs_vlm([*args, '--no-progress']) == 1
    error = capsys.readouterr().err
    assert 'no .txt file (dota annotations) in this folder or below; found 2 .xml' in error
    assert not output.exists()


def test_convert_with_every_image_skipped_exits_1(tmp_path, capsys):
    labels = dota_tree(tmp_path, {'A': f'{QUAD} ship 0\n'})
    (tmp_path / 'images' / 'A.png').unlink()
    output = tmp_path / 'corpus.csv'
    args = ['convert', '--format', 'dota', '--annotations', str(labels), '--output', str(output)]
    assert rs_vlm([*args, '--no-progress', '--on-error', 'skip']) == 1
    assert 'no image was converted' in capsys.readouterr().err
    assert read_corpus(output) == []


@pytest.mark.parametrize('option', ['--train', '--test'])
def test_dedup_refuses_a_side_without_images(tmp_path, capsys, option):
    images = tmp_path / 'images'
    images.mkdir()
    Image.new('RGB', (40, 40)).save(images / 'a.png')
    empty = tmp_path / 'captions'
    empty.mkdir()
    (empty / 'train_caps.txt').write_text('a caption\n')
    sides = {'--train': images, '--test': images, option: empty}
    output = tmp_path / 'dropped.txt'
    argv = ['dedup', '--train', str(sides['--train']), '--test', str(sides['--test'])]
    assert rs_vlm([*argv, '--output', str(output), '--no-progress']) == 1
    assert f'{empty}: {option} holds no image' in capsys.readouterr().err
    assert not output.exists()
