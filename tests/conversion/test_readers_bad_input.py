"""Malformed annotations: only AnnotationError comes out, naming the file and line or key."""

import json

import numpy as np
import pytest
from PIL import Image

from rs_vlm.conversion import (
    read_coco,
    read_csv_boxes,
    read_dota,
    read_visdrone,
    read_voc,
    read_yolo,
)
from rs_vlm.errors import AnnotationError

SIZE = (100, 80)
QUAD = '10 10 20 10 20 20 10 20'


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    ('content', 'line', 'message'),
    [
        (f'imagesource:GoogleEarth\ngsd:0.1\n{QUAD} ship 0\n10 10 20 ship 0\n', 4, '9 or 10'),
        (f'{QUAD} ship 0\n10 10 2O 10 20 20 10 20 ship 0\n', 2, "'2O'"),
        (f'{QUAD} ship 0\n{QUAD} ship x\n', 2, 'difficult'),
        (f'{QUAD} ship 0\n10 10 nan 10 20 20 10 20 ship 0\n', 2, 'finite'),
        (f'{QUAD} ship 0\n{QUAD} submarine 0\n', 2, 'unknown class'),
    ],
)
def test_dota_malformed_lines(tmp_path, content, line, message):
    path = write(tmp_path, 'P1.txt', content)
    with pytest.raises(AnnotationError, match=message) as info:
        read_dota(path, size=SIZE, classes={'ship', 'harbor'})
    assert info.value.path == str(path) and info.value.line == line
    assert f'line {line}' in str(info.value)


def test_dota_not_utf8_names_the_line(tmp_path):
    path = write(tmp_path, 'P1.txt', f'{QUAD} ship 0\n'.encode() + b'\xff\xfe bad\n')
    with pytest.raises(AnnotationError, match='UTF-8') as info:
        read_dota(path, size=SIZE)
    assert info.value.line == 2


def test_dota_clips_and_counts_dropped_boxes(tmp_path):
    content = (
        f'{QUAD} ship 0\n'
        '90 70 120 70 120 90 90 90 ship 0\n'  # partly outside: clipped
        '200 200 210 200 210 210 200 210 ship 0\n'  # fully outside: dropped
        '5 5 5 5 5 5 5 5 harbor 0\n'  # a point: degenerate
        f'{QUAD} harbor 1\n'  # difficult
    )
    path = write(tmp_path, 'P1.txt', content)
    record = read_dota(path, size=SIZE, skip_difficult=True)
    assert record.labels == ['ship', 'ship']
    assert record.boxes.tolist() == [[10, 10, 20, 20], [90, 70, 100, 80]]
    assert record.dropped == {'outside image': 1, 'degenerate box': 1, 'difficult': 1}
    assert record.oriented.shape == (2, 4, 2)


def test_empty_text_files_mean_no_objects(tmp_path):
    path = write(tmp_path, 'P1.txt', 'imagesource:GoogleEarth\ngsd:0.1\n')
    assert read_dota(path, size=SIZE).labels == []
    assert read_yolo(write(tmp_path, 'a.txt', ''), class_names=['a'], size=SIZE).labels == []


def test_missing_and_unreadable_images(tmp_path):
    labels = tmp_path / 'labelTxt'
    labels.mkdir()
    images = tmp_path / 'images'
    images.mkdir()
    path = write(labels, 'P1.txt', f'{QUAD} ship 0\n')
    with pytest.raises(AnnotationError, match='not found'):
        read_dota(path)
    (images / 'P1.png').write_bytes(b'not a png')
    with pytest.raises(AnnotationError, match='cannot read image') as info:
        read_dota(path)
    assert info.value.path == str(images / 'P1.png') and str(path) in str(info.value)
    Image.new('RGB', (30, 40)).save(images / 'P1.png')
    record = read_dota(path)
    assert (record.width, record.height) == (30, 40)
    assert record.path == str(images / 'P1.png')


VOC = """<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height>
</size><object><name>ship</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin>
<xmax>{xmax}</xmax><ymax>30</ymax></bndbox></object></annotation>"""


