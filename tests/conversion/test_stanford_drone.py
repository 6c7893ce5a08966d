"""Stanford Drone in its release layout: per-video tracks, frames decoded from ``video.mov``.

The tree and the annotation columns are the release's (its README, as copied in OpenTraj's
``datasets/SDD/README.md``): ``annotations/<scene>/videoN/annotations.txt`` with
``track_id xmin ymin xmax ymax frame lost occluded generated "label"`` and
``videos/<scene>/videoN/video.mov``. The test writes the video with OpenCV's ``mp4v`` writer
(what ffmpeg puts in a QuickTime container) and checks it reads back before anything else.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rs_vlm.conversion import convert_annotations, prepare_corpora, read_stanford_drone
from rs_vlm.conversion.cli import main as convert_main
from rs_vlm.conversion.reader_utils import ImageNotFoundError
from rs_vlm.errors import AnnotationError, OutputPathError

WIDTH, HEIGHT, FRAMES = 96, 64, 7


def grey(frame: int) -> int:
    """The grey level of frame ``frame`` of the test video."""
    return 30 * frame


def write_video(path: Path, frames: int = FRAMES) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 30, (WIDTH, HEIGHT))
    assert writer.isOpened(), 'OpenCV cannot write mp4v video here'
    for frame in range(frames):
        writer.write(np.full((HEIGHT, WIDTH, 3), grey(frame), np.uint8))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    levels = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        levels.append(float(image.mean()))
    capture.release()
    assert len(levels) == frames
    assert np.allclose(levels, [grey(f) for f in range(frames)], atol=6)


def line(track: int, box: tuple[int, int, int, int], frame: int, lost: int, label: str) -> str:
    xmin, ymin, xmax, ymax = box
    return f'{track} {xmin} {ymin} {xmax} {ymax} {frame} {lost} 0 {int(frame > 0)} "{label}"'


def annotation_lines() -> list[str]:
    """Tracks in file order (by track, as released)."""
    rows = [line(0, (10, 10, 30, 40), f, int(f == 3), 'Pedestrian') for f in range(FRAMES)]
    rows += [line(1, (50, 20, 70, 50), f, 0, 'Biker') for f in range(3, FRAMES - 1)]
    rows.append(line(1, (200, 200, 220, 220), FRAMES - 1, 0, 'Biker'))  # outside the frame
    rows.append(line(2, (60, 5, 90, 30), 0, 1, 'Car'))  # lost
    return rows


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / 'data' / 'StanfordDrone'
    folder = root / 'annotations' / 'little' / 'video0'
    folder.mkdir(parents=True)
    (folder / 'annotations.txt').write_text('\n'.join(annotation_lines()) + '\n')
    Image.new('RGB', (WIDTH, HEIGHT)).save(folder / 'reference.jpg')
    write_video(root / 'videos' / 'little' / 'video0' / 'video.mov')
    return root


def test_reader_samples_frames_and_drops_lost_boxes(release: Path, tmp_path: Path) -> None:
    frames = tmp_path / 'frames'
    annotations = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    records = list(read_stanford_drone(annotations, frames=frames, stride=3))
    folder = frames / 'little' / 'video0'
    assert [r.path for r in records] == [str(folder / f'{f:06d}.jpg') for f in (0, 3, 6)]
    assert all((r.width, r.height) == (WIDTH, HEIGHT) for r in records)
    # frame 0: pedestrian (the car is lost); 3: biker (the pedestrian is lost); 6: pedestrian
    # (the biker's box lies outside the frame)
    assert [r.labels for r in records] == [['Pedestrian'], ['Biker'], ['Pedestrian']]
    assert records[1].boxes.tolist() == [[50, 20, 70, 50]]
    assert [r.dropped for r in records] == [{'lost': 2}, {}, {'outside image': 1}]
    # the written JPEGs are the sampled frames of the video, decoded in order
    for record, frame in zip(records, (0, 3, 6)):
        assert abs(np.asarray(Image.open(record.path)).mean() - grey(frame)) < 6
    assert sorted(p.name for p in folder.iterdir()) == ['000000.jpg', '000003.jpg', '000006.jpg']


def test_default_stride_is_one_frame_a_second(release: Path, tmp_path: Path) -> None:
    annotations = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    records = list(read_stanford_drone(annotations, frames=tmp_path / 'f'))
    assert [Path(r.path).name for r in records] == ['000000.jpg']  # frames 0, 30, ... of 7


def test_prepare_round_trip_writes_frames_into_the_output(release: Path, tmp_path: Path) -> None:
    data, output = release.parent, tmp_path / 'corpora'
    result = prepare_corpora(
        data, output, sources=['stanford_drone'], corpus_format='jsonl', progress=False
    )
    [source] = result.sources
    assert (source.status, source.images, source.captions) == ('converted', 1, 5)
    [row] = [json.loads(x) for x in (output / 'stanford_drone.jsonl').read_text().splitlines()]
    frame = output / 'frames' / 'stanford_drone' / 'little' / 'video0' / '000000.jpg'
    assert row['filepath'] == str(frame.absolute())
    assert any('pedestrian' in caption.lower() for caption in row['captions'])
    assert abs(np.asarray(Image.open(frame)).mean() - grey(0)) < 6
    summary = json.loads((output / 'stanford_drone.jsonl.summary.json').read_text())
    assert summary['dropped_boxes'] == {'lost': 1}  # the car of frame 0
    again = prepare_corpora(data, output, sources=['stanford_drone'], progress=False)
    assert again.sources[0].status == 'converted'  # another corpus format: not reused
    again = prepare_corpora(data, output, sources=['stanford_drone'], progress=False)
    assert again.sources[0].status == 'reused'
    # frames deleted: the corpus would point at nothing, so the source is converted again
    for path in sorted((output / 'frames').rglob('*'), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (output / 'frames').rmdir()
    again = prepare_corpora(data, output, sources=['stanford_drone'], progress=False)
    assert again.sources[0].status == 'converted'
    assert frame.is_file()


def test_cli_converts_with_a_frame_stride(release: Path, tmp_path: Path) -> None:
    output = tmp_path / 'out' / 'sdd.csv'
    output.parent.mkdir()
    arguments = ['--format', 'stanford_drone', '--annotations', str(release / 'annotations')]
    videos = ['--images', str(release / 'videos'), '--output', str(output)]
    code = convert_main([*arguments, *videos, '--frame-stride', '3', '--no-progress'])
    assert code == 0
    frames = tmp_path / 'out' / 'sdd_frames' / 'little' / 'video0'
    assert sorted(p.name for p in frames.iterdir()) == ['000000.jpg', '000003.jpg', '000006.jpg']
    assert output.read_text().count('000003.jpg') == 5


def test_frames_folder_inside_an_input_is_refused(release: Path) -> None:
    with pytest.raises(OutputPathError, match='frames'):
        convert_annotations(
            'stanford_drone',
            release / 'annotations',
            release.parent / 'sdd.csv',
            frames=release / 'videos' / 'frames',
            images=release / 'videos',
            progress=False,
        )


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('0 1 2 3 4 0 0 0 0 Pedestrian', '10 space-separated columns'),
        ('0 1 2 3 0 0 0 0 "Pedestrian"', '10 space-separated columns'),
        ('0 1 2 3 4 -3 0 0 0 "Pedestrian"', 'frame must be an index'),
        ('0 1 2 3 4 1.5 0 0 0 "Pedestrian"', 'frame must be an index'),
        ('0 1 2 3 4 0 2 0 0 "Pedestrian"', 'lost must be 0 or 1'),
        ('0 1 y 3 4 0 0 0 0 "Pedestrian"', 'expected a number'),
        ('0 1 2 3 4 0 0 0 0 "--"', 'no letters or digits'),
    ],
)
def test_bad_lines_name_the_file_and_line(
    release: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    path.write_text(annotation_lines()[0] + '\n' + text + '\n')
    with pytest.raises(AnnotationError, match=message) as info:
        list(read_stanford_drone(path, frames=tmp_path / 'f', stride=3))
    assert (info.value.path, info.value.line) == (str(path), 2)
    assert not (tmp_path / 'f').exists()  # nothing written before the file is checked


def test_strict_classes_refuse_others(release: Path, tmp_path: Path) -> None:
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    with pytest.raises(AnnotationError, match="unknown class 'Biker'"):
        list(read_stanford_drone(path, frames=tmp_path / 'f', classes={'Pedestrian', 'Car'}))


def test_missing_and_undecodable_videos_are_counted_skips(release: Path, tmp_path: Path) -> None:
    video = release / 'videos' / 'little' / 'video0' / 'video.mov'
    video.unlink()
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    with pytest.raises(ImageNotFoundError, match=r'video\.mov not found'):
        list(read_stanford_drone(path, frames=tmp_path / 'f'))
    summary = convert_annotations(
        'stanford_drone', release / 'annotations', tmp_path / 'a.csv', on_error='skip'
    )
    assert (summary.images, summary.skipped) == (0, {'image not found': 1})
    video.write_bytes(b'\x00\x00\x00\x14ftypqt  not a real movie' * 8)
    summary = convert_annotations(
        'stanford_drone', release / 'annotations', tmp_path / 'b.csv', on_error='skip'
    )
    assert (summary.images, summary.skipped) == (0, {'unreadable image': 1})


def test_annotations_past_the_end_of_the_video(release: Path, tmp_path: Path) -> None:
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    extra = [line(5, (5, 5, 20, 20), f, 0, 'Skater') for f in (9, 12)]
    path.write_text('\n'.join(annotation_lines() + extra) + '\n')
    with pytest.raises(AnnotationError, match='ends before frame 9: 2 annotated'):
        list(read_stanford_drone(path, frames=tmp_path / 'f', stride=3))
    errors: list[AnnotationError] = []
    records = list(read_stanford_drone(path, frames=tmp_path / 'g', stride=3, errors=errors))
    assert [Path(r.path).name for r in records] == ['000000.jpg', '000003.jpg', '000006.jpg']
    [error] = errors
    assert error.path == str(path)


def test_blank_lines_crlf_and_extra_columns_are_read(release: Path, tmp_path: Path) -> None:
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    rows = [line(0, (10, 10, 30, 40), 0, 0, 'Golf Cart') + ' "extra attribute"', '', '  ']
    path.write_bytes('\r\n'.join(rows).encode())
    [record] = read_stanford_drone(path, frames=tmp_path / 'f', stride=3)
    assert record.labels == ['Golf Cart']


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=200)
    | st.from_regex(r'([-0-9. e"a-z]{0,30}\n){0,4}', fullmatch=True).map(str.encode)
)
def test_hostile_bytes_raise_only_annotation_errors(
    release: Path, tmp_path: Path, data: bytes
) -> None:
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    path.write_bytes(data)
    try:
        list(read_stanford_drone(path, frames=tmp_path / 'hostile', stride=1))
    except AnnotationError as error:
        assert str(path) in str(error)


def test_worker_processes_write_the_same_frames_in_order(tmp_path: Path) -> None:
    # more videos than one read chunk (32 files), so two processes decode them
    root = tmp_path / 'StanfordDrone'
    for index in range(33):
        folder = root / 'annotations' / 'quad' / f'video{index}'
        folder.mkdir(parents=True)
        (folder / 'annotations.txt').write_text('\n'.join(annotation_lines()) + '\n')
        write_video(root / 'videos' / 'quad' / f'video{index}' / 'video.mov')
    corpora = {}
    for workers in (1, 2):
        frames = tmp_path / f'frames{workers}'
        summary = convert_annotations(
            'stanford_drone',
            root / 'annotations',
            tmp_path / f'sdd{workers}.jsonl',
            frames=frames,
            frame_stride=3,
            workers=workers,
            progress=False,
        )
        assert (summary.images, summary.dropped_boxes) == (99, {'lost': 66, 'outside image': 33})
        rows = (tmp_path / f'sdd{workers}.jsonl').read_text().splitlines()
        corpora[workers] = [
            Path(json.loads(row)['filepath']).relative_to(frames).as_posix() for row in rows
        ]
    assert corpora[1] == corpora[2]
    assert corpora[1][:4] == [
        'quad/video0/000000.jpg',
        'quad/video0/000003.jpg',
        'quad/video0/000006.jpg',
        'quad/video1/000000.jpg',
    ]


def test_undecodable_and_endless_lines_name_their_line(release: Path, tmp_path: Path) -> None:
    path = release / 'annotations' / 'little' / 'video0' / 'annotations.txt'
    good = '\n'.join(annotation_lines()[:2]).encode() + b'\n'
    path.write_bytes(good + b'0 1 2 3 4 0 0 0 0 "Pedes\xfftrian"\n')
    with pytest.raises(AnnotationError, match='not UTF-8') as info:
        list(read_stanford_drone(path, frames=tmp_path / 'f'))
    assert info.value.line == 3
    path.write_bytes(good + b'7' * 200_000)
    with pytest.raises(AnnotationError, match='line longer than') as info:
        list(read_stanford_drone(path, frames=tmp_path / 'f'))
    assert info.value.line == 3
    path.write_bytes(b'\xef\xbb\xbf' + good)  # a BOM before the first line is read
    assert len(list(read_stanford_drone(path, frames=tmp_path / 'f'))) == 1
