"""Cross-modal retrieval recall@K as the official RemoteCLIP script computes it.

The official ``retrieval.py`` builds ``scores = text_features @ image_features.T`` and calls
``clip_benchmark``'s ``recall_at_k``: for each query, ``torch.topk(scores, k)`` picks K
candidates and the query is a hit when at least one of them is a positive. This is the
*hit rate* (torchmetrics ``RetrievalHitRate``), not the true recall of ``RetrievalRecall``.

Instead of a ``topk`` per query, the hit is decided by counting: with ``m`` the query's best
positive score, ``g`` the candidates scoring above ``m`` and ``e`` those scoring exactly ``m``,
the query is a hit at K when ``g + e <= K`` and a miss when ``g >= K``, whatever ``topk``
does with ties. Only the queries left between (a tie across the K boundary) call
``torch.topk(scores[query], k)``, so ties are broken exactly as the official code breaks them
(``topk`` works row by row: a row's result does not depend on the other rows). Counting reads
the score matrix in its stored layout, which saves the image->text transpose.
"""

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['retrieval_hit_rates', 'retrieval_scores']

# Rows of the score matrix compared per step: the comparison masks stay in the L2 cache.
_ROW_BLOCK = 512


def _onednn_applies(image_features: Tensor, text_features: Tensor) -> bool:
    """Whether the scores can come from oneDNN at full float32 precision."""
    mkldnn = torch.backends.mkldnn
    if not (mkldnn.is_available() and mkldnn.enabled):
        return False
    # a user may have allowed reduced precision (bf16/tf32) for oneDNN float32 convolutions
    precisions = {
        getattr(mkldnn, 'fp32_precision', 'none'),
        getattr(getattr(mkldnn, 'conv', None), 'fp32_precision', 'none'),
    }
    return (
        precisions <= {'none', 'ieee'}
        and all(
            t.device.type == 'cpu' and t.dtype == torch.float32
            for t in (image_features, text_features)
        )
        and image_features.ndim == text_features.ndim == 2
        and min(*image_features.shape, *text_features.shape) > 0
    )


def retrieval_scores(image_features: Tensor, text_features: Tensor) -> Tensor:
    """Score matrix of the official protocol: ``text_features @ image_features.T``.

    On CPU in float32 the product runs as a 1x1 oneDNN convolution (exact float32, no reduced
    precision): PyTorch sends ``@`` to MKL's sgemm, which is 1.7x slower on AMD CPUs
    (``benchmarks/evaluation.py``). The values equal ``@``'s up to float rounding (a few ulp).

    Args:
        image_features: ``[N_img, D]`` L2-normalised image embeddings.
        text_features: ``[N_txt, D]`` L2-normalised text embeddings.

    Returns:
        ``[N_txt, N_img]`` dot-product similarities, contiguous, in the features' dtype (also
        inside an autocast region).
    """
    # Scores in the features' own dtype even inside a bf16/fp16 autocast region (a callback
    # under a mixed-precision trainer): reduced-precision scores create ties that change recall.
    with torch.autocast(image_features.device.type, enabled=False):
        if not _onednn_applies(image_features, text_features):
            return text_features @ image_features.T
        # texts as one channels-last image of N_txt pixels with D channels, images as N_img
        # 1x1 filters: the output's channels-last layout is [N_txt, N_img] row-major
        pixels = text_features[None, None].permute(0, 3, 1, 2)
        filters = image_features[:, :, None, None].contiguous(memory_format=torch.channels_last)
        return F.conv2d(pixels, filters)[0].permute(1, 2, 0)[0].contiguous()


def _count_against(scores: Tensor, thresholds: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Per query, how many candidates score above and exactly at the query's threshold.

    Args:
        scores: ``[N_txt, N_img]`` scores.
        thresholds: One score per query: ``[N_txt]`` when ``dim=1`` (text queries), ``[N_img]``
            when ``dim=0`` (image queries).
        dim: The candidate dimension of ``scores``.

    Returns:
        ``(greater, equal)`` int32 counts per query.
    """
    # masks written into one reused float block and summed as float: 3x faster here than
    # summing fresh bool masks; exact while a sum (at most max(N_img, _ROW_BLOCK)) is < 2**24
    exact_dtype = torch.float32 if scores.shape[1] < 2**24 else torch.float64
    mask = scores.new_empty(min(_ROW_BLOCK, len(scores)), scores.shape[1], dtype=exact_dtype)
    greater, equal = [], []
    for start in range(0, scores.shape[0], _ROW_BLOCK):
        block = scores[start : start + _ROW_BLOCK]
        bound = thresholds[start : start + _ROW_BLOCK, None] if dim == 1 else thresholds[None]
        out = mask[: len(block)]
        greater.append(torch.gt(block, bound, out=out).sum(dim).int())
        equal.append(torch.eq(block, bound, out=out).sum(dim).int())
    if dim == 1:
        return torch.cat(greater), torch.cat(equal)
    return torch.stack(greater).sum(0, dtype=torch.int32), torch.stack(equal).sum(
        0, dtype=torch.int32
    )


def _hits_per_k(
    greater: Tensor,
    equal: Tensor,
    top_k: tuple[int, ...],
    exact_hits: Callable[[Tensor, int], Tensor],
) -> dict[int, Tensor]:
    """Per-query hit flags for each K, equal to one ``torch.topk(scores, k)`` call per K.

    Args:
        greater: ``[Q]`` candidates scoring above the query's best positive.
        equal: ``[Q]`` candidates scoring exactly the best positive's score (at least 1).
        top_k: The K values.
        exact_hits: ``(query indices [R], k) -> bool [R]`` by ``torch.topk``, for the queries
            whose best positive ties across the K boundary.

    Returns:
        K -> boolean ``[Q]``.
    """
    hits: dict[int, Tensor] = {}
    for k in top_k:
        hit = greater + equal <= k
        undecided = ((greater < k) & ~hit).nonzero().flatten()
        if len(undecided):
            hit[undecided] = exact_hits(undecided, k)
        hits[k] = hit
    return hits


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
    caption_to_image = torch.as_tensor(caption_to_image, dtype=torch.long).to(text_features.device)
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
    scores = retrieval_scores(image_features, text_features)
    # text->image: one positive per caption; image->text: the best of the image's captions
    positive_scores = scores[torch.arange(n_texts, device=scores.device), caption_to_image]
    best_positive = torch.full((n_images,), -torch.inf, dtype=scores.dtype, device=scores.device)
    best_positive.scatter_reduce_(0, caption_to_image, positive_scores, 'amax')

    def t2i_exact(queries: Tensor, k: int) -> Tensor:
        picked = torch.topk(scores[queries], min(k, n_images), dim=1).indices
        return (picked == caption_to_image[queries, None]).any(dim=1)

    def i2t_exact(queries: Tensor, k: int) -> Tensor:
        picked = torch.topk(scores[:, queries].T, min(k, n_texts), dim=1).indices
        return (caption_to_image[picked] == queries[:, None]).any(dim=1)

    top_k = tuple(top_k)
    t2i = _hits_per_k(*_count_against(scores, positive_scores, dim=1), top_k, t2i_exact)
    i2t = _hits_per_k(*_count_against(scores, best_positive, dim=0), top_k, i2t_exact)
    ordered = {f'i2t_r{k}': i2t[k].float().mean() * 100 for k in top_k}
    ordered.update({f't2i_r{k}': t2i[k].float().mean() * 100 for k in top_k})
    ordered['mean_recall'] = torch.stack(list(ordered.values())).mean()
    return ordered
