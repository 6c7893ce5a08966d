"""`convert_annotations` / `iter_annotations`: the conversion library on files the tests make."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from rs_vlm.conversion import (
    boxes_to_captions_batch,
    convert_annotations,
    iter_annotations,
    phash,
    read_coco,
    read_voc,
)
from rs_vlm.conversion.reader_utils import ImageNotFoundError
from rs_vlm.errors import AnnotationError, OutputPathError
from rs_vlm.io.decoding import load_image

QUAD = '10 10 20 10 20 20 10 20'


def voc_xml(filename: str, width: int = 100, height: int = 80, name: str = 'ship') -> str:
    return (
        f'<annotation><filename>{filename}</filename><size><width>{width}</width>'
        f'<height>{height}</height></size><object><name>{name}</name><bndbox><xmin>1</xmin>'
        '<ymin>2</ymin><xmax>40</xmax><ymax>30</ymax></bndbox></object></annotation>'
    )


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def voc_tree(tmp_path: Path) -> Path:
    (tmp_path / 'Annotations').mkdir()
    (tmp_path / 'JPEGImages').mkdir()
    Image.new('RGB', (100, 80)).save(tmp_path / 'JPEGImages' / 'a.jpg')
    (tmp_path / 'Annotations' / 'a.xml').write_text(voc_xml('a.jpg'))
    return tmp_path


@pytest.mark.parametrize('name', ['/etc/passwd', '../../etc/passwd', 'x/../../a.jpg', 'C:/a.jpg'])
def test_voc_names_outside_the_image_folder_are_refused(voc_tree: Path, name: str) -> None:
    # The old reader joined any <filename> to the folder and wrote a row for /etc/passwd.
    path = voc_tree / 'Annotations' / 'evil.xml'
    path.write_text(voc_xml(name))
    with pytest.raises(AnnotationError, match='relative path inside the image folder') as info:
        read_voc(path)
    assert info.value.key == 'filename'
    output = voc_tree / 'out.csv'
    summary = convert_annotations(
        'voc', voc_tree / 'Annotations', output, on_error='skip', progress=False
    )
    assert summary.images == 1 and summary.skipped == {'malformed annotation': 1}
    assert {Path(r['filepath']).name for r in rows(output)} == {'a.jpg'}


def test_voc_missing_image_is_not_found_not_unreadable(voc_tree: Path) -> None:
    # The old reader trusted <size> and wrote rows for images that do not exist (exit 0).
    (voc_tree / 'Annotations' / 'b.xml').write_text(voc_xml('b.jpg'))
    (voc_tree / 'Annotations' / 'c.xml').write_text(voc_xml('c.jpg'))
    (voc_tree / 'JPEGImages' / 'c.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ImageNotFoundError, match=r"'b\.jpg' not found"):
        read_voc(voc_tree / 'Annotations' / 'b.xml')
    output = voc_tree / 'out.csv'
    with pytest.raises(ImageNotFoundError):
        convert_annotations('voc', voc_tree / 'Annotations', output, progress=False)
    assert not output.exists()
    summary = convert_annotations(
        'voc', voc_tree / 'Annotations', output, on_error='skip', progress=False
    )
    assert summary.images == 1
    assert summary.skipped == {'image not found': 1, 'unreadable image': 1}


def test_voc_declared_size_must_match_the_image(voc_tree: Path) -> None:
    path = voc_tree / 'Annotations' / 'a.xml'
    path.write_text(voc_xml('a.jpg', width=800, height=800))
    with pytest.raises(AnnotationError, match='declares the image as 800x800 but') as info:
        read_voc(path)
    assert info.value.key == 'size' and '100x80' in str(info.value)


def coco_document(categories: list[dict[str, object]], file_name: str = 'a.png') -> dict:
    return {
        'images': [{'id': 1, 'file_name': file_name, 'width': 100, 'height': 80}],
        'categories': categories,
        'annotations': [{'image_id': 1, 'category_id': 5, 'bbox': [10, 10, 5, 5]}],
    }


def test_coco_duplicate_category_id_is_an_error(tmp_path: Path) -> None:
    # The old reader let the second entry rename every object of the first.
    Image.new('RGB', (100, 80)).save(tmp_path / 'a.png')
    path = tmp_path / 'coco.json'
    categories = [{'id': 5, 'name': 'plane'}, {'id': 5, 'name': 'ship'}]
    path.write_text(json.dumps(coco_document(categories)))
    with pytest.raises(AnnotationError, match=r"duplicate category id 5 \(already 'plane'") as info:
        list(read_coco(path))
    assert info.value.key == 'categories[1].id'


@pytest.mark.parametrize('name', ['', '...', ' - ', '__'])
def test_letterless_class_names_are_errors(tmp_path: Path, name: str) -> None:
    # "Lots of s" came from a class named "..." or "_".
    Image.new('RGB', (100, 80)).save(tmp_path / 'a.png')
    path = tmp_path / 'coco.json'
    path.write_text(json.dumps(coco_document([{'id': 5, 'name': name}])))
    with pytest.raises(AnnotationError, match='no letters or digits') as info:
        list(read_coco(path))
    assert info.value.key == 'categories[0].name'
    (tmp_path / 'labelTxt').mkdir()
    (tmp_path / 'images').mkdir()
    Image.new('RGB', (100, 80)).save(tmp_path / 'images' / 'P1.png')
    (tmp_path / 'labelTxt' / 'P1.txt').write_text(f'{QUAD} {name or "..."} 0\n')
    with pytest.raises(AnnotationError, match='no letters or digits'):
        list(iter_annotations('dota', tmp_path / 'labelTxt'))


def test_coco_entries_outside_the_folder_or_missing(tmp_path: Path) -> None:
    Image.new('RGB', (100, 80)).save(tmp_path / 'a.png')
    document = coco_document([{'id': 5, 'name': 'plane'}])
    document['images'] += [
        {'id': 2, 'file_name': '/etc/passwd', 'width': 100, 'height': 80},
        {'id': 3, 'file_name': 'gone.png', 'width': 100, 'height': 80},
        {'id': 4, 'file_name': 'a.png', 'width': 10, 'height': 10},
    ]
    path = tmp_path / 'coco.json'
    path.write_text(json.dumps(document))
    output = tmp_path / 'out.csv'
    summary = convert_annotations(
        'coco', path, output, on_error='skip', keep_empty=True, progress=False
    )
    assert summary.images == 1
    assert summary.skipped == {'malformed annotation': 2, 'image not found': 1}
    assert [Path(r['filepath']) for r in rows(output)] == [tmp_path / 'a.png'] * 5


def test_unused_class_map_key_names_it_and_the_classes_seen(tmp_path: Path) -> None:
    (tmp_path / 'labelTxt').mkdir()
    (tmp_path / 'images').mkdir()
    Image.new('RGB', (100, 80)).save(tmp_path / 'images' / 'P1.png')
    (tmp_path / 'labelTxt' / 'P1.txt').write_text(f'{QUAD} small-vehicle 0\n{QUAD} ship 0\n')
    output = tmp_path / 'out.csv'
    with pytest.raises(AnnotationError, match=r"keys \['smal-vehicle'\] match no class") as info:
        convert_annotations(
            'dota', tmp_path / 'labelTxt', output, class_map={'smal-vehicle': 'car'}, progress=False
        )
    assert "['ship', 'small vehicle']" in str(info.value)
    assert not output.exists()
    convert_annotations(
        'dota', tmp_path / 'labelTxt', output, class_map={'Small_Vehicle': 'car'}, progress=False
    )
    assert 'car' in ' '.join(r['title'] for r in rows(output))


def test_multiband_geotiff_images_are_read_like_the_datasets(tmp_path: Path) -> None:
    # Pillow cannot open a 13-band uint16 Sentinel-2 GeoTIFF; the old converter reported it
    # unreadable although training and predict read it.
    (tmp_path / 'labelTxt').mkdir()
    (tmp_path / 'images').mkdir()
    data = np.random.default_rng(0).integers(0, 4000, (13, 60, 50), dtype=np.uint16)
    profile = {'driver': 'GTiff', 'width': 50, 'height': 60, 'count': 13, 'dtype': 'uint16'}
    with rasterio.open(tmp_path / 'images' / 'S2.tif', 'w', **profile) as dataset:
        dataset.write(data)
    with pytest.raises(OSError):
        Image.open(tmp_path / 'images' / 'S2.tif').load()
    (tmp_path / 'labelTxt' / 'S2.txt').write_text(f'{QUAD} ship 0\n')
    [record] = list(iter_annotations('dota', tmp_path / 'labelTxt'))
    assert (record.width, record.height) == (50, 60)
    # pHash (dedup) decodes it as the datasets do: B04, B03, B02 stretched to 0..255.
    rgb = load_image(tmp_path / 'images' / 'S2.tif').permute(1, 2, 0).round().byte().numpy()
    assert phash(tmp_path / 'images' / 'S2.tif') == phash(Image.fromarray(rgb))


def test_five_captions_are_distinct_where_templates_allow() -> None:
    # One object of one class: the old rules could repeat a counting caption up to 3 times.
    count = 400
    boxes = [np.array([[10.0, 10.0, 20.0, 20.0]])] * count
    labels = [['ship']] * count
    captions = boxes_to_captions_batch(
        boxes, labels, [100] * count, [100] * count, keys=[str(i) for i in range(count)]
    )
    assert all(len(set(five)) == 5 for five in captions)
    empty = boxes_to_captions_batch([np.zeros((0, 4))], [[]], [10], [10])[0]
    assert len(set(empty)) == 5


def test_workers_write_the_same_corpus(tmp_path: Path) -> None:
    (tmp_path / 'labelTxt').mkdir()
    (tmp_path / 'images').mkdir()
    for i in range(70):  # more than two reading chunks
        Image.new('RGB', (100, 80)).save(tmp_path / 'images' / f'P{i:03d}.png')
        (tmp_path / 'labelTxt' / f'P{i:03d}.txt').write_text(f'{QUAD} ship 0\n' * (i % 4 + 1))
    (tmp_path / 'labelTxt' / 'P999.txt').write_text(f'{QUAD} ship 0\n')  # no image
    one, two = tmp_path / 'one.csv', tmp_path / 'two.csv'
    a = convert_annotations('dota', tmp_path / 'labelTxt', one, on_error='skip', progress=False)
    b = convert_annotations(
        'dota', tmp_path / 'labelTxt', two, on_error='skip', progress=False, workers=2
    )
    assert one.read_bytes() == two.read_bytes()
    assert a.to_dict() == b.to_dict() and a.skipped == {'image not found': 1}


def test_output_equal_to_input_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / 'boxes.csv'
    path.write_text('image_path,xmin,ymin,xmax,ymax,label\n')
    with pytest.raises(OutputPathError, match='output is the same file as the input annotations'):
        convert_annotations('csv', path, path, progress=False)
    assert path.read_text() == 'image_path,xmin,ymin,xmax,ymax,label\n'


@pytest.mark.parametrize('name', ['a.xml', 'sub/corpus.xml'])
def test_output_inside_the_annotation_folder_with_its_suffix_is_refused(
    voc_tree: Path, name: str
) -> None:
    original = (voc_tree / 'Annotations' / 'a.xml').read_text()
    with pytest.raises(OutputPathError, match='inside the annotations folder'):
        convert_annotations(
            'voc',
            voc_tree / 'Annotations',
            voc_tree / 'Annotations' / name,
            images=voc_tree / 'JPEGImages',
            progress=False,
        )
    assert (voc_tree / 'Annotations' / 'a.xml').read_text() == original
    assert not (voc_tree / 'Annotations' / 'sub').exists()


def test_output_inside_the_annotation_folder_with_another_suffix_is_written(
    voc_tree: Path,
) -> None:
    output = voc_tree / 'Annotations' / 'corpus.csv'
    convert_annotations(
        'voc', voc_tree / 'Annotations', output, images=voc_tree / 'JPEGImages', progress=False
    )
    assert len(rows(output)) == 5


@pytest.mark.parametrize(
    ('name', 'jsonl', 'message'),
    [
        ('corpus.txt', None, "unknown corpus suffix '.txt'"),
        ('corpus.csv', True, 'JSON lines need a .jsonl name'),
        ('corpus.jsonl', False, 'a .jsonl name needs JSON lines'),
    ],
)
def test_corpus_suffix_must_match_its_format(
    voc_tree: Path, name: str, jsonl: bool | None, message: str
) -> None:
    output = voc_tree / name
    with pytest.raises(OutputPathError, match=message):
        convert_annotations(
            'voc',
            voc_tree / 'Annotations',
            output,
            images=voc_tree / 'JPEGImages',
            jsonl=jsonl,
            progress=False,
        )
    assert not output.exists()
