"""Reading and writing files: image decoding, dataset downloads, WebDataset shard writing.

:mod:`rs_vlm.io.decoding` turns image files and bytes into tensors (cropped, for training, by
boxes from :mod:`rs_vlm.io.random_crop`); :mod:`rs_vlm.io.download`
fetches, verifies and safely extracts dataset archives; :mod:`rs_vlm.io.webdataset_writer` is the
``rs-vlm shard`` command (imported on use: it reads corpora through :mod:`rs_vlm.datasets`).
"""

from rs_vlm.io.decoding import decode_image_bytes, load_image
from rs_vlm.io.download import ArchiveError, MissingDatasetError, download_archive, safe_extract

__all__ = [
    'ArchiveError',
    'MissingDatasetError',
    'decode_image_bytes',
    'download_archive',
    'load_image',
    'safe_extract',
]
