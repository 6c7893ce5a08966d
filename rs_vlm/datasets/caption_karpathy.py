"""Caption corpus in Karpathy's ``dataset_*.json`` format and an image folder."""

from pathlib import Path

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionMode, Tokenizer
from rs_vlm.datasets.caption_listed import ListedCaptionDataset, SampleTransform
from rs_vlm.datasets.caption_readers import read_karpathy_json

__all__ = ['KarpathyCaptionDataset']


class KarpathyCaptionDataset(ListedCaptionDataset):
    """Caption corpus from a Karpathy-style JSON (``dataset_rsicd.json`` and kin).

    Args:
        json_file: The JSON file (``images[].filename/split/sentences[].raw``).
        image_dir: Folder the file names are relative to.
        split: Keep this split (``'train'``, ``'val'``, ``'test'``); None keeps all.
        mode: ``'train'`` or ``'retrieval'``.
        image_size: Shorter-side resize + centre crop; None keeps the decoded size.
        tokenizer: open_clip tokenizer for ``text``.
        transforms: Applied to each sample last.
        seed: Seed of the per-epoch caption choice.
        on_error: ``'raise'`` or ``'skip'``.
        check_files: Check that every image exists now.
    """

    def __init__(
        self,
        json_file: str | Path,
        image_dir: str | Path,
        split: str | None = None,
        *,
        mode: CaptionMode = 'train',
        image_size: int | None = 224,
        tokenizer: Tokenizer | None = None,
        transforms: SampleTransform | None = None,
        seed: int = 0,
        on_error: OnError = 'raise',
        check_files: bool = True,
    ) -> None:
        policy = BadInputPolicy(on_error)
        listing = read_karpathy_json(json_file, policy, split=split)
        self._init_from_listing(
            listing,
            source=Path(json_file),
            image_dir=Path(image_dir),
            policy=policy,
            check_files=check_files,
            mode=mode,
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
        )
