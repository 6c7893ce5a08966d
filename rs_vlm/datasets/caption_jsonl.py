"""Caption corpus as JSON Lines (one image and its captions per line) and an image folder."""

from pathlib import Path

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionMode, Tokenizer
from rs_vlm.datasets.caption_listed import ListedCaptionDataset, SampleTransform
from rs_vlm.datasets.caption_readers import read_jsonl

__all__ = ['JSONLCaptionDataset']


class JSONLCaptionDataset(ListedCaptionDataset):
    """Caption corpus from JSON Lines (``{"filepath": ..., "captions": [...]}`` per line).

    ``filepath`` is what ``rs-vlm convert --jsonl`` writes; ``filename`` is read too.

    Args:
        path: The ``.jsonl`` file.
        image_dir: Folder the file names are relative to (default: the file's folder).
        mode: ``'train'`` or ``'retrieval'``.
        image_size: Shorter-side resize + centre crop; None keeps the decoded size.
        tokenizer: open_clip tokenizer for ``text``.
        transforms: Applied to each sample last.
        image_key: Key of the image path (None: ``filepath``, else ``filename``).
        captions_key: Key of the caption list.
        seed: Seed of the per-epoch caption choice.
        on_error: ``'raise'`` or ``'skip'``.
        check_files: Check that every image exists now.
    """

    def __init__(
        self,
        path: str | Path,
        image_dir: str | Path | None = None,
        *,
        mode: CaptionMode = 'train',
        image_size: int | None = 224,
        tokenizer: Tokenizer | None = None,
        transforms: SampleTransform | None = None,
        image_key: str | None = None,
        captions_key: str = 'captions',
        seed: int = 0,
        on_error: OnError = 'raise',
        check_files: bool = True,
    ) -> None:
        path = Path(path)
        policy = BadInputPolicy(on_error)
        listing = read_jsonl(path, policy, image_key=image_key, captions_key=captions_key)
        self._init_from_listing(
            listing,
            source=path,
            image_dir=Path(image_dir) if image_dir is not None else path.parent,
            policy=policy,
            check_files=check_files,
            mode=mode,
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
        )
