"""Caption corpora from precomp text, Karpathy JSON or JSON Lines files plus an image folder."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionCorpus, CaptionMode, Tokenizer
from rs_vlm.datasets.caption_csv import check_images_exist
from rs_vlm.datasets.caption_readers import (
    CorpusListing,
    read_jsonl,
    read_karpathy_json,
    read_precomp,
)

__all__ = ['JSONLCaptionDataset', 'KarpathyCaptionDataset', 'PrecompCaptionDataset']

SampleTransform = Callable[[dict[str, Any]], dict[str, Any]]


class _ListedCaptionDataset(CaptionCorpus):
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


class PrecompCaptionDataset(_ListedCaptionDataset):
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


class KarpathyCaptionDataset(_ListedCaptionDataset):
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


class JSONLCaptionDataset(_ListedCaptionDataset):
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
