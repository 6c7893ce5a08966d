"""Base of the caption corpora read from a listing file (precomp, Karpathy JSON, JSON Lines)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rs_vlm.datasets.bad_input import BadInputPolicy
from rs_vlm.datasets.caption_corpus import CaptionCorpus, CaptionMode, Tokenizer
from rs_vlm.datasets.caption_csv import check_images_exist
from rs_vlm.datasets.caption_readers import CorpusListing

__all__ = ['ListedCaptionDataset', 'SampleTransform']

SampleTransform = Callable[[dict[str, Any]], dict[str, Any]]


class ListedCaptionDataset(CaptionCorpus):
    """A caption corpus built from a reader's listing and an image folder."""

    def _init_from_listing(
        self,
        listing: CorpusListing,
        *,
        source: Path,
        image_dir: Path,
        policy: BadInputPolicy,
        check_files: bool,
        mode: CaptionMode,
        image_size: int | None,
        tokenizer: Tokenizer | None,
        transforms: SampleTransform | None,
        seed: int,
    ) -> None:
        names, captions, lines = listing
        paths = [image_dir / name for name in names]
        if check_files:
            paths, captions = check_images_exist(source, paths, captions, policy, lines)
        CaptionCorpus.__init__(
            self,
            paths,
            captions,
            source=source,
            mode=mode,
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
            policy=policy,
        )
