"""k-NN, linear-probe and few-shot accuracy on frozen image features every N epochs."""

from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import Dataset

from rs_vlm.callbacks.encoding import EvaluationCallback
from rs_vlm.evaluation.knn import knn_accuracy
from rs_vlm.evaluation.linear_probe import (
    DEFAULT_SEARCH,
    few_shot_accuracy,
    linear_probe_accuracy,
)

__all__ = ['PROBES', 'FeatureProbeCallback']

#: Probe names accepted by ``probes``.
PROBES = ('knn', 'linear', 'few-shot')


class FeatureProbeCallback(EvaluationCallback):
    """Log k-NN, linear-probe and few-shot top-1 accuracy (percent) on scene datasets.

    For each name in ``train_datasets`` (with the same name in ``test_datasets``) the image
    features of both splits are encoded (sharded over ranks, then gathered, so every rank runs
    the same probes on the same features), and the probes of
    :mod:`rs_vlm.evaluation.knn` / :mod:`rs_vlm.evaluation.linear_probe` run on them.
    Logged as ``val/<name>/knn_top1``, ``val/<name>/linear_top1``,
    ``val/<name>/few_shot_<k>_top1``. Probes cost far more than a validation epoch: set
    ``every_n_epochs`` accordingly.

    Args:
        train_datasets: Name -> training split (``{'image', 'label'}`` samples).
        test_datasets: Name -> test split.
        probes: Any of ``'knn'``, ``'linear'``, ``'few-shot'``.
        every_n_epochs: Run every N epochs (default 5).
        knn_k: Neighbours (paper: 20).
        knn_temperature: Vote temperature (paper: 0.07).
        linear_epochs: Full-batch epochs of the logistic regression (paper: 1000).
        linear_search: ``(lr, weight_decay)`` candidates chosen on a validation split of train.
        few_shot_shots: Shots per class.
        few_shot_seeds: Sampling seeds averaged over.
        **kwargs: Options of :class:`~rs_vlm.callbacks.encoding.EvaluationCallback`.
    """

    def __init__(
        self,
        train_datasets: Mapping[str, Dataset],
        test_datasets: Mapping[str, Dataset],
        probes: Sequence[str] = PROBES,
        every_n_epochs: int = 5,
        knn_k: int = 20,
        knn_temperature: float = 0.07,
        linear_epochs: int = 1000,
        linear_search: Sequence[tuple[float, float]] = DEFAULT_SEARCH,
        few_shot_shots: Sequence[int] = (1, 4, 8, 16, 32),
        few_shot_seeds: Sequence[int] = (0, 1, 2),
        **kwargs: Any,
    ) -> None:
        super().__init__(every_n_epochs=every_n_epochs, **kwargs)
        unknown = set(probes) - set(PROBES)
        if unknown:
            raise ValueError(f'unknown probes {sorted(unknown)}; choose from {PROBES}')
        if set(train_datasets) != set(test_datasets):
            raise ValueError(
                'train_datasets and test_datasets need the same names, got '
                f'{sorted(train_datasets)} and {sorted(test_datasets)}'
            )
        self.train_datasets = dict(train_datasets)
        self.test_datasets = dict(test_datasets)
        self.probes = tuple(probes)
        self.knn_k = knn_k
        self.knn_temperature = knn_temperature
        self.linear_epochs = linear_epochs
        self.linear_search = [tuple(pair) for pair in linear_search]
        self.few_shot_shots = tuple(few_shot_shots)
        self.few_shot_seeds = tuple(few_shot_seeds)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode both splits of every dataset and log the probes' accuracies."""
        for name in self.train_datasets:
            self.log_metrics(pl_module, name, self.compute(trainer, pl_module, name))

    def compute(self, trainer: Trainer, pl_module: LightningModule, name: str) -> dict[str, float]:
        """Probe accuracies of one dataset."""
        train, train_labels = self.encode_dataset_images(
            trainer, pl_module, self.train_datasets[name], normalize=False
        )
        test, test_labels = self.encode_dataset_images(
            trainer, pl_module, self.test_datasets[name], normalize=False
        )
        if train_labels is None or test_labels is None:
            raise ValueError(f'feature-probe dataset {name!r}: samples have no label')
        classes = getattr(self.train_datasets[name], 'classes', None)
        num_classes = (
            len(classes) if classes else int(max(train_labels.max(), test_labels.max())) + 1
        )
        results: dict[str, float] = {}
        if 'knn' in self.probes:
            results['knn_top1'] = knn_accuracy(
                train, train_labels, test, test_labels, num_classes, self.knn_k,
                self.knn_temperature,
            )  # fmt: skip
        if 'linear' in self.probes:
            results['linear_top1'] = linear_probe_accuracy(
                train, train_labels, test, test_labels, num_classes, self.linear_search,
                epochs=self.linear_epochs,
            ).accuracy  # fmt: skip
        if 'few-shot' in self.probes:
            lr, weight_decay = self.linear_search[0]
            for result in few_shot_accuracy(
                train, train_labels, test, test_labels, num_classes, self.few_shot_shots,
                self.few_shot_seeds, lr, weight_decay, self.linear_epochs,
            ):  # fmt: skip
                results[f'few_shot_{result.shots}_top1'] = result.mean
        return results
