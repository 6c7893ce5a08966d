"""Zero-shot scene classification with template-ensemble class embeddings."""

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor
from torch.utils.data import Dataset
from torchmetrics.functional.classification import multiclass_accuracy

from rs_vlm.callbacks.encoding import EvaluationCallback

__all__ = ['ZeroShotCallback', 'build_zero_shot_classifier']


def build_zero_shot_classifier(
    encode_texts: Any, classes: Sequence[str], templates: Sequence[str]
) -> Tensor:
    """Class embeddings: mean over templates of the L2-normalised prompt embeddings, renormalised.

    This is open_clip's ``build_zero_shot_classifier`` (and RemoteCLIP's ``zero_shot.py``), but
    with a single ``encode_texts`` call for all prompts so a callback costs one text forward
    per dataset and epoch (open_clip's version loops over classes).

    Args:
        encode_texts: ``list[str] -> [N, D]`` L2-normalised embeddings.
        classes: Class names.
        templates: Prompt templates with a ``{}`` slot.

    Returns:
        ``[C, D]`` L2-normalised class embeddings.
    """
    prompts = [template.format(name) for name in classes for template in templates]
    features = encode_texts(prompts).float().view(len(classes), len(templates), -1)
    return F.normalize(F.normalize(features, dim=-1).mean(dim=1), dim=-1)


class ZeroShotCallback(EvaluationCallback):
    """Log zero-shot top-1 / top-5 accuracy (percent) on scene datasets.

    The classifier is built once per evaluated epoch and dataset, from ``dataset.classes`` and
    ``dataset.templates`` (or ``templates``), in one batched text forward; logits are
    ``100 * image @ classes.T`` and accuracies come from torchmetrics
    (``multiclass_accuracy(..., average='micro', top_k=k)``). Logged as ``val/<name>/top1``.

    Args:
        datasets: Name -> scene dataset (``{'image', 'label'}`` samples, ``classes``,
            ``templates``).
        templates: Override the templates of every dataset.
        top_k: Accuracies to log (capped at the number of classes).
        text_batch_size: Prompts per text forward (default: all at once).
        **kwargs: Options of :class:`~rs_vlm.callbacks.encoding.EvaluationCallback`.
    """

    def __init__(
        self,
        datasets: Mapping[str, Dataset],
        templates: Sequence[str] | None = None,
        top_k: Sequence[int] = (1, 5),
        text_batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datasets = dict(datasets)
        self.templates = list(templates) if templates is not None else None
        self.top_k = tuple(top_k)
        self.text_batch_size = text_batch_size
        #: Name -> (logits [N, C], labels [N]) of the latest evaluation, for plots and reports.
        self.last_outputs: dict[str, tuple[Tensor, Tensor]] = {}
        for name, dataset in self.datasets.items():
            if not getattr(dataset, 'classes', None):
                raise TypeError(f'scene dataset {name!r} has no non-empty classes attribute')
            if self.templates is None and not getattr(dataset, 'templates', None):
                raise TypeError(f'scene dataset {name!r} has no templates; pass templates=')

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Build each dataset's classifier, classify its images and log the accuracies."""
        for name, dataset in self.datasets.items():
            self.log_metrics(pl_module, name, self.compute(trainer, pl_module, name, dataset))

    def compute(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        name: str,
        dataset: Dataset,
    ) -> dict[str, float]:
        """Top-k accuracies of one dataset."""
        classes = list(dataset.classes)  # type: ignore[attr-defined]
        templates = self.templates or list(dataset.templates)  # type: ignore[attr-defined]
        classifier = build_zero_shot_classifier(
            lambda texts: self.encode_strings_locally(pl_module, texts, self.text_batch_size),
            classes,
            templates,
        )
        images, labels = self.encode_dataset_images(trainer, pl_module, dataset)
        if labels is None:
            raise ValueError(f'zero-shot dataset {name!r}: samples have no label')
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(
                f'zero-shot dataset {name!r}: label {int(labels.max())} does not fit its '
                f'{len(classes)} classes; the class list does not match the data'
            )
        # float32 logits also under a bf16/fp16 trainer: reduced precision ties close classes
        with torch.autocast(images.device.type, enabled=False):
            logits = 100.0 * images.float() @ classifier.float().T
        self.last_outputs[name] = (logits.detach().cpu(), labels.detach().cpu())
        return {
            f'top{k}': float(
                multiclass_accuracy(
                    logits, labels, len(classes), top_k=min(k, len(classes)), average='micro'
                )
                * 100
            )
            for k in self.top_k
        }
