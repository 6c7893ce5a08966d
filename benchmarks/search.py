"""Archive search at scale: the approximate index ``'auto'`` picks vs exact search, side by side.

``--vectors`` (default 1,000,000) L2-normalised float32 vectors of ``--dim`` (default 512, the
ViT-B-32 width) are drawn from a mixture of ``--clusters`` Gaussian clusters on the sphere, a
stand-in for CLIP embeddings of an archive (which cluster by scene type), and ``--queries``
queries from the same mixture. Both indexes are built with the code ``rs-vlm predict index``
uses (:mod:`rs_vlm.prediction.vector_index`); for each the script prints build time, index
bytes per vector, single-query and batched latency, and recall@10 of the approximate index
against exact search (the share of the exact top 10 it returns).

    python benchmarks/search.py                      # 1,000,000 x 512
    python benchmarks/search.py --vectors 200000     # quicker
"""

import argparse
import os
import time

import faiss
import numpy as np

from rs_vlm.prediction.vector_index import (
    DEFAULT_SEARCH_PARAMETERS,
    build_vector_index,
    factory_string,
    resolve_index_type,
    set_search_parameters,
    train_size,
)


def mixture(count: int, centres: np.ndarray, spread: float, seed: int, chunk: int = 100_000):
    """Yield chunks of normalised vectors: a random centre plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    dim = centres.shape[1]
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        picks = rng.integers(len(centres), size=n)
        vectors = centres[picks] + rng.normal(0, spread / np.sqrt(dim), (n, dim)).astype(np.float32)
        faiss.normalize_L2(vectors)
        yield vectors


def latency(index, queries: np.ndarray, k: int) -> tuple[float, float]:
    """(ms per query one at a time, ms per query in one batch)."""
    start = time.perf_counter()
    for query in queries[:200]:
        index.search(query[None], k)
    single = (time.perf_counter() - start) / min(200, len(queries)) * 1000
    start = time.perf_counter()
    index.search(queries, k)
    batched = (time.perf_counter() - start) / len(queries) * 1000
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--vectors', type=int, default=1_000_000)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--clusters', type=int, default=2000)
    parser.add_argument('--spread', type=float, default=0.6, help='noise norm / centre norm')
    parser.add_argument('--queries', type=int, default=1000)
    parser.add_argument('--k', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--index-type', default='auto', help='approximate kind to compare')
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    print(f'load average before: {os.getloadavg()}; faiss {faiss.__version__}, '
          f'{args.threads} threads')  # fmt: skip

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1 / np.sqrt(args.dim), (args.clusters, args.dim)).astype(np.float32)
    faiss.normalize_L2(centres)
    queries = next(mixture(args.queries, centres, args.spread, seed=99))

    kind = resolve_index_type(args.index_type, args.vectors)
    description = factory_string(kind, args.dim, args.vectors)
    sample = train_size(description, args.vectors)
    training = next(mixture(max(sample, 1), centres, args.spread, seed=1, chunk=max(sample, 1)))

    start = time.perf_counter()
    exact = build_vector_index(
        'Flat', args.dim, training[:0], mixture(args.vectors, centres, args.spread, 1)
    )
    exact_build = time.perf_counter() - start
    start = time.perf_counter()
    approx = build_vector_index(
        description, args.dim, training, mixture(args.vectors, centres, args.spread, 1)
    )
    approx_build = time.perf_counter() - start
    set_search_parameters(approx, DEFAULT_SEARCH_PARAMETERS)

    start = time.perf_counter()
    _, truth = exact.search(queries, args.k)
    exact_all = time.perf_counter() - start
    rows = []
    for name, index, build in (
        ('exact Flat', exact, exact_build),
        (description, approx, approx_build),
    ):
        _, found = index.search(queries, args.k)
        recall = np.mean([len(set(a) & set(b)) / args.k for a, b in zip(found, truth, strict=True)])
        single, batched = latency(index, queries, args.k)
        size = len(faiss.serialize_index(index)) / index.ntotal
        rows.append((name, build, size, single, batched, recall))
    print(
        f'\n{args.vectors:,} vectors x {args.dim}, {args.clusters} clusters, {args.queries} '
        f'queries, k={args.k}; search settings {DEFAULT_SEARCH_PARAMETERS}'
    )
    print(f'{"index":38} {"build s":>8} {"bytes/vec":>10} {"ms/query":>9} {"ms/q batch":>10} '
          f'{"recall@10":>9}')  # fmt: skip
    for name, build, size, single, batched, recall in rows:
        print(f'{name:38} {build:8.1f} {size:10.1f} {single:9.3f} {batched:10.4f} {recall:9.4f}')
    print(
        f'speed-up of one query: {rows[0][3] / rows[1][3]:.1f}x; memory: '
        f'{rows[0][2] / rows[1][2]:.1f}x smaller (exact batch of all queries: {exact_all:.1f} s)'
    )

    ivf = None
    try:
        ivf = faiss.extract_index_ivf(approx)
    except RuntimeError:
        pass
    if ivf is not None:
        print('\nnprobe sweep (k_factor as above):')
        for nprobe in (8, 16, 32, 64):
            set_search_parameters(approx, {**DEFAULT_SEARCH_PARAMETERS, 'nprobe': nprobe})
            _, found = approx.search(queries, args.k)
            recall = np.mean(
                [len(set(a) & set(b)) / args.k for a, b in zip(found, truth, strict=True)]
            )
            single, _ = latency(approx, queries, args.k)
            print(f'  nprobe {nprobe:3d}: recall@10 {recall:.4f}, {single:.3f} ms/query')
    print(f'\nload average after: {os.getloadavg()}')


if __name__ == '__main__':
    main()
