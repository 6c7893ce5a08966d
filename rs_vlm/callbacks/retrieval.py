"""Cross-modal retrieval (RSITMD / RSICD / UCM protocol) at the end of validation epochs."""

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import Dataset

from rs_vlm.callbacks.encoding import EvaluationCallback
from rs_vlm.metrics import CrossModalRetrieval

__all__ = ['RetrievalCallback']


class RetrievalCallback(EvaluationCallback):
    """Log image->text / text->image recall@1/5/10 and mean recall for retrieval test sets.

    Each dataset follows the retrieval contract of :mod:`rs_vlm.datasets`: ``captions`` (all
    captions), ``caption_to_image`` (each caption's image index) and ``__getitem__(i)`` ->
    ``{'image': float CHW 0..255, 'index': i}``. Logged as ``val/<name>/i2t_r1`` ...
    ``val/<name>/mean_recall`` (percent), with the official protocol's tie breaking (see
    :func:`rs_vlm.metrics.retrieval_hit_rates`).

    Args:
        datasets: Name -> retrieval dataset (the name goes into the logged keys).
        top_k: The K values.
        **kwargs: Schedule / batching / preprocessing options of
            :class:`~rs_vlm.callbacks.encoding.EvaluationCallback`.
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
        #: Name -> (image features, caption features) of the latest evaluation, for examples.
        self.last_outputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for name, dataset in self.datasets.items():
            for attribute in ('captions', 'caption_to_image'):
                if not hasattr(dataset, attribute):
                    raise TypeError(f'retrieval dataset {name!r} has no {attribute!r} attribute')

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode every dataset and log its seven numbers."""
        for name, dataset in self.datasets.items():
            self.log_metrics(pl_module, name, self.compute(trainer, pl_module, dataset, name))

    def compute(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        dataset: Dataset,
        name: str = '',
    ) -> dict[str, float]:
        """Recall@K of one dataset (encodes images and captions)."""
        images, _ = self.encode_dataset_images(trainer, pl_module, dataset)
        captions = list(dataset.captions)  # type: ignore[attr-defined]
        texts = self.encode_strings(trainer, pl_module, captions)
        self.last_outputs[name] = (images.detach().cpu(), texts.detach().cpu())
        # Gathered features are identical on every rank: compute locally, no second sync.
        metric = CrossModalRetrieval(self.top_k, sync_on_compute=False).to(images.device)
        metric.update(image_features=images, image_ids=torch.arange(len(images)))
        metric.update(
            text_features=texts,
            text_image_ids=torch.as_tensor(dataset.caption_to_image),  # type: ignore[attr-defined]
            text_ids=torch.arange(len(texts)),
        )
        return {key: float(value) for key, value in metric.compute().items()}
