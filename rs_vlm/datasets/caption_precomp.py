"""Caption corpus in the "precomp" format: ``*_caps.txt``, ``*_filename.txt``, images."""

from pathlib import Path

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionMode, Tokenizer
from rs_vlm.datasets.caption_listed import ListedCaptionDataset, SampleTransform
from rs_vlm.datasets.caption_readers import read_precomp

__all__ = ['PrecompCaptionDataset']


class PrecompCaptionDataset(ListedCaptionDataset):
    """Caption corpus in the "precomp" format (``*_caps.txt`` + ``*_filename.txt``).

    Args:
        captions_file: One caption a line.
        filenames_file: One image file name a line (per caption, or per image with the
            captions in equal consecutive blocks).
        image_dir: Folder the file names are relative to.
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
        captions_file: str | Path,
        filenames_file: str | Path,
        image_dir: str | Path,
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
        listing = read_precomp(captions_file, filenames_file, policy)
        self._init_from_listing(
            listing,
            source=Path(captions_file),
            image_dir=Path(image_dir),
            policy=policy,
            check_files=check_files,
            mode=mode,
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
        )
