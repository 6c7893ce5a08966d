"""Stanford Drone Dataset (Robicquet et al., 2016): per-video box tracks, frames from the videos.

The release (``stanford_campus_dataset.zip``) holds, for each of 8 scenes (``bookstore``,
``coupa``, ``deathCircle``, ``gates``, ``hyang``, ``little``, ``nexus``, ``quad``) and each of
its videos, ``annotations/<scene>/videoN/annotations.txt`` (with ``reference.jpg``) and the
video itself, ``videos/<scene>/videoN/video.mov``. Each annotation line has 10 space-separated
columns (the release README, copied in e.g. OpenTraj's ``datasets/SDD/README.md``)::

    track_id xmin ymin xmax ymax frame lost occluded generated "label"

``frame`` counts from 0; ``lost`` 1 marks a box outside the view (dropped here); ``label`` is
one of ``"Pedestrian"``, ``"Biker"``, ``"Skater"``, ``"Cart"``, ``"Car"``, ``"Bus"``. Lines are
ordered by track, not by frame.

Every ``stride``-th frame (0, stride, 2 stride, ...) with a box left is decoded from the video
with OpenCV and written as a JPEG (atomically) to ``frames/<scene>/videoN/<frame>.jpg``. Only
the boxes of sampled frames are kept while the annotation file is read, and the video is
decoded one frame at a time, so memory stays bounded whatever the video length.
"""

import re
from collections import defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path

import cv2
import numpy as np

from rs_vlm.atomic import atomic_write
from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import ImageNotFoundError, check_class, clip_boxes, parse_number

__all__ = ['DEFAULT_FRAME_STRIDE', 'STANFORD_DRONE_CLASSES', 'read_stanford_drone']

#: The six classes of the release, as its annotation files spell them.
STANFORD_DRONE_CLASSES = ('Pedestrian', 'Biker', 'Skater', 'Cart', 'Car', 'Bus')

#: Frames between two sampled frames: one frame per second of the 30 fps videos. The paper's
#: 17,351 images imply a similarly sparse sampling, but its stride is not stated.
DEFAULT_FRAME_STRIDE = 30

#: JPEG quality of the written frames.
_JPEG_QUALITY = 95

#: Longest annotation line read (a release line is about 40 bytes): a file without line
#: breaks is refused instead of being read whole.
_MAX_LINE_BYTES = 1 << 16

_LINE = re.compile(r'^\s*(\S+(?:\s+\S+){8})\s+"([^"]*)"(?:\s.*)?$')


def _video_folder(path: Path) -> tuple[str, str]:
    """``(scene, videoN)`` from ``annotations/<scene>/<videoN>/annotations.txt``."""
    return path.parent.parent.name, path.parent.name


def _sampled_boxes(
    path: Path, stride: int, classes: Collection[str] | None
) -> tuple[dict[int, list[tuple[list[float], str]]], int]:
    """Boxes of the sampled frames (lost ones left out) and the number of lost boxes dropped.

    Raises:
        AnnotationError: For an unreadable file or a malformed line (naming the line).
    """
    frames: dict[int, list[tuple[list[float], str]]] = defaultdict(list)
    lost = 0
    try:
        handle = open(path, 'rb')
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error.strerror or error}') from None
    with handle:
        number = 0
        while True:
            data = handle.readline(_MAX_LINE_BYTES + 1)
            if not data:
                break
            number += 1
            if len(data) > _MAX_LINE_BYTES:
                raise AnnotationError(
                    path, f'line longer than {_MAX_LINE_BYTES} bytes', line=number
                )
            try:
                raw = data.decode('utf-8-sig' if number == 1 else 'utf-8')
            except UnicodeDecodeError as error:
                raise AnnotationError(
                    path, f'not UTF-8 text (byte {error.start} of the line)', line=number
                ) from None
            if not raw.strip():
                continue
            match = _LINE.match(raw.rstrip('\r\n'))
            if match is None:
                raise AnnotationError(
                    path,
                    'expected 10 space-separated columns: track_id xmin ymin xmax ymax '
                    f'frame lost occluded generated "label", got {raw.strip()[:80]!r}',
                    line=number,
                )
            fields = match.group(1).split()
            values = [parse_number(v, path, line=number) for v in fields]
            frame, is_lost = values[5], values[6]
            if frame < 0 or frame != int(frame):
                raise AnnotationError(
                    path, f'frame must be an index >= 0, got {fields[5]!r}', line=number
                )
            if is_lost not in (0, 1):
                raise AnnotationError(path, f'lost must be 0 or 1, got {fields[6]!r}', line=number)
            label = check_class(match.group(2), classes, path, line=number)
            if int(frame) % stride:
                continue
            if is_lost:
                lost += 1
                continue
            frames[int(frame)].append((values[1:5], label))
    return frames, lost


