"""LEVIR's label files beside their images (``LEVIR/imageWithLabel``), reader and prepare.

The layout and class ids (1 airplane, 2 ship, 3 oil tank; ``class xmin ymin xmax ymax``) are
those public LEVIR loaders read, e.g. a ``LevirPreprocessService`` over
``LEVIR/imageWithLabel/*.txt`` mapping ``{1: 'plane', 2: 'ship', 3: 'oilpot'}``.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rs_vlm.conversion import convert_annotations, prepare_corpora, read_levir
from rs_vlm.conversion.cli import main as convert_main
from rs_vlm.conversion.reader_utils import ImageNotFoundError
from rs_vlm.errors import AnnotationError


@pytest.fixture
def levir(tmp_path: Path) -> Path:
    folder = tmp_path / 'LEVIR' / 'imageWithLabel'
    folder.mkdir(parents=True)
    Image.new('RGB', (800, 600), (90, 120, 60)).save(folder / '10001.jpg')
    # two airplanes in the middle, one oil tank running off the bottom-right corner
    (folder / '10001.txt').write_text('1 350 250 420 310\n1 400 300 450 340\n3 760 560 840 640\n')
    Image.new('RGB', (800, 600), (30, 60, 160)).save(folder / '10002.jpg')
    (folder / '10002.txt').write_text('')  # an image without targets
    Image.new('RGB', (800, 600), (30, 60, 160)).save(folder / '10003.jpg')
    (folder / '10003.txt').write_text('2 10 10 60 30\r\n2 100 10 150 30\r\n')  # CRLF lines
    return folder


def test_reader_reads_the_release_layout(levir: Path) -> None:
    record = read_levir(levir / '10001.txt')
    assert record.path == str(levir / '10001.jpg')
    assert (record.width, record.height) == (800, 600)
    assert record.labels == ['plane', 'plane', 'oil tank']
    assert record.boxes.tolist() == [
        [350, 250, 420, 310],
        [400, 300, 450, 340],
        [760, 560, 800, 600],  # clipped to the 800 x 600 frame
    ]
    assert read_levir(levir / '10002.txt').labels == []
    assert read_levir(levir / '10003.txt').labels == ['ship', 'ship']


@pytest.mark.parametrize(
    ('line', 'message'),
    [
        ('1 2 3 4', '5 fields'),
        ('4 1 2 3 4', 'class must be one of'),
        ('0 1 2 3 4', 'class must be one of'),
        ('1 2 x 4 5', 'number'),
        ('plane 1 2 3 4', 'number'),
    ],
)
def test_bad_lines_name_the_file_and_line(levir: Path, line: str, message: str) -> None:
    path = levir / '10001.txt'
    path.write_text(f'1 0 0 5 5\n{line}\n')
    with pytest.raises(AnnotationError, match=message) as info:
        read_levir(path)
    assert info.value.line == 2
    assert info.value.path == str(path)


def test_missing_image_is_counted_apart(levir: Path, tmp_path: Path) -> None:
    (levir / '10003.jpg').unlink()
    with pytest.raises(ImageNotFoundError, match='10003'):
        read_levir(levir / '10003.txt')
    summary = convert_annotations(
        'levir', levir, tmp_path / 'levir.csv', on_error='skip', progress=False
    )
    assert (summary.images, summary.captions) == (1, 5)
    assert summary.skipped == {'image not found': 1, 'no objects': 1}
    assert summary.dropped_boxes == {}  # the corner oil tank is clipped, not dropped


def test_prepare_finds_levir_and_captions_name_its_classes(levir: Path, tmp_path: Path) -> None:
    output = tmp_path / 'corpora'
    result = prepare_corpora(
        tmp_path, output, sources=['levir'], corpus_format='jsonl', progress=False
    )
    [source] = result.sources
    assert (source.status, source.images, source.captions) == ('converted', 2, 10)
    assert source.skipped == {'no objects': 1}
    rows = [json.loads(line) for line in (output / 'levir.jsonl').read_text().splitlines()]
    assert [Path(row['filepath']).name for row in rows] == ['10001.jpg', '10003.jpg']
    first = ' '.join(rows[0]['captions']).lower()
    assert 'airplane' in first and 'oil tank' in first
    assert 'ship' in ' '.join(rows[1]['captions']).lower()


def test_cli_converts_levir(levir: Path, tmp_path: Path) -> None:
    output = tmp_path / 'levir.csv'
    arguments = ['--format', 'levir', '--annotations', str(levir), '--output', str(output)]
    code = convert_main([*arguments, '--no-progress'])
    assert code == 0
    assert output.read_text().count('10001.jpg') == 5


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=200)
    | st.from_regex(r'([-0-9. e]{0,14}\n){0,4}', fullmatch=True).map(str.encode)
)
def test_hostile_bytes_raise_only_annotation_errors(levir: Path, data: bytes) -> None:
    path = levir / '10001.txt'
    path.write_bytes(data)
    try:
        read_levir(path)
    except AnnotationError as error:
        assert str(path) in str(error)
