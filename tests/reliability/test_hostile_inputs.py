"""Property tests: malformed annotation and caption-corpus files give only our error types.

Each example writes one file (a valid template with random lines and bytes mixed in, or
arbitrary text/bytes) and runs a reader on it. Allowed outcomes: a result, or an
:class:`~rs_vlm.errors.InputError` subclass that names the file and a line or key. Anything
else (``IndexError``, ``KeyError``, ``UnicodeDecodeError``, ``json.JSONDecodeError``...) fails.
"""

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rs_vlm.conversion import (
    read_coco,
    read_csv_boxes,
    read_dota,
    read_visdrone,
    read_voc,
    read_yolo,
)
from rs_vlm.datasets.bad_input import BadInputPolicy
from rs_vlm.datasets.caption_csv import read_caption_csv
from rs_vlm.datasets.caption_readers import read_jsonl, read_karpathy_json, read_precomp
from rs_vlm.errors import InputError

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TEMPLATES = {
    'dota': 'imagesource:GoogleEarth\ngsd:0.5\n10 10 50 10 50 40 10 40 plane 0\n'
    '60 60 90 60 90 80 60 80 small-vehicle 1\n',
    'visdrone': '684,8,273,116,0,0,0,0\n406,119,265,70,1,4,0,1\n',
    'yolo': '0 0.5 0.5 0.2 0.3\n1 0.25 0.75 0.1 0.1\n',
    'voc': '<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height>'
    '<depth>3</depth></size><object><name>ship</name><difficult>0</difficult><bndbox>'
    '<xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>\n',
    'coco': '{"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],\n'
    '"categories": [{"id": 1, "name": "ship"}],\n'
    '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]}]}\n',
    'csv_boxes': 'image_path,xmin,ymin,xmax,ymax,label\na.jpg,1,2,30,40,Tree\nb.jpg,5,5,9,9,Tree\n',
    'caption_csv': 'filepath,title\na.jpg,a ship in the harbour\nb.jpg,two planes\n',
    'jsonl': '{"filename": "a.jpg", "captions": ["a ship", "two ships"]}\n'
    '{"filename": "b.jpg", "captions": "a plane"}\n',
    'karpathy': '{"images": [{"filename": "a.jpg", "split": "train", "sentences": '
    '[{"raw": "a ship"}, {"raw": "two ships"}]}]}\n',
    'precomp_caps': 'a ship in the harbour\ntwo planes on the apron\n',
}

SIZE = (100, 80)
SIZES = {'a.jpg': SIZE, 'b.jpg': SIZE}

READERS: dict[str, Callable[[Path], object]] = {
    'dota': lambda path: read_dota(path, size=SIZE),
    'visdrone': lambda path: read_visdrone(path, size=SIZE),
    'yolo': lambda path: read_yolo(path, class_names=['ship', 'plane'], size=SIZE),
    'voc': lambda path: read_voc(path),
    'coco': lambda path: list(read_coco(path)),
    'csv_boxes': lambda path: list(read_csv_boxes(path, sizes=SIZES)),
    'caption_csv': lambda path: read_caption_csv(path),
    'jsonl': lambda path: read_jsonl(path, BadInputPolicy('raise')),
    'karpathy': lambda path: read_karpathy_json(path, BadInputPolicy('raise')),
}

_TOKENS = st.sampled_from(
    ['', ' ', ',', ':', '{', '}', '[', ']', '"', '<', '>', '</x>', '-1', '0', '1e9', 'nan',
     'inf', '1.5', 'plane', '\t', '\\', '\x00', '\ufeff', 'é', '9' * 30, 'null', 'true']
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, template: str) -> bytes:
    """A template with lines dropped, duplicated, cut, or replaced by token soup or bytes."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return draw(st.text(max_size=200)).encode('utf-8', 'surrogatepass')
    lines = template.splitlines(keepends=True)
    out: list[bytes] = []
    for line in lines:
        action = draw(st.integers(0, 5))
        if action == 0:
            continue
        if action == 1:
            out.append(line.encode() * 2)
        elif action == 2:
            cut = draw(st.integers(0, len(line)))
            out.append(line[:cut].encode())
        elif action == 3:
            soup = ''.join(draw(st.lists(_TOKENS, max_size=12)))
            out.append(soup.encode('utf-8', 'surrogatepass') + b'\n')
        elif action == 4:
            out.append(draw(st.binary(max_size=12)) + b'\n')
        else:
            out.append(line.encode())
    if choice == 3:
        out.insert(draw(st.integers(0, len(out))), draw(st.binary(min_size=1, max_size=8)))
    return b''.join(out)


def _check(name: str, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f'annotation{suffix}'
        path.write_bytes(data)
        try:
            READERS[name](path)
        except InputError as error:
            assert str(path) in str(error), f'{name}: error does not name the file: {error}'
            assert error.line is not None or error.key is not None or 'empty' in str(error), (
                f'{name}: error names neither line nor key: {error}'
            )


SUFFIXES = {
    'dota': '.txt',
    'visdrone': '.txt',
    'yolo': '.txt',
    'voc': '.xml',
    'coco': '.json',
    'csv_boxes': '.csv',
    'caption_csv': '.csv',
    'jsonl': '.jsonl',
    'karpathy': '.json',
}


def _property(name: str) -> Callable[[], None]:
    @SETTINGS
    @given(data=mutated(TEMPLATES[name]))
    def test(data: bytes) -> None:
        _check(name, data, SUFFIXES[name])

    test.__name__ = f'test_{name}_reader_raises_only_input_errors'
    return test


test_dota_reader_raises_only_input_errors = _property('dota')
test_visdrone_reader_raises_only_input_errors = _property('visdrone')
test_yolo_reader_raises_only_input_errors = _property('yolo')
test_voc_reader_raises_only_input_errors = _property('voc')
test_coco_reader_raises_only_input_errors = _property('coco')
test_csv_boxes_reader_raises_only_input_errors = _property('csv_boxes')
test_caption_csv_reader_raises_only_input_errors = _property('caption_csv')
test_jsonl_reader_raises_only_input_errors = _property('jsonl')
test_karpathy_reader_raises_only_input_errors = _property('karpathy')


@SETTINGS
@given(captions=mutated(TEMPLATES['precomp_caps']), names=mutated('a.jpg\nb.jpg\n'))
def test_precomp_reader_raises_only_input_errors(captions: bytes, names: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        caps, files = Path(folder) / 'train_caps.txt', Path(folder) / 'train_filename.txt'
        caps.write_bytes(captions)
        files.write_bytes(names)
        try:
            read_precomp(caps, files, BadInputPolicy('raise'))
        except InputError as error:
            assert str(caps) in str(error) or str(files) in str(error), str(error)
