"""Everyday inference: classify image folders, embed, map whole scenes, index and search archives.

The Python API mirrors ``rs-vlm predict classify|embed|map|index|search``::

    from rs_vlm.prediction import classify_images, embed_images, map_scene, search

    result = classify_images(
        'photos/', ['forest', 'river'],
        model_name='ViT-B-32-quickgelu', checkpoint='RemoteCLIP-ViT-B-32.pt',
    )
    map_scene('scene.tif', 'map.tif', classes=['forest', 'river'], model_name='ViT-B-32')

Names load on first access (PEP 562), so ``rs-vlm predict classify --help`` and argument
errors answer without importing torch and open_clip.
"""

from importlib import import_module
from typing import Any

__all__ = [
    'IMAGE_SUFFIXES',
    'ArchiveHit',
    'ArchiveIndex',
    'ArchiveIndexInfo',
    'ClassificationResult',
    'Embeddings',
    'ImagePrediction',
    'LoadedModel',
    'ModelMismatchError',
    'SceneMap',
    'SearchHit',
    'build_archive_index',
    'classify_images',
    'dataset_classes',
    'dataset_names',
    'embed_captions',
    'embed_images',
    'encode_image_files',
    'encode_texts',
    'find_images',
    'hits_to_geojson',
    'load_archive_index',
    'load_embeddings',
    'load_for_prediction',
    'map_scene',
    'read_captions',
    'read_class_names',
    'read_templates',
    'save_embeddings',
    'search',
    'search_archive',
    'write_geojson',
    'write_predictions',
]

_MODULES = {
    'classify': ('ClassificationResult', 'ImagePrediction', 'classify_images', 'write_predictions'),
    'embed': ('Embeddings', 'SearchHit', 'embed_captions', 'embed_images', 'load_embeddings',
              'save_embeddings', 'search'),
    'encoding': ('IMAGE_SUFFIXES', 'encode_image_files', 'encode_texts', 'find_images'),
    'inputs': ('dataset_classes', 'dataset_names', 'read_captions', 'read_class_names',
               'read_templates'),
    'model': ('LoadedModel', 'load_for_prediction'),
    'scene_map': ('SceneMap', 'map_scene'),
    'archive_index': ('ArchiveIndexInfo', 'build_archive_index'),
    'archive_search': ('ArchiveHit', 'ArchiveIndex', 'ModelMismatchError', 'hits_to_geojson',
                       'load_archive_index', 'search_archive', 'write_geojson'),
}  # fmt: skip
_LAZY = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import public names on first access (PEP 562)."""
    if name in _LAZY:
        return getattr(import_module(f'rs_vlm.prediction.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    """Public names, for tab completion."""
    return sorted(__all__)
