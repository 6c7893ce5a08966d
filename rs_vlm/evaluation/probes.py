"""k-NN, linear-probe and few-shot accuracy of one dataset's frozen image features.

The probes themselves live in :mod:`rs_vlm.evaluation.knn` and
:mod:`rs_vlm.evaluation.linear_probe`; :func:`run_probes` runs the selected ones with one set
of :class:`ProbeSettings`, for the :class:`~rs_vlm.callbacks.FeatureProbeCallback` and the
offline runner alike.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import Tensor

from rs_vlm.evaluation.knn import knn_accuracy
from rs_vlm.evaluation.linear_probe import (
    DEFAULT_SEARCH,
    FewShotResult,
    LinearProbeResult,
    few_shot_accuracy,
    linear_probe_accuracy,
)

__all__ = ['PROBES', 'ProbeResults', 'ProbeSettings', 'run_probes']

#: Probe names :func:`run_probes` accepts.
PROBES = ('knn', 'linear', 'few-shot')


@dataclass
class ProbeSettings:
    """Protocol settings of the probes (defaults: the paper's).

    Attributes:
        knn_k: Neighbours (paper: 20).
        knn_temperature: Vote temperature (paper: 0.07).
        linear_epochs: Full-batch epochs of the logistic regression (paper: 1000).
        linear_search: ``(lr, weight_decay)`` candidates chosen on a validation split of train;
            few-shot uses the first.
        few_shot_shots: Shots per class.
        few_shot_seeds: Sampling seeds averaged over.
    """

    knn_k: int = 20
    knn_temperature: float = 0.07
    linear_epochs: int = 1000
    linear_search: Sequence[tuple[float, float]] = DEFAULT_SEARCH
    few_shot_shots: Sequence[int] = (1, 4, 8, 16, 32)
    few_shot_seeds: Sequence[int] = (0, 1, 2, 3, 4)


@dataclass
class ProbeResults:
    """What :func:`run_probes` measured (None / empty for probes not run).

    Attributes:
        knn: k-NN top-1 accuracy in percent.
        linear: The linear probe's result.
        few_shot: One result per number of shots (some possibly not evaluable).
    """

    knn: float | None = None
    linear: LinearProbeResult | None = None
    few_shot: list[FewShotResult] = field(default_factory=list)


def run_probes(
    train: Tensor,
    train_labels: Tensor,
    test: Tensor,
    test_labels: Tensor,
    probes: Sequence[str] = PROBES,
    settings: ProbeSettings | None = None,
    classes: Sequence[str] | None = None,
) -> ProbeResults:
    """Run the selected probes on frozen features.

    Args:
        train: ``[N, D]`` training features (raw ``encode_image`` output).
        train_labels: ``[N]`` class ids.
        test: ``[M, D]`` test features.
        test_labels: ``[M]`` class ids.
        probes: Any of ``'knn'``, ``'linear'``, ``'few-shot'``.
        settings: Protocol settings.
        classes: Class names (their number is the number of classes; default: the largest
            label + 1).

    Returns:
        The accuracies.

    Raises:
        ValueError: An unknown probe name.
    """
    unknown = set(probes) - set(PROBES)
    if unknown:
        raise ValueError(f'unknown probes {sorted(unknown)}; choose from {PROBES}')
    settings = settings or ProbeSettings()
    num_classes = len(classes) if classes else int(max(train_labels.max(), test_labels.max())) + 1
    results = ProbeResults()
    if 'knn' in probes:
        results.knn = knn_accuracy(
            train, train_labels, test, test_labels, num_classes, settings.knn_k,
            settings.knn_temperature,
        )  # fmt: skip
    search = [tuple(pair) for pair in settings.linear_search]
    if 'linear' in probes:
        results.linear = linear_probe_accuracy(
            train, train_labels, test, test_labels, num_classes, search,
            epochs=settings.linear_epochs,
        )  # fmt: skip
    if 'few-shot' in probes:
        lr, weight_decay = search[0]
        results.few_shot = few_shot_accuracy(
            train, train_labels, test, test_labels, num_classes, settings.few_shot_shots,
            settings.few_shot_seeds, lr, weight_decay, settings.linear_epochs,
            class_names=classes,
        )  # fmt: skip
    return results
