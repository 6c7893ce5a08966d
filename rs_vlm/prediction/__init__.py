"""Everyday inference: zero-shot classify image folders, embed images and captions, search.

The Python API mirrors ``rs-vlm predict classify`` / ``rs-vlm predict embed``::

    from rs_vlm.prediction import classify_images, embed_images, search

    result = classify_images('photos/', ['forest', 'river'], model_name='ViT-B-32')
"""

from rs_vlm.prediction.classify import (
    ClassificationResult,
    ImagePrediction,
    classify_images,
    write_predictions,
)
from rs_vlm.prediction.embed import (
    Embeddings,
    SearchHit,
    embed_captions,
    embed_images,
    load_embeddings,
    save_embeddings,
    search,
)
from rs_vlm.prediction.encoding import IMAGE_SUFFIXES, encode_image_files, encode_texts, find_images
from rs_vlm.prediction.inputs import (
    dataset_classes,
    dataset_names,
    read_captions,
    read_class_names,
    read_templates,
)
from rs_vlm.prediction.model import LoadedModel, load_for_prediction

__all__ = [
    'IMAGE_SUFFIXES',
    'ClassificationResult',
    'Embeddings',
    'ImagePrediction',
    'LoadedModel',
    'SearchHit',
    'classify_images',
    'dataset_classes',
    'dataset_names',
    'embed_captions',
    'embed_images',
    'encode_image_files',
    'encode_texts',
    'find_images',
    'load_embeddings',
    'load_for_prediction',
    'read_captions',
    'read_class_names',
    'read_templates',
    'save_embeddings',
    'search',
    'write_predictions',
]
