"""``rs-vlm models``: the released weights the package knows, and which are cached here."""

import sys
from collections.abc import Sequence

from rs_vlm.console import CommandParser

__all__ = ['main']


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm models``.

    Args:
        argv: Arguments after ``models``.

    Returns:
        0.
    """
    parser = CommandParser(
        prog='rs-vlm models',
        description='List the released remote-sensing CLIP weights that --model / pretrained '
        'accept by name, their open_clip architecture and source, and whether they are in the '
        'Hugging Face cache (HF_HUB_CACHE). Nothing is downloaded.',
    )
    parser.add_argument('--papers', action='store_true', help='also print each paper')
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    from rs_vlm.models.hub import cached_file, hub_cache_dir
    from rs_vlm.models.registry import RELEASED_WEIGHTS

    rows = [('name', 'architecture', 'cached', 'source')]
    for entry in RELEASED_WEIGHTS.values():
        cached = '-'
        if entry.on_hub:
            assert entry.repo_id is not None and entry.filename is not None
            path = cached_file(entry.repo_id, entry.filename)
            cached = 'yes' if path is not None else 'no'
        else:
            cached = 'manual'  # not on the Hub: pass the unpacked file as --checkpoint
        rows.append((entry.name, entry.architecture, cached, entry.source))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print('  '.join([*cells, row[3]]))
        if args.papers and row[0] in RELEASED_WEIGHTS:
            print(f'    {RELEASED_WEIGHTS[row[0]].paper}')
    print(f'\nHugging Face cache: {hub_cache_dir()}')
    print("'manual': published outside the Hub; download, unzip and pass the file as --checkpoint")
    return 0
