"""Logistic-regression probes on frozen features: linear probe and few-shot.

Protocol of the paper (section IV-B4/5): one linear layer, cross-entropy, SGD (momentum 0.9),
lr 0.8, weight decay 4e-5, cosine schedule, 1000 epochs, full batch (the paper's batch of
10,000 covers every split of its datasets). The original code picked the best epoch and the
random-search trial by **test** accuracy. Here hyper-parameters (lr, weight decay) are chosen on
a validation split carved, class-stratified, from the training features; the chosen setting is
then retrained on the whole training split and evaluated once on test, after the last epoch.
Few-shot sampling draws exactly ``shots`` examples of every class (the original sampler drew
from a cumulative list and was not class-balanced).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    'FewShotResult',
    'LinearProbeResult',
    'few_shot_accuracy',
    'linear_probe_accuracy',
    'sample_few_shot',
    'stratified_split',
    'train_logistic_regression',
]

#: (lr, weight decay) pairs tried by default: the paper's setting and two neighbours.
DEFAULT_SEARCH: tuple[tuple[float, float], ...] = ((0.8, 4e-5), (0.1, 4e-5), (0.8, 1e-3))


@dataclass
class LinearProbeResult:
    """Outcome of :func:`linear_probe_accuracy`.

    Attributes:
        accuracy: Test top-1 accuracy in percent, after the last epoch.
        lr: Chosen learning rate.
        weight_decay: Chosen weight decay.
        validation_accuracy: Accuracy of the chosen setting on the validation split.
    """

    accuracy: float
    lr: float
    weight_decay: float
    validation_accuracy: float


@dataclass
class FewShotResult:
    """Few-shot accuracy over seeds for one number of shots.

    When some class has fewer training images than ``shots``, the setting is not evaluable:
    ``mean`` and ``std`` are None, ``accuracies`` is empty and ``not_evaluable`` says why
    (a k-shot number trained on fewer than k images of a class would be mislabelled).

    Attributes:
        shots: Examples per class.
        mean: Mean test accuracy in percent, or None when not evaluable.
        std: Standard deviation over seeds, or None when not evaluable.
        accuracies: One accuracy per seed.
        not_evaluable: The reason when the setting could not be evaluated, else None.
    """

    shots: int
    mean: float | None
    std: float | None
    accuracies: list[float]
    not_evaluable: str | None = None


def train_logistic_regression(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    lr: float = 0.8,
    weight_decay: float = 4e-5,
    epochs: int = 1000,
    seed: int = 0,
) -> nn.Linear:
    """Fit one linear layer with full-batch SGD + cosine schedule on frozen features.

    torch instead of scikit-learn's LogisticRegression: it follows the paper's optimiser
    exactly and runs on the GPU the features already live on.

    Args:
        features: ``[N, D]`` training features.
        labels: ``[N]`` class ids.
        num_classes: Number of classes.
        lr: SGD learning rate.
        weight_decay: L2 weight decay.
        epochs: Full-batch steps.
        seed: Seeds the N(0, 0.01) weight initialisation.

    Returns:
        The trained classifier (in eval mode).
    """
    # Lightning runs validation under inference mode; the probe needs autograd regardless.
    with torch.inference_mode(False), torch.enable_grad():
        features = features.float().clone()
        labels = labels.long().to(features.device).clone()
        gen = torch.Generator().manual_seed(seed)
        classifier = nn.Linear(features.shape[1], num_classes).to(features.device)
        with torch.no_grad():
            classifier.weight.copy_(torch.randn(classifier.weight.shape, generator=gen) * 0.01)
            classifier.bias.zero_()
        optimizer = torch.optim.SGD(
            classifier.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
        for _ in range(epochs):
            optimizer.zero_grad()
            F.cross_entropy(classifier(features), labels).backward()
            optimizer.step()
            scheduler.step()
    return classifier.eval()


def _accuracy(classifier: nn.Module, features: Tensor, labels: Tensor) -> float:
    with torch.no_grad():
        predictions = classifier(features.float()).argmax(1)
    return float((predictions == labels.to(predictions.device)).float().mean() * 100)


def stratified_split(labels: Tensor, fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Split indices per class into (fit, validation); each class keeps >= 1 fitting example.

    Args:
        labels: ``[N]`` class ids.
        fraction: Share of each class moved to validation (rounded down, so a class with one
            example has none in validation).
        seed: Shuffling seed.

    Returns:
        ``(fit_indices, validation_indices)``.
    """
    gen = torch.Generator().manual_seed(seed)
    fit, validation = [], []
    for cls in labels.unique():
        members = (labels == cls).nonzero().flatten().cpu()
        members = members[torch.randperm(len(members), generator=gen)]
        n_val = min(int(len(members) * fraction), len(members) - 1)
        validation.append(members[:n_val])
        fit.append(members[n_val:])
    return torch.cat(fit).sort().values, torch.cat(validation).sort().values


