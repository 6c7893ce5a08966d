"""Cross-modal retrieval recall@K as the official RemoteCLIP script computes it.

The official ``retrieval.py`` builds ``scores = text_features @ image_features.T`` and calls
``clip_benchmark``'s ``recall_at_k``: for each query, ``torch.topk(scores, k)`` picks K
candidates and the query is a hit when at least one of them is a positive. This is the
*hit rate* (torchmetrics ``RetrievalHitRate``), not the true recall of ``RetrievalRecall``.

Instead of a ``topk`` per query and K, each query is decided by counting: with ``m`` the score
of its best positive, ``g`` the candidates scoring above ``m`` and ``e`` those scoring exactly
``m``, it is a hit at K when ``g + e <= K`` and a miss when ``g >= K``, whatever ``topk`` does
with ties. Only a query whose tie crosses the K boundary is re-run as
``torch.topk(its scores, K)``, so ties are broken exactly as the official code breaks them.
"""

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor

__all__ = ['retrieval_hit_rates']

# Score rows compared per step: the comparison block stays in the CPU cache.
_ROW_BLOCK = 512


def _count_against(scores: Tensor, thresholds: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Per query, how many candidates score above and exactly at its threshold.

    Args:
        scores: ``[N_txt, N_img]`` scores.
        thresholds: ``[N_txt]`` (text queries, ``dim=1``) or ``[N_img]`` (image queries,
            ``dim=0``).
        dim: The candidate dimension.

    Returns:
        ``(greater, equal)`` counts per query.
    """
    # comparisons written into one reused float block and summed: cheaper than bool masks, the
    # block stays in cache, and the sums are exact while a count stays below 2**24
    exact = torch.float32 if scores.shape[dim] < 2**24 else torch.float64
    rows = min(_ROW_BLOCK, len(scores))
    mask = torch.empty((rows, scores.shape[1]), dtype=exact, device=scores.device)
    greater_parts, equal_parts = [], []
    for start in range(0, len(scores), _ROW_BLOCK):
        block = scores[start : start + _ROW_BLOCK]
        bound = thresholds[start : start + _ROW_BLOCK, None] if dim == 1 else thresholds[None]
        out = mask[: len(block)]
        greater_parts.append(torch.gt(block, bound, out=out).sum(dim))
        equal_parts.append(torch.eq(block, bound, out=out).sum(dim))
    if dim == 1:
        greater, equal = torch.cat(greater_parts), torch.cat(equal_parts)
    else:
        greater, equal = torch.stack(greater_parts).sum(0), torch.stack(equal_parts).sum(0)
    return greater, equal


def _hits(
    greater: Tensor,
    equal: Tensor,
    top_k: Sequence[int],
    n_candidates: int,
    exact_hits: Callable[[Tensor, int], Tensor],
) -> list[Tensor]:
    """Per-query hit flags for each K, equal to one ``torch.topk(scores, k)`` call per K.

    Args:
        greater: ``[Q]`` candidates scoring above the query's best positive.
        equal: ``[Q]`` candidates scoring exactly its score (at least 1: the positive).
        top_k: The K values.
        n_candidates: Candidates per query.
        exact_hits: ``(query indices [R], k) -> bool [R]`` by ``torch.topk``, for the queries
            whose best positive ties across the K boundary.

    Returns:
        One boolean ``[Q]`` per K.
    """
    hits = []
    for k in top_k:
        k = min(k, n_candidates)
        hit = greater + equal <= k
        undecided = (~hit & (greater < k)).nonzero().flatten()
        if len(undecided):
            hit[undecided] = exact_hits(undecided, k)
        hits.append(hit)
    return hits


def _both_directions(
    scores: Tensor, caption_to_image: Tensor, top_k: tuple[int, ...]
) -> tuple[list[Tensor], list[Tensor]]:
    """Text->image and image->text hit flags per K from the ``[N_txt, N_img]`` score matrix."""
    n_texts, n_images = scores.shape
    # text->image: one positive per caption; image->text: the best of the image's captions
    positive = scores[torch.arange(n_texts, device=scores.device), caption_to_image]
    best_caption = torch.full((n_images,), -torch.inf, dtype=scores.dtype, device=scores.device)
    best_caption.scatter_reduce_(0, caption_to_image, positive, 'amax')

    def t2i_exact(rows: Tensor, k: int) -> Tensor:
        picked = torch.topk(scores[rows], k, dim=1).indices
        return (picked == caption_to_image[rows, None]).any(dim=1)

    def i2t_exact(rows: Tensor, k: int) -> Tensor:
        picked = torch.topk(scores[:, rows].T, k, dim=1).indices
        return (caption_to_image[picked] == rows[:, None]).any(dim=1)

    t2i = _hits(*_count_against(scores, positive, 1), top_k, n_images, t2i_exact)
    i2t = _hits(*_count_against(scores, best_caption, 0), top_k, n_texts, i2t_exact)
    return t2i, i2t


@contextlib.contextmanager
def _one_thread(applies: bool) -> Iterator[None]:
    """Run torch ops on one thread (restoring the thread count after).

    The steps around the score matmul are a few passes and many small ops; on a busy machine a
    thread-pool hand-off per op costs more than the op itself.
    """
    threads = torch.get_num_threads()
    if applies:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_inputs(image_features: Tensor, text_features: Tensor, caption_to_image: Tensor) -> None:
    """Shapes, caption -> image indices, one caption per image at least, finite embeddings."""
    n_images, n_texts = image_features.shape[0], text_features.shape[0]
    if caption_to_image.shape != (n_texts,):
        raise ValueError(
            f'caption_to_image has shape {tuple(caption_to_image.shape)}, expected ({n_texts},) '
            'to match text_features'
        )
    if n_texts and (caption_to_image.min() < 0 or caption_to_image.max() >= n_images):
        raise ValueError(f'caption_to_image holds indices outside 0..{n_images - 1}')
    captions_per_image = torch.bincount(caption_to_image, minlength=n_images)
    if captions_per_image.eq(0).any():
        missing = int(captions_per_image.eq(0).nonzero()[0])
        raise ValueError(f'image {missing} has no caption: every image needs at least one')
    _check_finite(image_features, 'image_features')
    _check_finite(text_features, 'text_features')


def _check_finite(features: Tensor, name: str) -> None:
    if torch.isfinite(features.sum()):  # a NaN or inf anywhere makes the sum non-finite
        return
    bad = ~torch.isfinite(features).all(dim=-1)
    if bad.any():
        row = int(bad.nonzero()[0])
        raise ValueError(f'{name} row {row} holds NaN or inf: embeddings must be finite')


def retrieval_hit_rates(
    image_features: Tensor,
    text_features: Tensor,
    caption_to_image: Tensor | Sequence[int],
    top_k: Sequence[int] = (1, 5, 10),
) -> dict[str, Tensor]:
    """Image->text and text->image recall@K (hit rate) and their mean, in percent.

    Args:
        image_features: ``[N_img, D]`` image embeddings (L2-normalised by the caller, as in the
            official protocol).
        text_features: ``[N_txt, D]`` caption embeddings.
        caption_to_image: ``[N_txt]`` index of each caption's image.
        top_k: The K values.

    Returns:
        ``{'i2t_r1', 'i2t_r5', 'i2t_r10', 't2i_r1', ..., 'mean_recall'}``: scalar float tensors in
        percent (0..100); ``mean_recall`` is the mean of all the others, as in the paper.

    Raises:
        ValueError: If shapes disagree, a caption points at no image, an image has no caption,
            or an embedding holds NaN or inf.

    Example:
        >>> images = torch.eye(2)
        >>> texts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
        >>> out = retrieval_hit_rates(images, texts, [0, 1, 1], top_k=(1,))
        >>> round(float(out['t2i_r1']), 2), round(float(out['i2t_r1']), 2)
        (66.67, 100.0)
    """
    top_k = tuple(top_k)
    with _one_thread(text_features.device.type == 'cpu'):
        caption_to_image = torch.as_tensor(caption_to_image, dtype=torch.long).to(
            text_features.device
        )
        _check_inputs(image_features, text_features, caption_to_image)
    # the official score matrix, all threads; in the features' dtype also inside a bf16/fp16
    # autocast region (a callback under a mixed-precision trainer), where reduced-precision
    # scores would tie close candidates and change the recall
    with torch.autocast(text_features.device.type, enabled=False):
        scores = text_features @ image_features.T
    with _one_thread(scores.device.type == 'cpu'):
        t2i, i2t = _both_directions(scores, caption_to_image, top_k)
        ordered = {f'i2t_r{k}': hit.float().mean() * 100 for k, hit in zip(top_k, i2t, strict=True)}
        ordered.update(
            {f't2i_r{k}': hit.float().mean() * 100 for k, hit in zip(top_k, t2i, strict=True)}
        )
        ordered['mean_recall'] = torch.stack(list(ordered.values())).mean()
    return ordered
