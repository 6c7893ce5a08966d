"""Datasets (torchgeo ``NonGeoDataset`` subclasses): caption corpora, scene sets, RemoteCount."""

from rs_vlm.datasets.bad_input import BadInputPolicy, collate_skipping_bad
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.datasets.decoding import load_image
from rs_vlm.datasets.samplers import EpochRandomSampler

__all__ = [
    'BadInputPolicy',
    'CaptionCSVDataset',
    'CaptionCorpus',
    'EpochRandomSampler',
    'collate_skipping_bad',
    'load_image',
]
