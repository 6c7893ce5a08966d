"""An independent implementation of the official retrieval protocol, for tests."""

import torch


def official_recall_at_k(scores, positive_pairs, k):
    """clip_benchmark's recall_at_k: torch.topk per K, count positives among the K.

    clip_benchmark sums a one-hot of the top-K indices times the positive mask; gathering the
    mask at those indices counts the same positives without the [Q, K, C] one-hot.
    """
    topk_indices = torch.topk(scores, k, dim=1)[1]
    nb_positive = positive_pairs.sum(dim=1)
    true_positive = positive_pairs.gather(1, topk_indices).sum(dim=1)
    return true_positive / nb_positive


def official_protocol(images, texts, caption_to_image, chunk=64):
    """The official script: scores = texts @ images.T, recall_at_k per query, hit if > 0."""
    scores = texts @ images.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_to_image] = True
    out = {}
    for name, s, p in (('t2i', scores, positive), ('i2t', scores.T, positive.T)):
        for k in (1, 5, 10):
            hits = torch.cat(
                [
                    official_recall_at_k(s[i : i + chunk], p[i : i + chunk], k) > 0
                    for i in range(0, len(s), chunk)
                ]
            )
            out[f'{name}_r{k}'] = hits.float().mean().item() * 100
    return out
