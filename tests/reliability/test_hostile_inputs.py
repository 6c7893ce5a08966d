"""Property tests: random bytes and random structure into every reader and decoder.

One harness per reader family. Each example writes one or a few files (a valid template with
lines dropped, cut, duplicated or replaced by token soup and bytes; or arbitrary bytes; or
random JSON / tar / npz / torch structures) and runs the reader on them. The only outcomes
allowed are a result or the project's documented error (:mod:`rs_vlm.errors`: an
:class:`~rs_vlm.errors.InputError` subclass naming the file). Image decoders document the
wider :data:`~rs_vlm.datasets.bad_input.IMAGE_READ_ERRORS` (what Pillow and rasterio raise),
which the datasets turn into :class:`~rs_vlm.errors.CorpusError`; both are checked. Anything
else (``IndexError``, ``KeyError``, ``RecursionError``, ``MemoryError``, Pillow's
``DecompressionBombError``, ...) fails the test.

Memory is bounded: every example runs with the address space capped at what the process
uses plus 1 GiB (``RLIMIT_AS``), so a reader that allocates for a size a file merely declares
fails with ``MemoryError`` instead of passing.
"""

import io
import json
import os
import resource
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from rasterio.io import MemoryFile

from rs_vlm.cli import main as rs_vlm
from rs_vlm.conversion import (
    read_coco,
    read_csv_boxes,
    read_dota,
    read_levir,
    read_stanford_drone,
    read_visdrone,
    read_voc,
    read_yolo,
)
from rs_vlm.datasets.bad_input import IMAGE_READ_ERRORS, BadInputPolicy
from rs_vlm.datasets.caption_csv import read_caption_csv
from rs_vlm.datasets.caption_readers import read_jsonl, read_karpathy_json, read_precomp
from rs_vlm.datasets.remote_count import RemoteCount
from rs_vlm.datasets.webdataset_shards import WebDatasetShards
from rs_vlm.errors import CheckpointError, InputError
from rs_vlm.io.decoding import decode_image_bytes, load_image
from rs_vlm.models.checkpoint import read_state_dict
from rs_vlm.prediction.archive_search import load_archive_index
from rs_vlm.prediction.embed import load_embeddings
from rs_vlm.prediction.inputs import read_captions, read_class_names, read_templates
from rs_vlm.reliability.config_size import check_config_text

#: Examples per reader; set ``RS_VLM_FUZZ_EXAMPLES`` for a longer hunt (CI keeps it fast).
EXAMPLES = int(os.environ.get('RS_VLM_FUZZ_EXAMPLES', '50'))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))

_STATM = Path('/proc/self/statm')


@contextmanager
def bounded_memory(extra: int = 1 << 30) -> Iterator[None]:
    """Cap the address space at the current size plus ``extra`` bytes (Linux), then restore."""
    if not _STATM.exists():
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(_STATM.read_text().split()[0]) * resource.getpagesize() + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_reader(read: Callable[[], Any], *paths: Path, allowed: Any = InputError) -> Any:
    """Run ``read`` under the memory cap; an ``allowed`` error must name one of ``paths``."""
    with bounded_memory():
        try:
            result = read()
            if isinstance(result, Iterator):
                result = list(result)
            return result
        except allowed as error:
            if isinstance(error, InputError) and paths:
                assert any(str(path) in str(error) for path in paths), str(error)
            return error


# -- Mutations of valid files ------------------------------------------------------------------

