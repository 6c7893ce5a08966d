"""The recipe's datamodule: the corpora ``rs-vlm prepare`` wrote, validated on RET-3 tests."""

from collections.abc import Mapping, Sequence
from pathlib import Path

from rs_vlm.datamodules.caption_mixture import CaptionMixtureDataModule
from rs_vlm.datamodules.corpus_files import open_caption_corpus, read_mixture_manifest
from rs_vlm.datamodules.model_inputs import model_input_size
from rs_vlm.datasets.bad_input import OnError
from rs_vlm.datasets.benchmark_roots import RETRIEVAL_BENCHMARKS, present_retrieval_benchmarks

__all__ = ['PreparedMixtureDataModule']


class PreparedMixtureDataModule(CaptionMixtureDataModule):
    """Train on the mixture manifest of ``rs-vlm prepare``; validate on the RET-3 test splits.

    Every corpus the manifest lists (CSV, TSV or JSONL, read by suffix) becomes a training
    source of :class:`CaptionMixtureDataModule`; the validation loss runs on the test splits of
    the retrieval benchmarks found under ``data_root`` (absent ones are skipped with a
    warning), which the recipe's evaluation callbacks read from the same ``data_root``.

    Args:
        data_root: The download folder (``RSITMD/``, ``RSICD/``, ``UCM-Captions/`` ...).
        mixture: The manifest ``rs-vlm prepare --output DIR`` writes (``DIR/mixture.json``).
        weights: Sampling weight per corpus name (None: by size, i.e. every image once).
        samples_per_epoch: Images per training epoch (None: the total size).
        val_benchmarks: Retrieval benchmarks whose test split gives the validation loss.
        image_size: Side of the square model input (None: the ``tokenizer`` model's).
        batch_size: Batch size.
        num_workers: DataLoader workers.
        tokenizer: open_clip model name whose tokenizer encodes captions.
        context_length: Token sequence length (None: the model's).
        seed: Seed of the per-epoch draw and caption choice.
        on_error: ``'raise'`` or ``'skip'`` for bad rows and images of the corpora and the
            validation sets.
        crop_scale: Area range of the training random resized crop.
        drop_last: Drop the last incomplete training batch.

    Raises:
        CorpusError: A missing or malformed manifest, or a corpus it lists.
    """

    def __init__(
        self,
        data_root: str | Path = 'data',
        mixture: str | Path = 'corpora/mixture.json',
        weights: Mapping[str, float] | None = None,
        samples_per_epoch: int | None = None,
        val_benchmarks: Sequence[str] = tuple(RETRIEVAL_BENCHMARKS),
        image_size: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        tokenizer: str = 'ViT-B-32',
        context_length: int | None = None,
        seed: int = 0,
        on_error: OnError = 'raise',
        crop_scale: tuple[float, float] = (0.9, 1.0),
        drop_last: bool = True,
    ) -> None:
        model_size, model_context = model_input_size(tokenizer)
        image_size = model_size if image_size is None else image_size
        context_length = model_context if context_length is None else context_length
        train = {
            entry.name: open_caption_corpus(
                entry.path, mode='train', image_size=image_size, seed=seed, on_error=on_error
            )
            for entry in read_mixture_manifest(mixture)
        }
        val = present_retrieval_benchmarks(
            data_root, val_benchmarks, image_size=image_size, on_error=on_error
        )
        super().__init__(
            train=train,
            val=val,  # type: ignore[arg-type]
            weights=weights,
            samples_per_epoch=samples_per_epoch,
            image_size=image_size,
            batch_size=batch_size,
            num_workers=num_workers,
            tokenizer=tokenizer,
            context_length=context_length,
            seed=seed,
            crop_scale=crop_scale,
            drop_last=drop_last,
        )
        self.data_root = Path(data_root)
        self.mixture = Path(mixture)
