"""FAISS indexes over L2-normalised embeddings: pick one by size, build it from shards, tune it.

Inner product on L2-normalised vectors is the cosine similarity. Kinds (``index_type``):

* ``'flat'``: exact search (``IndexFlatIP``), 4 bytes per dimension per vector.
* ``'ivfsq'``: inverted lists over ``nlist`` k-means cells (about ``sqrt(N)``) holding
  8-bit scalar-quantised vectors (``IVF{nlist},SQ8``): a quarter of the bytes of flat, only
  ``nprobe`` cells scanned per query, recall@10 close to exact (see ``benchmarks/search.py``).
* ``'ivfpq'``: the same cells with product-quantised codes of ``dim / 4`` bytes and the top
  ``k * k_factor`` candidates re-ranked on 8-bit vectors (``IVF{nlist},PQ{m}x8,Refine(SQ8)``).
  Training its sub-quantisers is slow in faiss-cpu 1.15 (minutes for 20,000 vectors), so
  ``'auto'`` does not pick it.
* ``'hnsw'``: a 32-link HNSW graph over full vectors (``HNSW32,Flat``): fast queries, no
  training, more memory than flat.
* ``'auto'``: ``'flat'`` below ``EXACT_THRESHOLD`` vectors, ``'ivfsq'`` from there.
* any other string: a FAISS ``index_factory`` description, used as given.
"""

import math
from collections.abc import Iterable

import numpy as np

__all__ = [
    'DEFAULT_SEARCH_PARAMETERS',
    'EXACT_THRESHOLD',
    'IndexKind',
    'build_vector_index',
    'factory_string',
    'resolve_index_type',
    'set_search_parameters',
    'train_size',
]

#: Below this many vectors ``'auto'`` builds an exact index.
EXACT_THRESHOLD = 100_000

#: Search-time settings stored with an index (``nprobe`` for IVF, ``efSearch`` for HNSW,
#: ``k_factor`` re-ranking candidates per hit).
DEFAULT_SEARCH_PARAMETERS = {'nprobe': 32, 'efSearch': 128, 'k_factor': 8}

IndexKind = str

#: Vectors used to train the quantisers, per k-means cell (FAISS warns below 39).
_TRAIN_POINTS_PER_CELL = 40


def resolve_index_type(index_type: str, count: int) -> str:
    """The index kind for ``count`` vectors: ``'auto'`` resolved by size, others as given.

    Args:
        index_type: ``'auto'``, ``'flat'``, ``'ivfsq'``, ``'ivfpq'``, ``'hnsw'`` or a factory
            string.
        count: Number of vectors.

    Returns:
        The kind.
    """
    if index_type == 'auto':
        return 'flat' if count < EXACT_THRESHOLD else 'ivfsq'
    return index_type


def _nlist(count: int) -> int:
    # ~sqrt(N) cells (the low end of FAISS's guideline): training stays a matter of seconds on a
    # CPU, and nprobe cells of ~sqrt(N) codes each keep a query in milliseconds.
    return int(min(16384, max(1, math.isqrt(max(count, 1)))))


#: k-means iterations when training IVF cells (FAISS's default is 25; 10 loses no recall here).
IVF_TRAINING_ITERATIONS = 10


def factory_string(index_type: str, dim: int, count: int) -> str:
    """The FAISS ``index_factory`` description of an index kind.

    Args:
        index_type: A resolved kind (see the module docstring).
        dim: Vector width.
        count: Number of vectors it will hold.

    Returns:
        The description.
    """
    if index_type == 'flat':
        return 'Flat'
    if index_type == 'hnsw':
        return 'HNSW32,Flat'
    if index_type == 'ivfsq':
        return f'IVF{_nlist(count)},SQ8'
    if index_type == 'ivfpq':
        subquantisers = next((m for m in (dim // 4, dim // 2, dim) if m and dim % m == 0), dim)
        return f'IVF{_nlist(count)},PQ{subquantisers}x8,Refine(SQ8)'
    return index_type


def train_size(description: str, count: int) -> int:
    """How many vectors to train an index with (0 when it needs no training).

    Args:
        description: The factory description.
        count: Vectors available.

    Returns:
        The training sample size.
    """
    if description.startswith('IVF'):
        nlist = int(description[3:].split(',')[0].split('_')[0])
        return min(count, max(nlist * _TRAIN_POINTS_PER_CELL, 65536))
    return 0 if description in ('Flat', 'HNSW32,Flat') else min(count, 65536)


def build_vector_index(
    description: str, dim: int, training: np.ndarray, batches: Iterable[np.ndarray]
):  # -> faiss.Index (faiss is imported lazily)
    """Create, train and fill a FAISS inner-product index.

    Args:
        description: ``index_factory`` description (:func:`factory_string`).
        dim: Vector width.
        training: ``[T, dim]`` float32 sample to train on (ignored when not needed).
        batches: The vectors to add, in id order (ids are 0, 1, 2... in that order).

    Returns:
        The index.
    """
    import faiss

    index = faiss.index_factory(dim, description, faiss.METRIC_INNER_PRODUCT)
    try:
        faiss.extract_index_ivf(index).cp.niter = IVF_TRAINING_ITERATIONS
    except RuntimeError:  # not an IVF index
        pass
    if not index.is_trained:
        index.train(np.ascontiguousarray(training, dtype=np.float32))
    for batch in batches:
        index.add(np.ascontiguousarray(batch, dtype=np.float32))
    return index


def set_search_parameters(index, parameters: dict[str, int]) -> None:
    """Apply ``nprobe`` / ``efSearch`` / ``k_factor`` where the index has them.

    Args:
        index: A FAISS index.
        parameters: Settings by name (missing ones keep FAISS defaults).
    """
    import faiss

    top = faiss.downcast_index(index)
    if isinstance(top, faiss.IndexRefine) and 'k_factor' in parameters:
        top.k_factor = float(parameters['k_factor'])
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:  # not an IVF index
        ivf = None
    if ivf is not None and 'nprobe' in parameters:
        ivf.nprobe = int(parameters['nprobe'])
    base = faiss.downcast_index(top.base_index) if isinstance(top, faiss.IndexRefine) else top
    if isinstance(base, faiss.IndexHNSW) and 'efSearch' in parameters:
        base.hnsw.efSearch = int(parameters['efSearch'])
