"""The one list of image file suffixes the package reads (no heavy imports: ``convert`` uses it).

:func:`rs_vlm.io.decoding.load_image` reads all of them: TIFFs through rasterio (multi-band,
16-bit), the rest through Pillow. Datasets, annotation readers, ``rs-vlm predict``, deduplication
and WebDataset shards all take image files by this list.
"""

__all__ = ['IMAGE_SUFFIXES', 'is_image_file']

#: Lower-case suffixes, in the order a bare file stem is tried.
IMAGE_SUFFIXES: tuple[str, ...] = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp')


def is_image_file(name: str) -> bool:
    """Whether a file name ends in one of :data:`IMAGE_SUFFIXES` (any case).

    Args:
        name: A file name or path.

    Returns:
        True for an image file name.
    """
    return name.lower().endswith(IMAGE_SUFFIXES)
