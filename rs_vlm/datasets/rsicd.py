"""The RSICD retrieval benchmark."""

from typing import ClassVar

from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark

__all__ = ['RSICD']


class RSICD(RetrievalBenchmark):
    """RSICD: 10,921 images of 224 x 224 px in 30 scene classes (Lu et al. 2017).

    The precomp files split it into 9,828 train (train + val) and 1,093 test images.
    Each image has 5 captions. Folder layout and arguments: see
    :class:`~rs_vlm.datasets.retrieval_benchmark.RetrievalBenchmark`.
    """

    json_name: ClassVar[str] = 'rsicd'
    manual: ClassVar[str] = (
        'Images and dataset_rsicd.json: https://github.com/201528014227051/RSICD_optimal'
    )