_TOKENS = st.sampled_from(
    ['', ' ', ',', ':', '{', '}', '[', ']', '"', '<', '>', '</x>', '-1', '0', '1e9', 'nan',
     'inf', '1.5', 'plane', '\t', '\\', '\x00', '\ufeff', 'é', '9' * 30, '9' * 5000, 'null',
     'true', '\u2028', '\x85', '\x0c', '\r', '[' * 3000, '&a', '*a', '{:>99999}']
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, template: str | bytes) -> bytes:
    """A template with lines dropped, duplicated, cut, or replaced by token soup or bytes."""
    raw = template.encode() if isinstance(template, str) else template
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.binary(max_size=300))
    if choice == 1:
        return draw(st.text(max_size=300)).encode('utf-8', 'surrogatepass')
    if choice == 2:  # byte-level: flips and a cut
        data = bytearray(raw)
        for position, value in draw(
            st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)
        ):
            if data:
                data[position % len(data)] = value
        return bytes(data[: draw(st.integers(0, len(data)))])
    out: list[bytes] = []
    for line in raw.splitlines(keepends=True):
        action = draw(st.integers(0, 5))
        if action == 0:
            continue
        if action == 1:
            out.append(line * 2)
        elif action == 2:
            out.append(line[: draw(st.integers(0, len(line)))])
        elif action == 3:
            soup = ''.join(draw(st.lists(_TOKENS, max_size=12)))
            out.append(soup.encode('utf-8', 'surrogatepass') + b'\n')
        elif action == 4:
            out.append(draw(st.binary(max_size=12)) + b'\n')
        else:
            out.append(line)
    if choice == 4:
        out.insert(draw(st.integers(0, len(out))), draw(st.binary(min_size=1, max_size=8)))
    return b''.join(out)


JSON_KEYS = ['images', 'annotations', 'categories', 'id', 'bbox', 'image_id', 'category_id',
             'name', 'file_name', 'filename', 'width', 'height', 'sentences', 'raw', 'split',
             'captions', 'samples', 'shards']  # fmt: skip
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
        st.text(max_size=6), st.sampled_from(['a.jpg', '000.png', 'shard-000000.tar', 'ship']),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.sampled_from(JSON_KEYS), children, max_size=5),
    ),
    max_leaves=20,
)  # fmt: skip
JSON_TEXT = st.one_of(JSON_VALUES.map(json.dumps), st.just('[' * 50_000))


def _write(folder: str, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


# -- Caption corpora ---------------------------------------------------------------------------

CAPTION_TEMPLATES = {
    'caption.csv': 'filepath,title\na.jpg,a ship in the harbour\nb.jpg,"two planes,\nparked"\n',
    'caption.tsv': 'filepath\ttitle\na.jpg\ta ship\nb.jpg\ttwo planes\n',
    'captions.jsonl': '{"filename": "a.jpg", "captions": ["a ship", "two ships"]}\n'
    '{"filename": "b.jpg", "captions": "a plane"}\n',
    'dataset.json': '{"images": [{"filename": "a.jpg", "split": "train", "sentences": '
    '[{"raw": "a ship"}, {"raw": "two ships"}]}]}\n',
    'remotecount.csv': 'filepath,caption,class_name,count\na.jpg,three ships,ship,3\n',
}
CAPTION_READERS: dict[str, Callable[[Path], object]] = {
    'caption.csv': read_caption_csv,
    'caption.tsv': read_caption_csv,
    'captions.jsonl': lambda path: read_jsonl(path, BadInputPolicy('raise')),
    'dataset.json': lambda path: read_karpathy_json(path, BadInputPolicy('raise')),
    'remotecount.csv': lambda path: RemoteCount(path.parent, annotations=path.name),
}


@SETTINGS
@given(
    name=st.sampled_from(sorted(CAPTION_TEMPLATES)),
    data=st.data(),
    skip=st.booleans(),
)
def test_caption_corpus_readers(name: str, data: st.DataObject, skip: bool) -> None:
    content = data.draw(st.one_of(mutated(CAPTION_TEMPLATES[name]), JSON_TEXT.map(str.encode)))
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, name, content)
        (Path(folder) / 'a.jpg').write_bytes(b'')
        run_reader(lambda: CAPTION_READERS[name](path), path)
        if skip and name != 'remotecount.csv':
            policy = BadInputPolicy('skip')
            readers = {
                'captions.jsonl': lambda: read_jsonl(path, policy),
                'dataset.json': lambda: read_karpathy_json(path, policy),
            }
            read = readers.get(name, lambda: read_caption_csv(path, policy=policy))
            run_reader(read, path)
        run_reader(lambda: read_captions(path), path)


