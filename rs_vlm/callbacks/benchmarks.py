"""The recipe's evaluation callbacks built from one data root.

``configs/*.yaml`` name these factories as callback ``class_path``s, so a single setting
(``--data.init_args.data_root``) points training, retrieval and zero-shot evaluation at the same
download folder. Benchmarks absent on disk are skipped with one warning each (see
:mod:`rs_vlm.datasets.benchmark_roots`); with none present the callback evaluates nothing.
"""

from collections.abc import Sequence

from rs_vlm.callbacks.retrieval import RetrievalCallback
from rs_vlm.callbacks.zero_shot import ZeroShotCallback
from rs_vlm.datasets.benchmark_roots import (
    RETRIEVAL_BENCHMARKS,
    ZERO_SHOT_BENCHMARKS,
    present_retrieval_benchmarks,
    present_zero_shot_benchmarks,
)

__all__ = ['retrieval_benchmarks', 'zero_shot_benchmarks']


def retrieval_benchmarks(
    data_root: str,
    names: Sequence[str] = tuple(RETRIEVAL_BENCHMARKS),
    every_n_epochs: int = 1,
    batch_size: int = 256,
    num_workers: int = 0,
    image_size: int | None = None,
    decode_size: int = 224,
    top_k: Sequence[int] = (1, 5, 10),
) -> RetrievalCallback:
    """A :class:`RetrievalCallback` over the RET-3 test splits found under ``data_root``.

    Args:
        data_root: Folder holding ``RSITMD/``, ``RSICD/``, ``UCM-Captions/``.
        names: Benchmarks to evaluate.
        every_n_epochs: Run every N training epochs.
        batch_size: Images or captions per forward pass.
        num_workers: DataLoader workers.
        image_size: Model input side (None: the model's).
        decode_size: Side the images are decoded at before the model's resize.
        top_k: Recall@K values.

    Returns:
        The callback.
    """
    datasets = present_retrieval_benchmarks(data_root, names, image_size=decode_size)
    return RetrievalCallback(
        datasets,
        top_k=top_k,
        every_n_epochs=every_n_epochs,
        batch_size=batch_size,
        num_workers=num_workers,
        image_size=image_size,
    )


def zero_shot_benchmarks(
    data_root: str,
    names: Sequence[str] = tuple(ZERO_SHOT_BENCHMARKS),
    every_n_epochs: int = 1,
    batch_size: int = 256,
    num_workers: int = 0,
    image_size: int | None = None,
    decode_size: int = 224,
    top_k: Sequence[int] = (1, 5),
) -> ZeroShotCallback:
    """A :class:`ZeroShotCallback` over the scene benchmarks found under ``data_root``.

    Args:
        data_root: Folder holding ``AID/``, ``EuroSAT/``, ``MLRSNet/``, ... (the paper's 12).
        names: Benchmarks to evaluate.
        every_n_epochs: Run every N training epochs.
        batch_size: Images or prompts per forward pass.
        num_workers: DataLoader workers.
        image_size: Model input side (None: the model's).
        decode_size: Side the images are decoded at before the model's resize.
        top_k: Top-K accuracies.

    Returns:
        The callback (each dataset brings its own class names and templates).
    """
    datasets = present_zero_shot_benchmarks(data_root, names, image_size=decode_size)
    return ZeroShotCallback(
        datasets,
        top_k=top_k,
        every_n_epochs=every_n_epochs,
        batch_size=batch_size,
        num_workers=num_workers,
        image_size=image_size,
    )
