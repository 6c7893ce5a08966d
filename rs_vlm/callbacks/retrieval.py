"""Cross-modal retrieval (RSITMD / RSICD / UCM protocol) at the end of validation epochs."""

from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import Dataset

from rs_vlm.callbacks.base import EvaluationCallback
from rs_vlm.metrics.functional.retrieval import retrieval_hit_rates

__all__ = ['RetrievalCallback']


class RetrievalCallback(EvaluationCallback):
    """Log image->text / text->image recall@1/5/10 and mean recall for retrieval test sets.

    Each dataset follows the retrieval contract of :mod:`rs_vlm.datasets`: ``captions`` (all
    captions), ``caption_to_image`` (each caption's image index) and ``__getitem__(i)`` ->
    ``{'image': [3, H, W] 0..255, ...}``. Logged as ``val/<name>/i2t_r1`` ...
    ``val/<name>/mean_recall`` (percent), with the official protocol's tie breaking (see
    :func:`rs_vlm.metrics.retrieval_hit_rates`).

    Args:
        datasets: Name -> retrieval dataset (the name goes into the logged keys).
        top_k: The K values.
        **kwargs: Options of :class:`~rs_vlm.callbacks.EvaluationCallback`.
    """

    def __init__(
        self,
        datasets: Mapping[str, Dataset],
        top_k: Sequence[int] = (1, 5, 10),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datasets = dict(datasets)
        self.top_k = tuple(top_k)
        for name, dataset in self.datasets.items():
            for attribute in ('captions', 'caption_to_image'):
                if not hasattr(dataset, attribute):
                    raise TypeError(f'retrieval dataset {name!r} has no {attribute!r} attribute')

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode images and captions of every dataset and log its seven numbers."""
        encoder = self.encoder(trainer, pl_module)
        for name, dataset in self.datasets.items():
            images = encoder.images(dataset).features
            texts = encoder.texts(list(dataset.captions))  # type: ignore[attr-defined]
            recalls = retrieval_hit_rates(
                images,
                texts,
                dataset.caption_to_image,
                self.top_k,  # type: ignore[attr-defined]
            )
            self.log_metrics(pl_module, name, recalls)
