"""The SydneyCaptions retrieval benchmark."""

from typing import ClassVar

from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark

__all__ = ['SydneyCaptions']


class SydneyCaptions(RetrievalBenchmark):
    """Sydney-Captions: 613 images of 500 x 500 px in 7 classes (Qu et al. 2016).

    The common split has 497 train, 58 val and 28 test images.
    Each image has 5 captions. Folder layout and arguments: see
    :class:`~rs_vlm.datasets.retrieval_benchmark.RetrievalBenchmark`.
    """

    json_name: ClassVar[str] = 'sydney'
    manual: ClassVar[str] = (
        'Images and dataset_sydney.json: https://github.com/201528014227051/RSICD_optimal'
    )
