"""Where the evaluation benchmarks live under one data root, and which of them are there.

The recipe evaluates on the RET-3 test splits (retrieval) and the 12 zero-shot scene sets.
Each benchmark is a folder of ``data_root`` named as below (the dataset class documents the
layout inside it). A benchmark that is absent is left out with one warning saying where it
was expected, so a partial download still trains and evaluates what is there.
"""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset
from torchgeo.datasets import DatasetNotFoundError

from rs_vlm.datasets import ZERO_SHOT_DATASETS
from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark
from rs_vlm.datasets.rsicd import RSICD
from rs_vlm.datasets.rsitmd import RSITMD
from rs_vlm.datasets.ucm_captions import UCMCaptions

__all__ = [
    'RETRIEVAL_BENCHMARKS',
    'ZERO_SHOT_BENCHMARKS',
    'present_retrieval_benchmarks',
    'present_zero_shot_benchmarks',
]

logger = logging.getLogger('rs_vlm.datasets')

#: Retrieval benchmark name -> (dataset class, folder under the data root).
RETRIEVAL_BENCHMARKS: dict[str, tuple[type[RetrievalBenchmark], str]] = {
    'RSITMD': (RSITMD, 'RSITMD'),
    'RSICD': (RSICD, 'RSICD'),
    'UCM-Captions': (UCMCaptions, 'UCM-Captions'),
}

#: Zero-shot scene benchmark name -> (dataset class, folder under the data root).
ZERO_SHOT_BENCHMARKS: dict[str, tuple[type[Dataset[Any]], str]] = {
    name: (cls, name) for name, cls in ZERO_SHOT_DATASETS.items()
}


def _present(
    table: dict[str, tuple[type[Dataset[Any]], str]],
    data_root: str | Path,
    names: Sequence[str] | None,
    kind: str,
    **kwargs: Any,
) -> dict[str, Dataset[Any]]:
    unknown = sorted(set(names or ()) - set(table))
    if unknown:
        raise ValueError(f'unknown {kind} benchmarks {unknown}; expected some of {list(table)}')
    found: dict[str, Dataset[Any]] = {}
    for name in names if names is not None else list(table):
        cls, folder = table[name]
        root = Path(data_root) / folder
        try:
            found[name] = cls(root=root, split='test', **kwargs)  # type: ignore[call-arg]
        except DatasetNotFoundError as error:
            first_line = str(error).splitlines()[0] if str(error) else ''
            logger.warning(
                '%s benchmark %s skipped: not found at %s (%s)', kind, name, root, first_line
            )
    return found


def present_retrieval_benchmarks(
    data_root: str | Path, names: Sequence[str] | None = None, **kwargs: Any
) -> dict[str, Dataset[Any]]:
    """The test splits of the retrieval benchmarks found under ``data_root``.

    Args:
        data_root: Folder holding ``RSITMD/``, ``RSICD/``, ``UCM-Captions/``.
        names: Benchmarks to look for (default: all of :data:`RETRIEVAL_BENCHMARKS`).
        **kwargs: Dataset arguments (``image_size``, ``on_error``).

    Returns:
        Name -> test split in retrieval mode, for those present (one warning per absent one).
    """
    return _present(RETRIEVAL_BENCHMARKS, data_root, names, 'retrieval', **kwargs)  # type: ignore[arg-type]


def present_zero_shot_benchmarks(
    data_root: str | Path, names: Sequence[str] | None = None, **kwargs: Any
) -> dict[str, Dataset[Any]]:
    """The test splits of the zero-shot scene benchmarks found under ``data_root``.

    Args:
        data_root: Folder holding ``AID/``, ``EuroSAT/``, ... (the names of
            :data:`ZERO_SHOT_BENCHMARKS`).
        names: Benchmarks to look for (default: all 12).
        **kwargs: Dataset arguments (``image_size``, ``on_error``).

    Returns:
        Name -> test split, for those present (one warning per absent one).
    """
    return _present(ZERO_SHOT_BENCHMARKS, data_root, names, 'zero-shot', **kwargs)
