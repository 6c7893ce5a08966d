"""AU-AIR's annotations.json (release layout and key spelling) through the reader and prepare."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rs_vlm.conversion import convert_annotations, prepare_corpora, read_auair
from rs_vlm.errors import AnnotationError

CATEGORIES = ['Human', 'Car', 'Truck', 'Van', 'Motorbike', 'Bicycle', 'Bus', 'Trailer']


def frame(name: str, boxes: list[dict[str, object]]) -> dict[str, object]:
    # The release spells the width key with a colon.
    return {'image_name': name, 'image_height': 108, 'image_width:': 192, 'bbox': boxes}


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / 'AU-AIR'
    (root / 'auair2019annotations').mkdir(parents=True)
    (root / 'auair2019data' / 'images').mkdir(parents=True)
    for name in ('frame_0.jpg', 'frame_1.jpg'):
        Image.new('RGB', (192, 108)).save(root / 'auair2019data' / 'images' / name)
    document = {
        'categories': CATEGORIES,
        'annotations': [
            frame(
                'frame_0.jpg',
                [
                    {'top': 10, 'left': 20, 'height': 30, 'width': 40, 'class': 1},
                    {'top': 90, 'left': 180, 'height': 50, 'width': 50, 'class': 0},
                ],
            ),
            frame('frame_1.jpg', [{'top': 1, 'left': 2, 'height': 3, 'width': 4, 'class': 6}]),
            frame('frame_2.jpg', [{'top': 1, 'left': 2, 'height': 3, 'width': 4, 'class': 1}]),
        ],
    }
    (root / 'auair2019annotations' / 'annotations.json').write_text(json.dumps(document))
    return root


def test_reader_reads_the_release_layout(release: Path) -> None:
    path = release / 'auair2019annotations' / 'annotations.json'
    errors: list[AnnotationError] = []
    first, second = read_auair(path, errors=errors)
    assert first.path == str(release / 'auair2019data' / 'images' / 'frame_0.jpg')
    assert (first.width, first.height, first.labels) == (192, 108, ['Car', 'Human'])
    # left, top, left + width, top + height; the second box clipped to the 192 x 108 frame
    assert first.boxes.tolist() == [[20, 10, 60, 40], [180, 90, 192, 108]]
    assert second.labels == ['Bus']
    [missing] = errors
    assert 'annotations[2]' in str(missing) and 'not found' in str(missing)


def test_bad_class_index_names_the_key(release: Path) -> None:
    path = release / 'auair2019annotations' / 'annotations.json'
    document = json.loads(path.read_text())
    document['annotations'][0]['bbox'][1]['class'] = 8
    path.write_text(json.dumps(document))
    with pytest.raises(AnnotationError, match='index below 8') as info:
        list(read_auair(path))
    assert info.value.key == 'annotations[0].bbox[1].class'


def test_convert_and_prepare_take_au_air(release: Path, tmp_path: Path) -> None:
    summary = convert_annotations(
        'auair',
        release / 'auair2019annotations' / 'annotations.json',
        tmp_path / 'auair.tsv',
        on_error='skip',
        progress=False,
    )
    assert summary.images == 2 and summary.skipped == {'image not found': 1}
    result = prepare_corpora(tmp_path, tmp_path / 'corpora', sources=['au_air'], progress=False)
    [au_air] = result.sources
    assert (au_air.status, au_air.images, au_air.captions) == ('converted', 2, 10)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=400)
    | st.from_regex(
        r'\{"categories": \[.{0,20}\], "annotations": \[.{0,80}\]\}', fullmatch=True
    ).map(str.encode)
)
def test_hostile_bytes_raise_only_annotation_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / 'annotations.json'
    path.write_bytes(data)
    try:
        list(read_auair(path))
    except AnnotationError as error:
        assert str(path) in str(error)
        assert error.line is not None or error.key is not None
