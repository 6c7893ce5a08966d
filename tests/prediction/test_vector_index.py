"""FAISS index choice by size, approximate recall against exact search, search settings."""

import faiss
import numpy as np
import pytest

from rs_vlm.prediction.vector_index import (
    EXACT_THRESHOLD,
    build_vector_index,
    factory_string,
    resolve_index_type,
    set_search_parameters,
    train_size,
)


def _clustered(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(50, dim)).astype(np.float32)
    vectors = centres[rng.integers(50, size=count)] + rng.normal(0, 0.5, (count, dim))
    vectors = vectors.astype(np.float32)
    faiss.normalize_L2(vectors)
    return vectors


def test_auto_is_exact_below_the_threshold_and_approximate_above() -> None:
    assert resolve_index_type('auto', EXACT_THRESHOLD - 1) == 'flat'
    assert resolve_index_type('auto', EXACT_THRESHOLD) == 'ivfsq'
    assert resolve_index_type('hnsw', 10) == 'hnsw'  # an explicit choice wins
    assert factory_string('ivfsq', 512, 1_000_000) == 'IVF1000,SQ8'
    assert factory_string('ivfpq', 512, 1_000_000) == 'IVF1000,PQ128x8,Refine(SQ8)'
    assert factory_string('IVF16,Flat', 8, 10) == 'IVF16,Flat'
    assert train_size('IVF4000,SQ8', 1_000_000) == 160_000
    assert train_size('IVF1000,SQ8', 1_000_000) == 65_536
    assert train_size('Flat', 1_000_000) == 0


@pytest.mark.parametrize('kind', ['ivfsq', 'hnsw'])
def test_approximate_recall_against_exact(kind: str) -> None:
    data, queries = _clustered(6000, 32, 1), _clustered(100, 32, 2)
    description = factory_string(kind, 32, len(data))
    exact = build_vector_index('Flat', 32, data[:0], [data[:3000], data[3000:]])
    approx = build_vector_index(description, 32, data, [data[:3000], data[3000:]])
    set_search_parameters(approx, {'nprobe': 16, 'efSearch': 64})
    scores, truth = exact.search(queries, 10)
    np.testing.assert_allclose(scores[:, 0], (queries @ data.T).max(axis=1), atol=1e-5)
    _, found = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.9


def test_search_parameters_reach_the_nested_indexes() -> None:
    data = _clustered(2000, 16, 3)
    index = build_vector_index('IVF8,SQ8,RFlat', 16, data, [data])
    set_search_parameters(index, {'nprobe': 5, 'k_factor': 3})
    assert faiss.extract_index_ivf(index).nprobe == 5
    assert faiss.downcast_index(index).k_factor == 3
    graph = build_vector_index('HNSW32,Flat', 16, data[:0], [data])
    set_search_parameters(graph, {'efSearch': 77})
    assert faiss.downcast_index(graph).hnsw.efSearch == 77
