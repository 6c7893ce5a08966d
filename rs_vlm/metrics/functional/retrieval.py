"""Cross-modal retrieval recall@K as the official RemoteCLIP script computes it.

The official ``retrieval.py`` builds ``scores = text_features @ image_features.T`` and calls
``clip_benchmark``'s ``recall_at_k``: for each query, ``torch.topk(scores, k)`` picks K
candidates and the query is a hit when at least one of them is a positive. This is the
*hit rate* (torchmetrics ``RetrievalHitRate``), not the true recall of ``RetrievalRecall``.

Ties are broken exactly as the official code breaks them: by ``torch.topk`` on the same score
matrix (text x image for text->image, its transpose for image->text), one ``topk`` call per K.
For speed one ``topk`` serves all K and only rows with a tie across a K boundary call
``torch.topk(scores[row], k)`` again (see :func:`_hits_per_k`); ``torch.topk`` works row by
row, so this equals the official per-K, batched calls.
"""

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ['retrieval_hit_rates', 'retrieval_scores']


def retrieval_scores(image_features: Tensor, text_features: Tensor) -> Tensor:
    """Score matrix of the official protocol: ``text_features @ image_features.T``.

    Args:
        image_features: ``[N_img, D]`` L2-normalised image embeddings.
        text_features: ``[N_txt, D]`` L2-normalised text embeddings.

    Returns:
        ``[N_txt, N_img]`` dot-product similarities.
    """
    return text_features @ image_features.T


def _hits_per_k(
    scores: Tensor, top_k: tuple[int, ...], is_positive: Callable[[Tensor, Tensor], Tensor]
) -> dict[int, Tensor]:
    """Per-query hit flags for each K, equal to one ``torch.topk(scores, k)`` call per K.

    One ``topk`` with the largest K (+1) serves every K: the top-K *set* is fixed unless the
    K-th and (K+1)-th scores tie. Only the rows with such a tie at a K are recomputed with
    ``torch.topk(scores[rows], k)``, i.e. exactly as the official code breaks that tie.

    Args:
        scores: ``[Q, C]`` query x candidate scores.
        top_k: The K values.
        is_positive: ``(row indices [R], candidate indices [R, k]) -> bool [R, k]``.

    Returns:
        K -> boolean ``[Q]``.
    """
    n_queries, n_candidates = scores.shape
    rows = torch.arange(n_queries, device=scores.device)
    widest = min(max(top_k) + 1, n_candidates)
    values, indices = torch.topk(scores, widest, dim=1)
    positive = is_positive(rows, indices)
    hits: dict[int, Tensor] = {}
    for k in top_k:
        kept = min(k, n_candidates)
        hit = positive[:, :kept].any(dim=1)
        if kept < widest:
            tied = (values[:, kept - 1] == values[:, kept]).nonzero().flatten()
            if len(tied):
                exact = torch.topk(scores[tied], kept, dim=1).indices
                hit[tied] = is_positive(tied, exact).any(dim=1)
        hits[k] = hit
    return hits


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
        ValueError: If shapes disagree, a caption points at no image, or an image has no caption.

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
    if torch.bincount(caption_to_image, minlength=n_images).eq(0).any():
        missing = int(torch.bincount(caption_to_image, minlength=n_images).eq(0).nonzero()[0])
        raise ValueError(f'image {missing} has no caption: every image needs at least one')
    scores = retrieval_scores(image_features, text_features)
    image_ids = torch.arange(n_images, device=scores.device)
    top_k = tuple(top_k)
    i2t = _hits_per_k(
        scores.T.contiguous(),
        top_k,
        lambda rows, idx: caption_to_image[idx] == image_ids[rows, None],
    )
    t2i = _hits_per_k(scores, top_k, lambda rows, idx: idx == caption_to_image[rows, None])
    results: dict[str, Tensor] = {}
    for k in top_k:
        results[f'i2t_r{k}'] = i2t[k].float().mean() * 100
        results[f't2i_r{k}'] = t2i[k].float().mean() * 100
    ordered = {f'i2t_r{k}': results[f'i2t_r{k}'] for k in top_k}
    ordered.update({f't2i_r{k}': results[f't2i_r{k}'] for k in top_k})
    ordered['mean_recall'] = torch.stack(list(ordered.values())).mean()
    return ordered
