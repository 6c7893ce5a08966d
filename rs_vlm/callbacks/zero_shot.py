"""Zero-shot scene classification at the end of validation epochs."""

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import Dataset

from rs_vlm.callbacks.base import EvaluationCallback
from rs_vlm.evaluation.zero_shot import build_zero_shot_classifier, zero_shot_accuracy
from rs_vlm.prompt_templates import check_templates

__all__ = ['ZeroShotCallback']


class ZeroShotCallback(EvaluationCallback):
    """Log zero-shot top-1 / top-5 accuracy (percent) on scene datasets.

    Per evaluated epoch and dataset the classifier is built from ``dataset.classes`` and
    ``dataset.templates`` (or ``templates``) in one batched text forward, as ITRA builds it
    (see :func:`rs_vlm.evaluation.build_zero_shot_classifier`); logits are
    ``100 * image @ classes.T``. Logged as ``val/<name>/top1``, ``val/<name>/top5``.

    Args:
        datasets: Name -> scene dataset (``{'image', 'label'}`` samples, ``classes``,
            ``templates``).
        templates: Override the templates of every dataset.
        top_k: Accuracies to log (capped at the number of classes).
        normalise_prompts: open_clip's classifier (normalise each prompt embedding before
            averaging) instead of ITRA's (average the raw embeddings), which the paper used.
        **kwargs: Options of :class:`~rs_vlm.callbacks.EvaluationCallback`.
    """

    def __init__(
        self,
        datasets: Mapping[str, Dataset],
        templates: Sequence[str] | None = None,
        top_k: Sequence[int] = (1, 5),
        normalise_prompts: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datasets = dict(datasets)
        self.templates = check_templates(templates) if templates is not None else None
        self.top_k = tuple(top_k)
        self.normalise_prompts = normalise_prompts
        for name, dataset in self.datasets.items():
            if not getattr(dataset, 'classes', None):
                raise TypeError(f'scene dataset {name!r} has no non-empty classes attribute')
            if self.templates is None and not getattr(dataset, 'templates', None):
                raise TypeError(f'scene dataset {name!r} has no templates; pass templates=')

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Build each dataset's classifier, classify its images and log the accuracies."""
        encoder = self.encoder(trainer, pl_module)
        for name, dataset in self.datasets.items():
            classifier = build_zero_shot_classifier(
                partial(encoder.texts, normalize=False, shard=False),
                list(dataset.classes),  # type: ignore[attr-defined]
                self.templates or list(dataset.templates),  # type: ignore[attr-defined]
                normalise_prompts=self.normalise_prompts,
            )
            images = encoder.images(dataset)
            if images.labels is None:
                raise ValueError(f'zero-shot dataset {name!r}: samples have no label')
            result = zero_shot_accuracy(
                images.features, images.labels, classifier, self.top_k, name=name
            )
            self.log_metrics(pl_module, name, result.accuracies)