@SETTINGS
@given(
    captions=mutated('a ship in the harbour\ntwo planes on the apron\n'),
    names=mutated('a.jpg\nb.jpg\n'),
)
def test_precomp_reader(captions: bytes, names: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        caps = _write(folder, 'train_caps.txt', captions)
        files = _write(folder, 'train_filename.txt', names)
        run_reader(lambda: read_precomp(caps, files, BadInputPolicy('raise')), caps, files)


# -- Annotation readers ------------------------------------------------------------------------

SIZE = (100, 80)
ANNOTATION_TEMPLATES = {
    'dota.txt': 'imagesource:GoogleEarth\ngsd:0.5\n10 10 50 10 50 40 10 40 plane 0\n'
    '60 60 90 60 90 80 60 80 small-vehicle 1\n',
    'visdrone.txt': '684,8,273,116,0,0,0,0\n406,119,265,70,1,4,0,1\n',
    'yolo.txt': '0 0.5 0.5 0.2 0.3\n1 0.25 0.75 0.1 0.1\n1 0.1 0.1 0.3 0.1 0.3 0.2 0.1 0.2\n',
    'voc.xml': '<annotation><filename>a.jpg</filename><size><width>100</width><height>80'
    '</height><depth>3</depth></size><object><name>ship</name><difficult>0</difficult><bndbox>'
    '<xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>\n'
    '<object><name>ship</name><robndbox><cx>50</cx><cy>50</cy><w>20</w><h>10</h>'
    '<angle>1.5</angle></robndbox></object></annotation>\n',
    'coco.json': '{"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],\n'
    '"categories": [{"id": 1, "name": "ship"}],\n'
    '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]}]}\n',
    'boxes.csv': 'image_path,xmin,ymin,xmax,ymax,label\na.jpg,1,2,30,40,Tree\nb.jpg,5,5,9,9,Tree\n',
}
ANNOTATION_READERS: dict[str, Callable[[Path], object]] = {
    'dota.txt': lambda path: read_dota(path, size=SIZE),
    'visdrone.txt': lambda path: read_visdrone(path, size=SIZE),
    'yolo.txt': lambda path: read_yolo(path, class_names=['ship', 'plane'], size=SIZE),
    'voc.xml': read_voc,
    'coco.json': read_coco,
    'boxes.csv': lambda path: read_csv_boxes(path, sizes={'a.jpg': SIZE, 'b.jpg': SIZE}),
}
COLLECTING_READERS: dict[str, Callable[[Path], object]] = {
    'coco.json': lambda path: read_coco(path, errors=[]),
    'boxes.csv': lambda path: read_csv_boxes(path, sizes={'a.jpg': SIZE}, errors=[]),
}


@SETTINGS
@given(name=st.sampled_from(sorted(ANNOTATION_TEMPLATES)), data=st.data())
def test_annotation_readers(name: str, data: st.DataObject) -> None:
    structured = name.endswith(('.json', '.xml'))
    extra = JSON_TEXT.map(str.encode) if structured else mutated(ANNOTATION_TEMPLATES['dota.txt'])
    content = data.draw(st.one_of(mutated(ANNOTATION_TEMPLATES[name]), extra))
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, name, content)
        run_reader(lambda: ANNOTATION_READERS[name](path), path)
        if name in COLLECTING_READERS:
            run_reader(lambda: COLLECTING_READERS[name](path), path)


MASK_ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=12),
)


@FEW
@given(data=st.data(), as_npy=st.booleans())
def test_mask_reader_through_convert(data: st.DataObject, as_npy: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        masks = Path(folder) / 'masks'
        masks.mkdir()
        Image.new('RGB', (12, 12)).save(Path(folder) / 'tile.png')
        if as_npy:
            mask = masks / 'tile.npy'
            np.save(mask, data.draw(MASK_ARRAYS))
            if data.draw(st.booleans()):
                mask.write_bytes(data.draw(mutated(mask.read_bytes())))
        else:
            buffer = io.BytesIO()
            Image.fromarray(np.eye(12, dtype=np.uint8) * 3).save(buffer, format='PNG')
            mask = _write(str(masks), 'tile.png', data.draw(mutated(buffer.getvalue())))
        args = [
            'convert', '--format', 'mask', '--annotations', str(mask), '--images', folder,
            '--output', str(Path(folder) / 'out.csv'), '--class-names', str(Path(folder) / 'n.txt'),
            '--no-progress',
        ]  # fmt: skip
        (Path(folder) / 'n.txt').write_text('background\nbuilding\nroad\ncar\n')
        with bounded_memory():
            assert rs_vlm(args) in (0, 1)


# -- Image decoders ----------------------------------------------------------------------------


def _encoded_images() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    images = {}
    for suffix, fmt in (('.png', 'PNG'), ('.jpg', 'JPEG'), ('.bmp', 'BMP'), ('.gif', 'GIF'),
                        ('.webp', 'WEBP')):  # fmt: skip
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt)
        images[suffix] = buffer.getvalue()
    profile = {'driver': 'GTiff', 'width': 16, 'height': 12, 'count': 4, 'dtype': 'float32'}
    with MemoryFile() as memory:
        with memory.open(**profile) as target:
            target.write(rng.normal(size=(4, 12, 16)).astype(np.float32))
        images['.tif'] = memory.read()
    return images


