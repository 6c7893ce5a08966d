"""Print the final evaluation metrics beside their chance levels when training ends."""

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only

from rs_vlm.atomic import atomic_write
from rs_vlm.callbacks.counting import CountingCallback
from rs_vlm.callbacks.retrieval import RetrievalCallback
from rs_vlm.callbacks.zero_shot import ZeroShotCallback

__all__ = ['MetricsTableCallback', 'chance_metrics', 'retrieval_chance']

#: Counts scored by :class:`~rs_vlm.callbacks.CountingCallback` (RemoteCount: 1..10).
_NUM_COUNTS = 10


def retrieval_chance(
    caption_to_image: Sequence[int], top_k: Sequence[int] = (1, 5, 10)
) -> dict[str, float]:
    """Expected recall@K (percent) of a random ranking, in the keys of ``RetrievalCallback``.

    Image -> text: an image with ``p`` captions among ``M`` is missed by the top ``K`` with
    probability ``C(M - p, K) / C(M, K)`` (all ``K``-subsets of captions equally likely), so
    its hit rate is one minus that, averaged over images. Text -> image: each caption has one
    image among ``N``, a hit with probability ``min(K, N) / N``. ``mean_recall`` is the mean
    of all these numbers, as the callback's.

    Args:
        caption_to_image: Image index of every caption.
        top_k: The K values.

    Returns:
        ``{'i2t_r1': ..., 't2i_r1': ..., 'mean_recall': ...}`` in percent.

    Raises:
        ValueError: If there are no captions.
    """
    if not caption_to_image:
        raise ValueError('retrieval chance needs at least one caption')
    num_captions = len(caption_to_image)
    num_images = max(caption_to_image) + 1
    positives = [0] * num_images
    for image in caption_to_image:
        positives[image] += 1
    chance: dict[str, float] = {}
    for k in top_k:
        total = math.comb(num_captions, k)
        misses = [math.comb(num_captions - p, k) / total for p in positives]
        chance[f'i2t_r{k}'] = 100 * (1 - sum(misses) / num_images)
        chance[f't2i_r{k}'] = 100 * min(k, num_images) / num_images
    chance['mean_recall'] = sum(chance.values()) / len(chance)
    return chance


def chance_metrics(callbacks: Sequence[Callback]) -> dict[str, float]:
    """Chance levels (percent) of the headline metrics that evaluation callbacks log.

    * :class:`~rs_vlm.callbacks.ZeroShotCallback`: ``top1`` of each dataset, ``100 / C``.
    * :class:`~rs_vlm.callbacks.RetrievalCallback`: ``mean_recall``, ``i2t_r1`` and
      ``t2i_r1`` of each dataset (:func:`retrieval_chance`).
    * :class:`~rs_vlm.callbacks.CountingCallback`: ``top1``, ``100 / 10``.

    Args:
        callbacks: The trainer's callbacks (others are ignored).

    Returns:
        Logged metric name (e.g. ``'val/scenes/top1'``) -> chance level, in callback order.
    """
    chance: dict[str, float] = {}
    for callback in callbacks:
        if isinstance(callback, ZeroShotCallback):
            for name, dataset in callback.datasets.items():
                classes = dataset.classes  # type: ignore[attr-defined]
                chance[f'{callback.prefix}/{name}/top1'] = 100 / len(classes)
        elif isinstance(callback, RetrievalCallback):
            for name, dataset in callback.datasets.items():
                levels = retrieval_chance(
                    list(dataset.caption_to_image),  # type: ignore[attr-defined]
                    callback.top_k,
                )
                first = callback.top_k[0]
                for key in ('mean_recall', f'i2t_r{first}', f't2i_r{first}'):
                    chance[f'{callback.prefix}/{name}/{key}'] = levels[key]
        elif isinstance(callback, CountingCallback):
            chance[f'{callback.prefix}/{callback.name}/top1'] = 100 / _NUM_COUNTS
    return chance


class MetricsTableCallback(Callback):
    """At the end of ``fit``, print the final metrics with their chance levels and ratios.

    The numbers are whatever the other callbacks last logged (``trainer.callback_metrics``);
    this callback computes none of them. Example output::

        metric                               value    chance   x chance
        val/synthetic_scene/top1             81.43     14.29       5.70
        val/synthetic_retrieval/mean_recall  20.11      2.45       8.21

    Args:
        metrics: Logged metric name -> chance level (same units as the metric), or None to
            take the headline metrics of the trainer's zero-shot, retrieval and counting
            callbacks (:func:`chance_metrics`).
        output: Also write the table as JSON here (atomically), relative paths under the
            trainer's ``default_root_dir``; None writes nothing.
    """

    def __init__(
        self, metrics: Mapping[str, float] | None = None, output: str | None = 'metrics.json'
    ) -> None:
        super().__init__()
        self.metrics = dict(metrics) if metrics is not None else None
        self.output = output
        #: Rows of the latest table: ``{'metric', 'value', 'chance', 'ratio'}`` (value and ratio
        #: None when the metric was not logged).
        self.rows: list[dict[str, Any]] = []

    def build_rows(self, trainer: Trainer) -> list[dict[str, Any]]:
        """The table rows from ``trainer.callback_metrics``.

        Args:
            trainer: The trainer.

        Returns:
            One row per metric.
        """
        chance = self.metrics if self.metrics is not None else chance_metrics(trainer.callbacks)
        rows = []
        for name, level in chance.items():
            logged = trainer.callback_metrics.get(name)
            value = None if logged is None else float(logged)
            ratio = None if value is None or level == 0 else value / level
            rows.append({'metric': name, 'value': value, 'chance': level, 'ratio': ratio})
        return rows

    @staticmethod
    def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
        """Fixed-width text table of rows (``-`` for metrics that were not logged)."""
        width = max([len('metric'), *(len(row['metric']) for row in rows)])
        lines = [f'{"metric":<{width}}  {"value":>8}  {"chance":>8}  {"x chance":>8}']

        def cell(number: float | None) -> str:
            return f'{"-":>8}' if number is None else f'{number:8.2f}'

        for row in rows:
            lines.append(
                f'{row["metric"]:<{width}}  {cell(row["value"])}  {cell(row["chance"])}  '
                f'{cell(row["ratio"])}'
            )
        return '\n'.join(lines)

    @rank_zero_only
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the table (and write it as JSON when ``output`` is set)."""
        self.rows = self.build_rows(trainer)
        if not self.rows:
            print('MetricsTableCallback: no evaluation metrics to report')
            return
        print('\nFinal metrics (percent) beside chance:')
        print(self.format_table(self.rows), flush=True)
        if self.output is not None:
            path = Path(self.output)
            if not path.is_absolute():
                path = Path(trainer.default_root_dir) / path
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, 'w') as handle:
                json.dump(self.rows, handle, indent=2)
                handle.write('\n')