def _write_jpeg(image: np.ndarray, target: Path, path: Path) -> None:
    ok, encoded = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise AnnotationError(path, f'cannot encode frame {target.stem} as JPEG')
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, mode='wb') as handle:
        handle.write(encoded.tobytes())


def read_stanford_drone(
    path: str | Path,
    *,
    frames: str | Path,
    videos: str | Path | None = None,
    stride: int = DEFAULT_FRAME_STRIDE,
    classes: Collection[str] | None = None,
    errors: list[AnnotationError] | None = None,
) -> Iterator[AnnotatedImage]:
    """Read one video's ``annotations.txt``; write its sampled frames; yield one record each.

    Args:
        path: ``annotations/<scene>/videoN/annotations.txt``.
        frames: Folder the sampled frames are written to (``<scene>/videoN/<frame>.jpg``).
        videos: The release's ``videos`` folder (default: ``videos`` beside ``annotations``).
        stride: Sample frames ``0, stride, 2 * stride, ...``.
        classes: Strict class list (release spellings, e.g. ``Biker``).
        errors: When given, annotated frames past the end of the video are reported here as
            one error (and left out) instead of raising.

    Yields:
        One record per sampled frame with at least one box left, in frame order; ``dropped``
        counts lost boxes (``'lost'``) and boxes clipped away.

    Raises:
        AnnotationError: A malformed line (with its line), a missing video
            (:class:`~.reader_utils.ImageNotFoundError`), a video OpenCV cannot decode, or
            annotated frames past the end of the video unless ``errors`` collects it.
        ValueError: For ``stride < 1``.
    """
    if stride < 1:
        raise ValueError(f'stride must be >= 1, got {stride}')
    path = Path(path)
    scene, video_name = _video_folder(path)
    root = Path(videos) if videos is not None else path.parent.parent.parent.parent / 'videos'
    video = root / scene / video_name / 'video.mov'
    boxes_by_frame, lost = _sampled_boxes(path, stride, classes)
    if not boxes_by_frame:
        return
    if not video.is_file():
        raise ImageNotFoundError(path, f'video {video} not found')
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise AnnotationError(path, f'cannot read image: OpenCV cannot open video {video}')
        wanted = sorted(boxes_by_frame)
        last = wanted[-1]
        index = 0
        # Drops not yet reported: added to the next record yielded (lost boxes once per video).
        carry: dict[str, int] = {'lost': lost} if lost else {}
        for target in wanted:
            # grab() skips frames without converting them to images.
            while index < target:
                if not capture.grab():
                    break
                index += 1
            ok, image = capture.read() if index == target else (False, None)
            if not ok or image is None:
                missing = sum(1 for frame in wanted if frame >= target)
                error = AnnotationError(
                    path,
                    f'video {video} ends before frame {target}: {missing} annotated sampled '
                    f'frames up to frame {last} have no image',
                )
                if errors is None:
                    raise error
                errors.append(error)
                return
            index += 1
            height, width = image.shape[:2]
            entries = boxes_by_frame.pop(target)
            kept, labels, _, dropped = clip_boxes(
                np.asarray([box for box, _ in entries], dtype=np.float64).reshape(-1, 4),
                [label for _, label in entries],
                width,
                height,
            )
            for reason, count in dropped.items():
                carry[reason] = carry.get(reason, 0) + count
            if not labels:
                continue
            name = Path(frames) / scene / video_name / f'{target:06d}.jpg'
            _write_jpeg(image, name, path)
            yield AnnotatedImage(
                path=str(name),
                width=width,
                height=height,
                boxes=kept,
                labels=labels,
                dropped=carry,
                source=str(path),
            )
            carry = {}
    finally:
        capture.release()