ENCODED = _encoded_images()


@SETTINGS
@given(suffix=st.sampled_from(sorted(ENCODED)), data=st.data(), size=st.sampled_from([None, 8]))
def test_image_decoders(suffix: str, data: st.DataObject, size: int | None) -> None:
    content = data.draw(mutated(ENCODED[suffix]))
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, f'image{suffix}', content)
        for dtype in (torch.float32, torch.uint8):
            result = run_reader(
                lambda dtype=dtype: load_image(path, size, dtype), allowed=IMAGE_READ_ERRORS
            )
            if isinstance(result, torch.Tensor):
                assert result.shape[0] == 3 and result.dtype == dtype
                assert torch.isfinite(result.float()).all()
            run_reader(lambda: decode_image_bytes(content, suffix, size), allowed=IMAGE_READ_ERRORS)
        policy = BadInputPolicy('raise')
        run_reader(lambda: policy.read_image(lambda: load_image(path, size), path), path)


# -- Shards ------------------------------------------------------------------------------------

MEMBER_NAMES = st.sampled_from(
    ['000.png', '000.txt', '000.json', '001.jpg', '001.json', 'a/002.tif', '002.txt',
     '../evil.png', '/abs.png', '003', '.hidden.txt']
)  # fmt: skip
MEMBER_DATA = st.one_of(
    st.binary(max_size=64),
    st.just(ENCODED['.png']),
    st.just(ENCODED['.jpg']),
    JSON_TEXT.map(str.encode),
    st.just(b'{"captions": ["a ship", "two planes"]}'),
)


@SETTINGS
@given(
    members=st.lists(st.tuples(MEMBER_NAMES, MEMBER_DATA), max_size=6),
    index=st.one_of(st.none(), JSON_TEXT, st.builds(
        lambda entries: json.dumps({'samples': entries}),
        st.lists(st.lists(JSON_VALUES, max_size=6), max_size=3),
    )),
    cut=st.integers(0, 4000),
    skip=st.booleans(),
)  # fmt: skip
def test_shard_readers(
    members: list[tuple[str, bytes]], index: str | None, cut: int, skip: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode='w', format=tarfile.USTAR_FORMAT) as archive:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        raw = buffer.getvalue()
        shard = _write(folder, 'shard-000000.tar', raw[: cut + 512] if cut < 4000 else raw)
        if index is not None:
            _write(folder, 'index.json', index.encode())
        on_error = 'skip' if skip else 'raise'
        dataset = run_reader(
            lambda: WebDatasetShards(folder, image_size=8, on_error=on_error), shard, Path(folder)
        )
        if isinstance(dataset, WebDatasetShards):
            for position in range(min(len(dataset), 4)):
                run_reader(lambda position=position: dataset[position], shard, Path(folder))


# -- Embeddings files --------------------------------------------------------------------------

EMBEDDING_ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int8, np.bool_, np.dtype('<U3'),
                           np.complex64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)  # fmt: skip
EMBEDDING_KEYS = ['image_features', 'image_files', 'caption_features', 'captions', 'model',
                  'checkpoint', 'other']  # fmt: skip


