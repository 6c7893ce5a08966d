"""The UCMCaptions retrieval benchmark."""

from typing import ClassVar

from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark

__all__ = ['UCMCaptions']


class UCMCaptions(RetrievalBenchmark):
    """UCM-Captions: the 2,100 UC Merced images (256 x 256 px, 21 classes) (Qu et al. 2016).

    The precomp files split it into 1,890 train and 210 test images.
    Each image has 5 captions. Folder layout and arguments: see
    :class:`~rs_vlm.datasets.retrieval_benchmark.RetrievalBenchmark`.
    """

    json_name: ClassVar[str] = 'ucm'
    manual: ClassVar[str] = (
        'Images and dataset_ucm.json: https://github.com/201528014227051/RSICD_optimal'
    )