def test_voc_errors_name_the_key_or_line(tmp_path):
    assert read_voc(
        write(tmp_path, 'a.xml', VOC.format(xmax=40)), check_image=False
    ).boxes.tolist() == [[1, 2, 40, 30]]
    with pytest.raises(AnnotationError, match='expected a number') as info:
        read_voc(write(tmp_path, 'b.xml', VOC.format(xmax='forty')), check_image=False)
    assert info.value.key == 'object[0]/bndbox/xmax'
    with pytest.raises(AnnotationError, match='missing <xmax>'):
        read_voc(write(tmp_path, 'c.xml', VOC.format(xmax='')), check_image=False)
    with pytest.raises(AnnotationError, match='malformed XML') as info:
        read_voc(write(tmp_path, 'd.xml', '<annotation>\n<object>\n</annotation>'))
    assert info.value.line == 3
    with pytest.raises(AnnotationError, match='empty file'):
        read_voc(write(tmp_path, 'e.xml', ''))
    with pytest.raises(AnnotationError, match='unknown class'):
        read_voc(
            write(tmp_path, 'f.xml', VOC.format(xmax=40)), classes={'plane'}, check_image=False
        )
    reversed_box = read_voc(write(tmp_path, 'g.xml', VOC.format(xmax=0)), check_image=False)
    assert reversed_box.labels == [] and reversed_box.dropped == {'degenerate box': 1}


def test_voc_roLabelImg_rotated_box(tmp_path):
    content = (
        '<annotation><size><width>100</width><height>100</height></size><object><name>ship'
        '</name><robndbox><cx>50</cx><cy>50</cy><w>20</w><h>10</h><angle>1.5707963</angle>'
        '</robndbox></object></annotation>'
    )
    record = read_voc(write(tmp_path, 'r.xml', content), check_image=False)
    assert record.boxes[0] == pytest.approx([45, 40, 55, 60], abs=1e-5)


def test_voc_overflowing_rotated_box_is_dropped(tmp_path):
    content = (
        '<annotation><size><width>100</width><height>100</height></size><object><name>ship'
        '</name><robndbox><cx>1.7e308</cx><cy>50</cy><w>1e308</w><h>1e308</h><angle>0.7</angle>'
        '</robndbox></object></annotation>'
    )
    record = read_voc(write(tmp_path, 'o.xml', content), check_image=False)
    assert record.labels == [] and record.dropped == {'outside image': 1}


def test_coco_errors_and_skips(tmp_path):
    document = {
        'images': [
            {'id': 1, 'file_name': 'a.png', 'width': 100, 'height': 80},
            {'id': 2, 'file_name': 'b.png', 'width': 100, 'height': 80},
            {'id': 3, 'file_name': 'c.png', 'width': 100, 'height': 80},
        ],
        'categories': [{'id': 5, 'name': 'plane'}],
        'annotations': [
            {'image_id': 1, 'category_id': 5, 'bbox': [10, 10, 5, 5]},
            {'image_id': 2, 'category_id': 5, 'bbox': [10, 'x', 5, 5]},
            {'image_id': 1, 'category_id': 5, 'bbox': [95, 75, 10, 10]},
        ],
    }
    path = write(tmp_path, 'coco.json', json.dumps(document))
    with pytest.raises(AnnotationError, match='expected a number') as info:
        list(read_coco(path, check_images=False))
    assert info.value.key == 'annotations[1].bbox'
    errors = []
    records = list(read_coco(path, errors=errors, check_images=False))
    assert [r.path for r in records] == [str(tmp_path / 'a.png'), str(tmp_path / 'c.png')]
    assert records[0].boxes.tolist() == [[10, 10, 15, 15], [95, 75, 100, 80]]
    assert records[1].labels == [] and len(errors) == 1
    with pytest.raises(AnnotationError, match='malformed JSON') as info:
        list(read_coco(write(tmp_path, 'bad.json', '{\n"images": [\n}')))
    assert info.value.line == 3
    nan_id = '{"images": [{"id": NaN, "file_name": "a", "width": 1, "height": 1}], '
    nan_id += '"annotations": [], "categories": []}'
    with pytest.raises(AnnotationError, match='integer') as info:
        list(read_coco(write(tmp_path, 'nan.json', nan_id)))
    assert info.value.key == 'images[0].id'
    with pytest.raises(AnnotationError, match='expected a list') as info:
        list(read_coco(write(tmp_path, 'x.json', '{"images": {}}')))
    assert info.value.key == 'images'


