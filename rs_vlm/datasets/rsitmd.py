"""The RSITMD retrieval benchmark."""

from typing import ClassVar

from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark

__all__ = ['RSITMD']


class RSITMD(RetrievalBenchmark):
    """RSITMD: 4,743 images of 256 x 256 px in 32 scene classes (Yuan et al. 2021).

    The precomp files split it into 4,291 train and 452 test images.
    Each image has 5 captions. Folder layout and arguments: see
    :class:`~rs_vlm.datasets.retrieval_benchmark.RetrievalBenchmark`.
    """

    json_name: ClassVar[str] = 'rsitmd'
    manual: ClassVar[str] = 'Images and captions: https://github.com/xiaoyuan1996/AMFMN (RSITMD)'
