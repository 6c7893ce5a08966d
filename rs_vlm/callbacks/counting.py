"""RemoteCount object counting at the end of validation epochs."""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import Dataset

from rs_vlm.callbacks.base import EvaluationCallback
from rs_vlm.evaluation.counting import dataset_captions, score_counting

__all__ = ['CountingCallback']


class CountingCallback(EvaluationCallback):
    """Log RemoteCount top-1..top-10 counting accuracy (percent).

    Samples are ``{'image', 'caption', 'label'}`` with ``label`` the count 1..10; the caption's
    number is replaced by one..ten (``style='word'``) or 1..10 (``'digit'``) and the count whose
    caption is most similar to the image is the prediction (see
    :func:`rs_vlm.evaluation.score_counting`). Logged as ``val/<name>/top1`` ...
    ``val/<name>/top10`` and ``val/<name>/skipped`` (captions without a number).

    Args:
        dataset: The RemoteCount dataset.
        name: Name in the logged keys.
        style: ``'word'`` or ``'digit'``.
        **kwargs: Options of :class:`~rs_vlm.callbacks.EvaluationCallback`.
    """

    def __init__(
        self,
        dataset: Dataset,
        name: str = 'remotecount',
        style: str = 'word',
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if style not in ('word', 'digit'):
            raise ValueError(f"style must be 'word' or 'digit', got {style!r}")
        self.dataset = dataset
        self.name = name
        self.style = style

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode images and caption variants, score and log."""
        encoder = self.encoder(trainer, pl_module)
        images = encoder.images(self.dataset)
        if images.labels is None:
            raise ValueError(f'counting dataset {self.name!r}: samples have no label (count)')
        report = score_counting(
            images.features,
            dataset_captions(self.dataset),
            images.labels.cpu(),
            encoder.texts,
            style=self.style,
        )
        values = {f'top{k + 1}': acc for k, acc in enumerate(report.topk)}
        values['skipped'] = float(len(report.skipped))
        self.log_metrics(pl_module, self.name, values)
