"""CARPK's per-image text boxes in the CARPK_devkit layout, through the reader and prepare."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rs_vlm.conversion import boxes_to_captions, prepare_corpora, read_carpk
from rs_vlm.errors import AnnotationError


@pytest.fixture
def devkit(tmp_path: Path) -> Path:
    data = tmp_path / 'CARPK' / 'CARPK_devkit' / 'data'
    (data / 'Annotations').mkdir(parents=True)
    (data / 'Images').mkdir()
    (data / 'ImageSets').mkdir()
    Image.new('RGB', (128, 72)).save(data / 'Images' / '20160331_NTU_00001.png')
    lines = [f'{x} 10 {x + 12} 20 1' for x in range(0, 120, 10)] + ['120 60 140 80 1']
    (data / 'Annotations' / '20160331_NTU_00001.txt').write_text('\n'.join(lines) + '\n')
    (data / 'ImageSets' / 'train.txt').write_text('20160331_NTU_00001\n')
    return data


def test_reader_reads_the_devkit_layout(devkit: Path) -> None:
    record = read_carpk(devkit / 'Annotations' / '20160331_NTU_00001.txt')
    assert record.path == str(devkit / 'Images' / '20160331_NTU_00001.png')
    assert (record.width, record.height) == (128, 72)
    assert record.labels == ['car'] * 13
    assert record.boxes[0].tolist() == [0, 10, 12, 20]
    assert record.boxes[-1].tolist() == [120, 60, 128, 72]  # clipped to the image
    captions = boxes_to_captions(record.boxes, record.labels, record.width, record.height)
    # 13 cars: more than 10, so a quantifier instead of the number
    assert not any('13' in caption for caption in captions[2:])


@pytest.mark.parametrize(
    ('line', 'message'),
    [('1 2 3 4', '5 fields'), ('1 2 3 4 2', 'class must be one of'), ('1 2 x 4 1', 'number')],
)
def test_bad_lines_name_the_line(devkit: Path, line: str, message: str) -> None:
    path = devkit / 'Annotations' / '20160331_NTU_00001.txt'
    path.write_text(f'0 0 5 5 1\n{line}\n')
    with pytest.raises(AnnotationError, match=message) as info:
        read_carpk(path)
    assert info.value.line == 2


def test_prepare_finds_carpk(devkit: Path, tmp_path: Path) -> None:
    result = prepare_corpora(tmp_path, tmp_path / 'corpora', sources=['carpk'], progress=False)
    [carpk] = result.sources
    assert (carpk.status, carpk.images, carpk.captions) == ('converted', 1, 5)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=200)
    | st.from_regex(r'([-0-9. e]{0,12}\n){0,4}', fullmatch=True).map(str.encode)
)
def test_hostile_bytes_raise_only_annotation_errors(devkit: Path, data: bytes) -> None:
    path = devkit / 'Annotations' / '20160331_NTU_00001.txt'
    path.write_bytes(data)
    try:
        read_carpk(path)
    except AnnotationError as error:
        assert str(path) in str(error)