@SETTINGS
@given(
    entries=st.dictionaries(st.sampled_from(EMBEDDING_KEYS), EMBEDDING_ARRAYS, max_size=7),
    data=st.data(),
    mutate=st.booleans(),
)
def test_embeddings_reader(
    entries: dict[str, np.ndarray], data: st.DataObject, mutate: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / 'embeddings.npz'
        np.savez(path, **entries)
        if mutate:
            path.write_bytes(data.draw(mutated(path.read_bytes())))
        result = run_reader(lambda: load_embeddings(path), path)
        if not isinstance(result, InputError):
            assert result.image_features.shape[0] == len(result.image_files)


# -- Archive indexes ---------------------------------------------------------------------------

_INDEX_VECTORS = np.eye(3, 4, dtype=np.float32)


def _index_bytes() -> bytes:
    import faiss

    index = faiss.IndexFlatIP(4)
    index.add(_INDEX_VECTORS)
    return faiss.serialize_index(index).tobytes()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


INDEX_FILE = _index_bytes()
ARCHIVE_MANIFEST = {
    'format': 'rs-vlm-archive-index/1', 'model': 'rs-vit-tiny', 'checkpoint': '',
    'checkpoint_sha256': '', 'dim': 4, 'count': 3, 'index_type': 'flat',
    'description': 'Flat', 'search_parameters': {'nprobe': 32, 'efSearch': 128, 'k_factor': 8},
    'skipped': [],
}  # fmt: skip
ARCHIVE_SOURCES = {
    'images': {'kind': 'images', 'count': 3},
    'raster': {'kind': 'raster', 'count': 3, 'window': 8, 'stride': 8,
               'transform': [1.0, 0.0, 0.0, 0.0, -1.0, 16.0]},
}  # fmt: skip
ARCHIVE_FILES = {
    'index.faiss': INDEX_FILE,
    'ids.npy': _npy_bytes(np.arange(3, dtype=np.int64)),
    'paths.txt': b'/data/a.jpg\n/data/b.jpg\n/data/c.jpg\n',
    'windows.npy': _npy_bytes(np.array([[0, 0], [0, 8], [8, 0]], dtype=np.int64)),
}
INDEX_ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.int64, np.int32, np.uint8, np.float32, np.bool_, np.dtype('<U2')]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)  # fmt: skip
MANIFEST_VALUES = st.one_of(JSON_VALUES, st.integers(-(2**70), 2**70), st.just('x'))


@st.composite
def archive_folder(draw: st.DrawFn) -> dict[str, bytes | None]:
    """The files of an index folder: each valid, mutated, replaced by an array, or absent."""
    kind = draw(st.sampled_from(sorted(ARCHIVE_SOURCES)))
    manifest: dict[str, Any] = {**ARCHIVE_MANIFEST, 'source': dict(ARCHIVE_SOURCES[kind])}
    for key in draw(st.lists(st.sampled_from([*manifest, 'source.window', 'source.transform',
                                              'source.kind', 'search_parameters.nprobe']),
                             max_size=3)):  # fmt: skip
        target, _, inner = key.partition('.')
        container = manifest.get(target) if inner else manifest
        if isinstance(container, dict):
            if draw(st.booleans()):
                container.pop(inner or target, None)
            else:
                container[inner or target] = draw(MANIFEST_VALUES)
    files: dict[str, bytes | None] = {'manifest.json': json.dumps(manifest).encode()}
    files.update(ARCHIVE_FILES)
    for name in draw(st.lists(st.sampled_from(sorted(files)), max_size=2)):
        action = draw(st.integers(0, 2))
        if action == 0:
            files[name] = None
        elif action == 1 or not name.endswith('.npy'):
            files[name] = draw(st.one_of(mutated(files[name] or b''), JSON_TEXT.map(str.encode)))
        else:
            files[name] = _npy_bytes(draw(INDEX_ARRAYS))
    return files