def test_visdrone_ignored_regions_and_others(tmp_path):
    content = (
        '10,10,5,5,1,4,0,0\n'  # car
        '20,20,5,5,0,0,0,0\n'  # ignored region
        '30,30,5,5,1,11,0,0,\n'  # others (trailing comma)
        '40,40,5,5,0,4,0,0\n'  # score 0: ignored
        '50,50,5,5,1,1,0,0\n'  # pedestrian
    )
    record = read_visdrone(write(tmp_path, 'v.txt', content), size=SIZE)
    assert record.labels == ['car', 'pedestrian']
    assert record.dropped == {'ignored region': 2, 'others': 1}
    with pytest.raises(AnnotationError, match='category') as info:
        read_visdrone(write(tmp_path, 'w.txt', '10,10,5,5,1,4,0,0\n1,1,1,1,1,12,0,0\n'), size=SIZE)
    assert info.value.line == 2
    with pytest.raises(AnnotationError, match='8 comma-separated') as info:
        read_visdrone(write(tmp_path, 'x.txt', '10,10,5\n'), size=SIZE)
    assert info.value.line == 1


def test_yolo_boxes_obb_and_errors(tmp_path):
    path = write(tmp_path, 'y.txt', '0 0.5 0.5 0.2 0.5\n1 0.1 0.1 0.3 0.1 0.3 0.2 0.1 0.2\n')
    record = read_yolo(path, class_names=['car', 'ship'], size=SIZE)
    assert record.labels == ['car', 'ship']
    assert record.boxes == pytest.approx(np.array([[40, 20, 60, 60], [10, 8, 30, 16]]))
    with pytest.raises(AnnotationError, match='class index') as info:
        read_yolo(
            write(tmp_path, 'z.txt', '0 .5 .5 .1 .1\n2 .5 .5 .1 .1\n'),
            class_names=['a', 'b'],
            size=SIZE,
        )
    assert info.value.line == 2
    with pytest.raises(AnnotationError, match='class index'):
        read_yolo(write(tmp_path, 'v.txt', '\u00b2 .5 .5 .1 .1\n'), class_names=['a'], size=SIZE)
    with pytest.raises(AnnotationError, match='5 fields'):
        read_yolo(write(tmp_path, 'w.txt', '0 .5 .5\n'), class_names=['a'], size=SIZE)


def test_csv_errors_and_skips(tmp_path):
    content = (
        'image_path,xmin,ymin,xmax,ymax,label\n'
        'a.png,1,1,10,10,Tree\n'
        'b.png,1,one,10,10,Tree\n'
        'b.png,2,2,10,10,Tree\n'
        'c.png,1,1,10\n'
    )
    path = write(tmp_path, 'boxes.csv', content)
    sizes = {'a.png': SIZE, 'b.png': SIZE, 'c.png': SIZE}
    with pytest.raises(AnnotationError, match="'one'") as info:
        list(read_csv_boxes(path, sizes=sizes))
    assert info.value.line == 3
    errors = []
    records = list(read_csv_boxes(path, sizes=sizes, errors=errors))
    assert [r.path for r in records] == [str(tmp_path / 'a.png')]
    assert [e.line for e in errors] == [3, 5]
    with pytest.raises(AnnotationError, match='missing columns'):
        list(read_csv_boxes(write(tmp_path, 'h.csv', 'path,x\n')))
    with pytest.raises(AnnotationError, match='empty file'):
        list(read_csv_boxes(write(tmp_path, 'e.csv', '\n')))


# Random bytes and structure into every reader: tests/reliability/test_hostile_inputs.py.


def test_xml_entity_bomb_is_refused(tmp_path):
    entities = '<!ENTITY a0 "xxxxxxxxxx">' + ''.join(
        '<!ENTITY a{} "{}">'.format(i, f'&a{i - 1};' * 10) for i in range(1, 10)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE annotation [{entities}]><annotation>&a9;</annotation>'
    with pytest.raises(AnnotationError, match='malformed XML'):
        read_voc(write(tmp_path, 'bomb.xml', bomb))


def test_xml_external_entity_is_not_fetched(tmp_path):
    secret = write(tmp_path, 'secret.txt', 'ship')
    content = (
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file://{secret}">]>'
        '<annotation><size><width>10</width><height>10</height></size><object><name>&e;</name>'
        '<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>'
        '</annotation>'
    )
    with pytest.raises(AnnotationError, match='malformed XML'):
        read_voc(write(tmp_path, 'xxe.xml', content))
