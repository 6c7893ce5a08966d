"""The paper's 17 training sources: where each lies under a data root and how it converts.

RemoteCLIP trains on RET-3 (human captions), DET-10 (boxes -> Box-to-Caption) and SEG-4 (masks
-> Mask-to-Box -> Box-to-Caption). Each :class:`Source` lists the release layouts it is found in
(folder and file names as the datasets ship them), the reader and options of its conversion,
and its image count in the paper's Table I. ``docs/data.md`` shows the same layouts.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .stanford_drone import DEFAULT_FRAME_STRIDE

__all__ = ['SOURCES', 'Source', 'SourcePart']


@dataclass(frozen=True)
class SourcePart:
    """One annotation file or folder of a source, with its image folder(s).

    Attributes:
        annotations: Path below the data root (folder of annotation files, one file, or for
            ``captions`` sources the benchmark folder).
        images: Image folder(s) below the data root (None: the reader's own layout).
    """

    annotations: str
    images: str | tuple[str, ...] | None = None

    def image_folders(self, root: Path) -> tuple[Path, ...] | None:
        """The image folders below ``root`` (None when the reader finds them itself)."""
        if self.images is None:
            return None
        names = (self.images,) if isinstance(self.images, str) else self.images
        return tuple(root / name for name in names)


@dataclass(frozen=True)
class Source:
    """One training source of the mixture.

    Attributes:
        name: File-safe name of the corpus (``dota``).
        title: Name as the paper prints it.
        group: ``RET-3``, ``DET-10`` or ``SEG-4``.
        format: ``'captions'`` (RET-3: the train split's own captions) or a converter format.
        layouts: Alternative release layouts; the first whose first part exists is used, and
            every part of it that exists is converted (e.g. train and val folders).
        options: Keyword arguments of :func:`~.convert.convert_annotations`.
        paper_images: Images in the paper's Table I.
        note: What a user should know (shown when the source is missing).
    """

    name: str
    title: str
    group: str
    format: str
    layouts: tuple[tuple[SourcePart, ...], ...]
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    paper_images: int | None = None
    note: str = ''


def _one(*parts: SourcePart) -> tuple[tuple[SourcePart, ...], ...]:
    return (tuple(parts),)


# Potsdam and Vaihingen: Table I's 4 classes (the presets), written as places (Fig. 2 wording).
_VAIHINGEN = MappingProxyType({'mask_format': 'vaihingen', 'region_captions': True})

#: The 17 sources, in the paper's Table I groups.
SOURCES: tuple[Source, ...] = (
    Source('rsicd', 'RSICD', 'RET-3', 'captions', _one(SourcePart('RSICD')), paper_images=8483),
    Source('rsitmd', 'RSITMD', 'RET-3', 'captions', _one(SourcePart('RSITMD')), paper_images=3603),
    Source(
        'ucm_captions',
        'UCM-Captions',
        'RET-3',
        'captions',
        _one(SourcePart('UCM-Captions')),
        paper_images=1676,
    ),
    Source(
        'dota',
        'DOTA',
        'DET-10',
        'dota',
        (
            (
                SourcePart('DOTA/train/labelTxt', 'DOTA/train/images'),
                SourcePart('DOTA/val/labelTxt', 'DOTA/val/images'),
            ),
            # DOTA-v1.0's label archive unpacks to labelTxt-v1.0/labelTxt
            (
                SourcePart('DOTA/train/labelTxt-v1.0/labelTxt', 'DOTA/train/images'),
                SourcePart('DOTA/val/labelTxt-v1.0/labelTxt', 'DOTA/val/images'),
            ),
        ),
        paper_images=1409,
    ),
    Source(
        'dior',
        'DIOR',
        'DET-10',
        'voc',
        (
            (
                SourcePart(
                    'DIOR/Annotations/Horizontal Bounding Boxes',
                    ('DIOR/JPEGImages-trainval', 'DIOR/JPEGImages-test'),
                ),
            ),
            (SourcePart('DIOR/Annotations', ('DIOR/JPEGImages-trainval', 'DIOR/JPEGImages-test')),),
        ),
        paper_images=23463,
    ),
    Source(
        'hrrsd',
        'HRRSD',
        'DET-10',
        'voc',
        (
            (SourcePart('HRRSD/OPT2017/Annotations', 'HRRSD/OPT2017/JPEGImages'),),
            (
                SourcePart(
                    'HRRSD/TGRS-HRRSD-Dataset/OPT2017/Annotations',
                    'HRRSD/TGRS-HRRSD-Dataset/OPT2017/JPEGImages',
                ),
            ),
        ),
        paper_images=21761,
    ),
    Source(
        'rsod',
        'RSOD',
        'DET-10',
        'voc',
        _one(
            *(
                SourcePart(f'RSOD/{kind}/Annotation/xml', f'RSOD/{kind}/JPEGImages')
                for kind in ('aircraft', 'oiltank', 'overpass', 'playground')
            )
        ),
        paper_images=936,
    ),
    Source(
        'levir',
        'LEVIR',
        'DET-10',
        'levir',
        _one(SourcePart('LEVIR/imageWithLabel', 'LEVIR/imageWithLabel')),
        paper_images=3791,
        note='images and their label .txt files side by side',
    ),
    Source(
        'hrsc2016',
        'HRSC',
        'DET-10',
        'voc',
        (
            (SourcePart('HRSC2016/FullDataSet/Annotations', 'HRSC2016/FullDataSet/AllImages'),),
            (
                SourcePart('HRSC2016/Train/Annotations', 'HRSC2016/Train/AllImages'),
                SourcePart('HRSC2016/Test/Annotations', 'HRSC2016/Test/AllImages'),
            ),
        ),
        paper_images=1055,
    ),
    Source(
        'visdrone',
        'VisDrone',
        'DET-10',
        'visdrone',
        _one(
            SourcePart(
                'VisDrone/VisDrone2019-DET-train/annotations',
                'VisDrone/VisDrone2019-DET-train/images',
            ),
            SourcePart(
                'VisDrone/VisDrone2019-DET-val/annotations',
                'VisDrone/VisDrone2019-DET-val/images',
            ),
        ),
        paper_images=6471,
    ),
    Source(
        'au_air',
        'AU-AIR',
        'DET-10',
        'auair',
        (
            (
                SourcePart(
                    'AU-AIR/auair2019annotations/annotations.json', 'AU-AIR/auair2019data/images'
                ),
            ),
            (SourcePart('AU-AIR/annotations.json', 'AU-AIR/images'),),
        ),
        paper_images=32823,
    ),
    Source(
        'stanford_drone',
        'Stanford Drone',
        'DET-10',
        'stanford_drone',
        (
            (SourcePart('StanfordDrone/annotations', 'StanfordDrone/videos'),),
            # stanford_campus_dataset.zip unpacked as it is
            (
                SourcePart(
                    'StanfordDrone/stanford_campus_dataset/annotations',
                    'StanfordDrone/stanford_campus_dataset/videos',
                ),
            ),
        ),
        options=MappingProxyType({'frame_stride': DEFAULT_FRAME_STRIDE}),
        paper_images=17351,
        note='frames sampled from the videos into <output>/frames/stanford_drone',
    ),
    Source(
        'carpk',
        'CARPK',
        'DET-10',
        'carpk',
        _one(SourcePart('CARPK/CARPK_devkit/data/Annotations', 'CARPK/CARPK_devkit/data/Images')),
        paper_images=1568,
    ),
    Source(
        'vaihingen',
        'Vaihingen',
        'SEG-4',
        'mask',
        _one(SourcePart('Vaihingen/gts_for_participants', 'Vaihingen/top')),
        options=_VAIHINGEN,
        paper_images=742,
    ),
    Source(
        'potsdam',
        'Potsdam',
        'SEG-4',
        'mask',
        _one(SourcePart('Potsdam/5_Labels_all', 'Potsdam/2_Ortho_RGB')),
        options=MappingProxyType(
            {
                'mask_format': 'potsdam',
                'region_captions': True,
                'strip_suffix': '_label',
                'image_suffix': '_RGB',
            }
        ),
        paper_images=5421,
    ),
    Source(
        'isaid',
        'iSAID',
        'SEG-4',
        'coco',
        _one(
            SourcePart('iSAID/train/Annotations/iSAID_train.json', 'iSAID/train/images'),
            SourcePart('iSAID/val/Annotations/iSAID_val.json', 'iSAID/val/images'),
        ),
        paper_images=30821,
    ),
    Source(
        'loveda',
        'LoveDA',
        'SEG-4',
        'mask',
        _one(
            *(
                SourcePart(f'LoveDA/{split}/{area}/masks_png', f'LoveDA/{split}/{area}/images_png')
                for split in ('Train', 'Val')
                for area in ('Urban', 'Rural')
            )
        ),
        options=MappingProxyType({'mask_format': 'loveda'}),
        paper_images=4187,
    ),
)