def linear_probe_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    search: Sequence[tuple[float, float]] = DEFAULT_SEARCH,
    validation_fraction: float = 0.2,
    epochs: int = 1000,
    seed: int = 0,
) -> LinearProbeResult:
    """Linear probe with hyper-parameters chosen on a validation split carved from train.

    Args:
        train_features: ``[N, D]``.
        train_labels: ``[N]``.
        test_features: ``[M, D]``.
        test_labels: ``[M]``.
        num_classes: Number of classes.
        search: Candidate ``(lr, weight_decay)`` pairs; with a single pair no validation split
            is carved.
        validation_fraction: Per-class share of train held out for the choice.
        epochs: Full-batch epochs.
        seed: Seed of the split and the initialisation.

    Returns:
        The test accuracy of the chosen setting retrained on all of train.
    """
    search = list(search)
    best_lr, best_wd = search[0]
    best_val = float('nan')
    if len(search) > 1:
        fit, val = stratified_split(train_labels, validation_fraction, seed)
        if len(val):
            best_val = -1.0
            for lr, wd in search:
                classifier = train_logistic_regression(
                    train_features[fit], train_labels[fit], num_classes, lr, wd, epochs, seed
                )
                score = _accuracy(classifier, train_features[val], train_labels[val])
                if score > best_val:
                    best_lr, best_wd, best_val = lr, wd, score
    classifier = train_logistic_regression(
        train_features, train_labels, num_classes, best_lr, best_wd, epochs, seed
    )
    return LinearProbeResult(
        _accuracy(classifier, test_features, test_labels), best_lr, best_wd, best_val
    )


def sample_few_shot(labels: Tensor, shots: int, seed: int = 0) -> Tensor:
    """Indices of ``shots`` random examples of every class (all of a smaller class).

    Args:
        labels: ``[N]`` class ids of the pool.
        shots: Examples per class.
        seed: Sampling seed.

    Returns:
        Sorted indices into ``labels``.
    """
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for cls in labels.unique():
        members = (labels == cls).nonzero().flatten().cpu()
        chosen.append(members[torch.randperm(len(members), generator=gen)[:shots]])
    return torch.cat(chosen).sort().values


def few_shot_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    shots: Sequence[int] = (1, 4, 8, 16, 32),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    lr: float = 0.8,
    weight_decay: float = 4e-5,
    epochs: int = 1000,
    class_names: Sequence[str] | None = None,
) -> list[FewShotResult]:
    """Few-shot logistic regression, averaged over sampling seeds.

    Uses the paper's fixed lr / weight decay (a validation split cannot be carved from one
    example per class); nothing is selected on test.

    Args:
        train_features: ``[N, D]`` pool to sample the shots from.
        train_labels: ``[N]``.
        test_features: ``[M, D]``.
        test_labels: ``[M]``.
        num_classes: Number of classes.
        shots: Examples per class to try.
        seeds: Sampling (and initialisation) seeds; results are averaged over them.
        lr: SGD learning rate.
        weight_decay: Weight decay.
        epochs: Full-batch epochs.
        class_names: Names of the classes, for the not-evaluable reason.

    Returns:
        One :class:`FewShotResult` per entry of ``shots``; a ``shots`` larger than the smallest
        class's number of training images is reported as not evaluable, with the reason.
    """
    # classes the data holds (a class absent from both splits does not limit k)
    train_cpu, test_cpu = train_labels.long().cpu(), test_labels.long().cpu()
    present = torch.cat([train_cpu, test_cpu]).unique()
    per_class = torch.bincount(train_cpu, minlength=num_classes)[present]
    smallest = int(present[per_class.argmin()]) if len(present) else 0
    fewest = int(per_class.min()) if len(present) else 0
    label = repr(class_names[smallest]) if class_names else str(smallest)
    results = []
    for n_shots in shots:
        if len(present) and fewest < n_shots:
            reason = (
                f'{n_shots}-shot needs {n_shots} training images per class; class {label} '
                f'has {fewest}'
            )
            results.append(FewShotResult(n_shots, None, None, [], reason))
            continue
        accuracies = []
        for seed in seeds:
            chosen = sample_few_shot(train_labels, n_shots, seed).to(train_features.device)
            classifier = train_logistic_regression(
                train_features[chosen],
                train_labels[chosen],
                num_classes,
                lr,
                weight_decay,
                epochs,
                seed,
            )
            accuracies.append(_accuracy(classifier, test_features, test_labels))
        values = torch.tensor(accuracies)
        std = float(values.std()) if len(values) > 1 else 0.0
        results.append(FewShotResult(n_shots, float(values.mean()), std, accuracies))
    return results
