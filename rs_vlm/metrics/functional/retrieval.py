"""Cross-modal retrieval recall@K as the official RemoteCLIP script computes it.

The official ``retrieval.py`` builds ``scores = text_features @ image_features.T`` and calls
``clip_benchmark``'s ``recall_at_k``: for each query, ``torch.topk(scores, k)`` picks K
candidates and the query is a hit when at least one of them is a positive. This is the
*hit rate* (torchmetrics ``RetrievalHitRate``), not the true recall of ``RetrievalRecall``.

Ties are broken exactly as the official code breaks them: by ``torch.topk`` on the same score
matrix (text x image for text->image, its transpose for image->text), one ``topk`` call per K.
"""

from collections.abc import Sequence

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
    scores_i2t = scores.T
    image_ids = torch.arange(n_images, device=scores.device)
    results: dict[str, Tensor] = {}
    for k in top_k:
        # torch.topk per K (not one topk sliced): with ties, topk(k=1) and topk(k=10)[:, :1]
        # may pick different items, and the official code calls topk once per K.
        top_texts = torch.topk(scores_i2t, min(k, n_texts), dim=1).indices
        i2t_hits = (caption_to_image[top_texts] == image_ids[:, None]).any(dim=1)
        top_images = torch.topk(scores, min(k, n_images), dim=1).indices
        t2i_hits = (top_images == caption_to_image[:, None]).any(dim=1)
        results[f'i2t_r{k}'] = i2t_hits.float().mean() * 100
        results[f't2i_r{k}'] = t2i_hits.float().mean() * 100
    ordered = {f'i2t_r{k}': results[f'i2t_r{k}'] for k in top_k}
    ordered.update({f't2i_r{k}': results[f't2i_r{k}'] for k in top_k})
    ordered['mean_recall'] = torch.stack(list(ordered.values())).mean()
    return ordered