@SETTINGS
@given(files=archive_folder())
def test_archive_index_reader(files: dict[str, bytes | None]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, content in files.items():
            if content is not None:
                _write(folder, name, content)
        paths = [Path(folder) / name for name in files]
        archive = run_reader(lambda: load_archive_index(folder), Path(folder), *paths)
        if isinstance(archive, InputError):
            return
        # A loaded index answers queries: every hit maps to a listed image or a window.
        _, items = archive.search_vectors(_INDEX_VECTORS[:1], k=3)
        for item in items[0][items[0] >= 0]:
            if archive.paths is not None:
                assert archive.paths[item]
            else:
                assert len(archive.window_bounds(int(item))) == 4


# -- LEVIR and Stanford Drone annotations ------------------------------------------------------


@SETTINGS
@given(content=mutated('1 10 20 110 90\n2 300 200 400 260\n\n3 0 0 800 600\n'))
def test_levir_reader(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, 'scene_001.txt', content)
        Image.new('RGB', (80, 60)).save(Path(folder) / 'scene_001.jpg')
        run_reader(lambda: read_levir(path), path)
        run_reader(lambda: read_levir(path, classes=['ship']), path)


SDD_TEMPLATE = (
    '0 10 10 30 40 0 0 0 0 "Pedestrian"\n0 12 10 32 40 1 0 0 1 "Pedestrian"\n'
    '1 50 20 70 44 0 1 0 0 "Biker"\n2 5 5 20 20 2 0 1 0 "Car"\n'
)


def _sdd_video(folder: Path) -> None:
    import cv2

    target = folder / 'videos' / 'gates' / 'video0' / 'video.mov'
    target.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*'mp4v'), 30, (64, 48))
    for level in (40, 120, 200):
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()


@FEW
@given(content=mutated(SDD_TEMPLATE), stride=st.sampled_from([1, 2, 30]), video=st.booleans())
def test_stanford_drone_reader(content: bytes, stride: int, video: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        annotations = Path(folder) / 'annotations' / 'gates' / 'video0'
        annotations.mkdir(parents=True)
        path = _write(str(annotations), 'annotations.txt', content)
        if video:
            _sdd_video(Path(folder))
        frames = Path(folder) / 'frames'
        run_reader(lambda: read_stanford_drone(path, frames=frames, stride=stride), path)
        run_reader(lambda: read_stanford_drone(path, frames=frames, stride=stride, errors=[]), path)


# -- Checkpoints -------------------------------------------------------------------------------

TENSORS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float16, np.int64, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
).map(torch.from_numpy)
CHECKPOINT_VALUES = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(max_size=4), TENSORS),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(['state_dict', 'model', 'module', 'hyper_parameters', 'visual.proj',
                             'logit_scale', 'model.visual.proj', 'epoch', 'model_name']),
            children, max_size=4,
        ),
    ),
    max_leaves=10,
)  # fmt: skip


@FEW
@given(value=CHECKPOINT_VALUES, data=st.data(), mutate=st.booleans())
def test_checkpoint_reader(value: Any, data: st.DataObject, mutate: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / 'model.ckpt'
        torch.save(value, path)
        if mutate:
            path.write_bytes(data.draw(mutated(path.read_bytes())))
        run_reader(lambda: read_state_dict(path), path, allowed=CheckpointError)


# -- Templates, class names, configs -----------------------------------------------------------


@SETTINGS
@given(content=mutated('an aerial photo of {}.\n# comment\n{} seen from above\n{{x}} {}\n'))
def test_template_and_class_name_files(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, 'templates.txt', content)
        templates = run_reader(lambda: read_templates(path), path)
        if isinstance(templates, list):
            assert all(len(template.format('harbour')) < 10_000 for template in templates)
        run_reader(lambda: read_class_names(path), path)


YAML_TEXT = st.lists(
    st.sampled_from(['a: &a [1, 2]', 'b: [*a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b]',
                     'd: [*c, *c, *c, *c, *c, *c, *c, *c]', 'e: &e {x: *c}', 'f: [*e, *e, *e]',
                     '- *a', 'g: !!python/object:os.system x', '[[[[[[', '%YAML 1.1', '---',
                     'h: &h [*h]', '  - 1']),
    max_size=8,
).map('\n'.join)  # fmt: skip


@SETTINGS
@given(text=st.one_of(YAML_TEXT, st.text(max_size=200)))
def test_config_checker(text: str) -> None:
    run_reader(lambda: check_config_text(text, 'config.yaml'), Path('config.yaml'))


def test_memory_cap_catches_an_allocation_over_it() -> None:
    with pytest.raises(MemoryError), bounded_memory(extra=64 << 20):
        np.ones(512 << 20, dtype=np.uint8)
    assert np.ones(512 << 20, dtype=np.uint8).sum() == 512 << 20  # restored afterwards
