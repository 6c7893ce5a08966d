"""Annotation-to-caption conversion: readers, Box-to-Caption, Mask-to-Box, dedup, corpus writers.

Light to import (numpy, scipy, OpenCV, Pillow): no torch.
"""

from .annotated_image import AnnotatedImage, corners_to_boxes
from .auair import read_auair
from .box_to_caption import (
    DEFAULT_B2C_CONFIG,
    B2CConfig,
    boxes_to_captions,
    boxes_to_captions_batch,
    normalise_class_name,
    pluralise,
)
from .carpk import CARPK_CLASSES, read_carpk
from .coco import read_coco
from .convert import convert_annotations, iter_annotations, read_class_map, read_name_list
from .corpus_filter import corpus_images, drop_images_from_corpus
from .corpus_writer import ConversionSummary, CorpusWriter
from .csv_boxes import read_csv_boxes
from .dedup import find_near_duplicates, phash
from .dota import read_dota
from .formats import FORMATS, ReaderOptions, annotation_files, read_annotation_file
from .levir import LEVIR_CLASSES, read_levir
from .mask_files import MaskSettings, read_mask_file
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
from .prepare import prepare_corpora
from .sources import SOURCES, Source, SourcePart
from .stanford_drone import DEFAULT_FRAME_STRIDE, STANFORD_DRONE_CLASSES, read_stanford_drone
from .visdrone import VISDRONE_CLASSES, read_visdrone
from .voc import read_voc
from .yolo import read_yolo

__all__ = [
    'CARPK_CLASSES',
    'DEFAULT_B2C_CONFIG',
    'DEFAULT_FRAME_STRIDE',
    'FORMATS',
    'ISAID_CLASSES',
    'ISAID_PALETTE',
    'ISPRS_CLASSES',
    'ISPRS_PALETTE',
    'LEVIR_CLASSES',
    'LOVEDA_CLASSES',
    'NAMED_MASK_FORMATS',
    'SOURCES',
    'STANFORD_DRONE_CLASSES',
    'VISDRONE_CLASSES',
    'AnnotatedImage',
    'B2CConfig',
    'ConversionSummary',
    'CorpusWriter',
    'MaskSettings',
    'ReaderOptions',
    'Source',
    'SourcePart',
    'annotation_files',
    'boxes_to_captions',
    'boxes_to_captions_batch',
    'colour_mask_to_index',
    'convert_annotations',
    'corners_to_boxes',
    'corpus_images',
    'drop_images_from_corpus',
    'find_near_duplicates',
    'iter_annotations',
    'mask_to_boxes',
    'normalise_class_name',
    'phash',
    'pluralise',
    'prepare_corpora',
    'read_annotation_file',
    'read_auair',
    'read_carpk',
    'read_class_map',
    'read_coco',
    'read_csv_boxes',
    'read_dota',
    'read_levir',
    'read_mask_file',
    'read_name_list',
    'read_stanford_drone',
    'read_visdrone',
    'read_voc',
    'read_yolo',
]
