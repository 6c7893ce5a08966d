"""Weighted k-nearest-neighbour classification on frozen features (DINO / RemoteCLIP style)."""

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['knn_accuracy', 'knn_predict']


def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> Tensor:
    """Class scores of a temperature-weighted cosine k-NN vote.

    Each test feature takes its ``k`` most cosine-similar training features; neighbour ``j``
    votes for its class with weight ``exp(sim_j / temperature)`` (the vote of DINO's and
    RemoteCLIP's ``linear_eval.py``). Written out because neither torchmetrics nor scikit-learn
    (not a dependency) offers this exponential weighting.

    Args:
        train_features: ``[N, D]`` training features (normalised here).
        train_labels: ``[N]`` class ids.
        test_features: ``[M, D]`` test features (normalised here).
        num_classes: Number of classes.
        k: Neighbours (20 in the paper; capped at N).
        temperature: Vote temperature (0.07 in the paper).
        chunk_size: Test rows per similarity block (memory bound only).

    Returns:
        ``[M, num_classes]`` summed vote weights; ``argmax`` is the prediction.
    """
    train = F.normalize(train_features.float(), dim=-1)
    test = F.normalize(test_features.float(), dim=-1)
    labels = train_labels.long().to(train.device)
    k = min(k, len(train))
    votes = []
    for block in test.split(chunk_size):
        similarity, neighbours = (block @ train.T).topk(k, dim=1)
        weights = (similarity / temperature).exp()
        block_votes = torch.zeros(len(block), num_classes, device=train.device)
        block_votes.scatter_add_(1, labels[neighbours], weights)
        votes.append(block_votes)
    return torch.cat(votes) if votes else torch.zeros(0, num_classes)


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
) -> float:
    """Top-1 accuracy in percent of :func:`knn_predict`.

    Args:
        train_features: ``[N, D]`` training features.
        train_labels: ``[N]`` class ids.
        test_features: ``[M, D]`` test features.
        test_labels: ``[M]`` class ids.
        num_classes: Number of classes.
        k: Neighbours.
        temperature: Vote temperature.

    Returns:
        Accuracy in 0..100.
    """
    votes = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature)
    return float((votes.argmax(1) == test_labels.to(votes.device)).float().mean() * 100)
