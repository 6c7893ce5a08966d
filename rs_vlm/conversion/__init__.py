"""Annotation-to-caption conversion: readers, Box-to-Caption, Mask-to-Box, dedup, corpus writers.

Light to import (numpy, scipy, OpenCV, Pillow): no torch.
"""

from .annotated_image import AnnotatedImage, corners_to_boxes
from .box_to_caption import (
    DEFAULT_B2C_CONFIG,
    B2CConfig,
    boxes_to_captions,
    boxes_to_captions_batch,
    normalise_class_name,
    pluralise,
)
from .coco import read_coco
from .corpus_filter import corpus_images, drop_images_from_corpus
from .corpus_writer import ConversionSummary, CorpusWriter
from .csv_boxes import read_csv_boxes
from .dedup import find_near_duplicates, phash
from .dota import read_dota
from .mask_to_box import (
    ISAID_CLASSES,
    ISAID_PALETTE,
    ISPRS_CLASSES,
    ISPRS_PALETTE,
    LOVEDA_CLASSES,
    NAMED_MASK_FORMATS,
    colour_mask_to_index,
    mask_to_boxes,
)
from .visdrone import VISDRONE_CLASSES, read_visdrone
from .voc import read_voc
from .yolo import read_yolo

__all__ = [
    'DEFAULT_B2C_CONFIG',
    'ISAID_CLASSES',
    'ISAID_PALETTE',
    'ISPRS_CLASSES',
    'ISPRS_PALETTE',
    'LOVEDA_CLASSES',
    'NAMED_MASK_FORMATS',
    'VISDRONE_CLASSES',
    'AnnotatedImage',
    'B2CConfig',
    'ConversionSummary',
    'CorpusWriter',
    'boxes_to_captions',
    'boxes_to_captions_batch',
    'colour_mask_to_index',
    'corners_to_boxes',
    'corpus_images',
    'drop_images_from_corpus',
    'find_near_duplicates',
    'mask_to_boxes',
    'normalise_class_name',
    'phash',
    'pluralise',
    'read_coco',
    'read_csv_boxes',
    'read_dota',
    'read_visdrone',
    'read_voc',
    'read_yolo',
]
