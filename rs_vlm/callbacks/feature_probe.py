"""k-NN, linear-probe and few-shot accuracy on frozen image features every N epochs."""

from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import Dataset

from rs_vlm.callbacks.base import EvaluationCallback
from rs_vlm.evaluation.linear_probe import DEFAULT_SEARCH
from rs_vlm.evaluation.probes import PROBES, ProbeSettings, run_probes

__all__ = ['FeatureProbeCallback']


class FeatureProbeCallback(EvaluationCallback):
    """Log k-NN, linear-probe and few-shot top-1 accuracy (percent) on scene datasets.

    For each name in ``train_datasets`` (with the same name in ``test_datasets``) the image
    features of both splits are encoded (sharded over ranks, then gathered, so every rank runs
    the same probes on the same features) and :func:`rs_vlm.evaluation.run_probes` runs on
    them. Logged as ``val/<name>/knn_top1``, ``val/<name>/linear_top1``,
    ``val/<name>/few_shot_<k>_top1``; a k larger than some class's number of training images
    is not evaluable and not logged (a warning says why). Probes cost far more than a
    validation epoch: set ``every_n_epochs`` accordingly.

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
        **kwargs: Options of :class:`~rs_vlm.callbacks.EvaluationCallback`.
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
        self.settings = ProbeSettings(
            knn_k=knn_k,
            knn_temperature=knn_temperature,
            linear_epochs=linear_epochs,
            linear_search=[(float(lr), float(wd)) for lr, wd in linear_search],
            few_shot_shots=tuple(few_shot_shots),
            few_shot_seeds=tuple(few_shot_seeds),
        )

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode both splits of every dataset and log the probes' accuracies."""
        encoder = self.encoder(trainer, pl_module)
        for name, train_dataset in self.train_datasets.items():
            train = encoder.images(train_dataset, normalize=False)
            test = encoder.images(self.test_datasets[name], normalize=False)
            if train.labels is None or test.labels is None:
                raise ValueError(f'feature-probe dataset {name!r}: samples have no label')
            results = run_probes(
                train.features, train.labels, test.features, test.labels, self.probes,
                self.settings, getattr(train_dataset, 'classes', None),
            )  # fmt: skip
            values: dict[str, float] = {}
            if results.knn is not None:
                values['knn_top1'] = results.knn
            if results.linear is not None:
                values['linear_top1'] = results.linear.accuracy
            for few_shot in results.few_shot:
                if few_shot.mean is None:
                    rank_zero_warn(f'{name}: {few_shot.not_evaluable}')
                else:
                    values[f'few_shot_{few_shot.shots}_top1'] = few_shot.mean
            self.log_metrics(pl_module, name, values)
