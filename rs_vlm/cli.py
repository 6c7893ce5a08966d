"""The ``rs-vlm`` command.

``fit``, ``validate``, ``test`` and ``predict`` with ``--config`` go to Lightning's ``LightningCLI``
(see :mod:`rs_vlm.lightning_cli`). The other subcommands are plain argparse programs, each in the
part of the package it belongs to; they are imported only when called so each starts fast.
"""

import difflib
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

__all__ = ['PREDICT_ACTIONS', 'SUBCOMMANDS', 'main']

#: Subcommand -> ``module:function`` taking ``argv`` and returning an exit code.
SUBCOMMANDS: dict[str, str] = {
    'convert': 'rs_vlm.conversion.cli:main',
    'dedup': 'rs_vlm.conversion.cli:dedup_main',
    'evaluate': 'rs_vlm.evaluation.cli:main',
    'export': 'rs_vlm.models.export:main',
    'models': 'rs_vlm.models.cli:main',
    'prepare': 'rs_vlm.conversion.prepare:main',
    'shard': 'rs_vlm.io.webdataset_writer:main',
}

LIGHTNING_SUBCOMMANDS = ('fit', 'validate', 'test', 'predict')

#: ``rs-vlm predict <action>``: everyday inference without a Lightning config.
PREDICT_ACTIONS: dict[str, str] = {
    'classify': 'rs_vlm.prediction.cli:classify_main',
    'embed': 'rs_vlm.prediction.cli:embed_main',
    'index': 'rs_vlm.prediction.cli:index_main',
    'map': 'rs_vlm.prediction.cli:map_main',
    'search': 'rs_vlm.prediction.cli:search_main',
}

USAGE = f"""usage: rs-vlm <command> [options]

Lightning commands (LightningCLI, configure with --config FILE.yaml):
  {', '.join(LIGHTNING_SUBCOMMANDS)}
Everyday inference:
  predict classify   zero-shot classify a folder of images against class names
  predict embed      embed images and/or captions to a file for search
  predict map        zero-shot class map or query heatmap of a raster (Cloud Optimized GeoTIFF)
  predict index      FAISS index of an image folder or a raster's windows
  predict search     top-k search of an index or embeddings file by text or image
Tools:
  {', '.join(SUBCOMMANDS)}
  (models: the released weights --model and pretrained accept by name, and what is cached)

Run 'rs-vlm <command> --help' for the options of one command.
"""


PREDICT_HELP = f"""rs-vlm predict <action> [options]: {', '.join(PREDICT_ACTIONS)}
  (run 'rs-vlm predict <action> --help' for the options of one action)
rs-vlm predict --config FILE.yaml: Lightning's predict, whose options follow.
"""


def _resolve(target: str) -> Callable[[list[str]], int]:
    module_name, function_name = target.split(':')
    return getattr(import_module(module_name), function_name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rs-vlm`` command.

    Args:
        argv: Arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ('-h', '--help'):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in SUBCOMMANDS:
        return int(_resolve(SUBCOMMANDS[command])(rest) or 0)
    if command == 'predict' and rest and rest[0] in PREDICT_ACTIONS:
        return int(_resolve(PREDICT_ACTIONS[rest[0]])(rest[1:]) or 0)
    if command == 'predict' and rest and not rest[0].startswith('-'):
        # Lightning's predict takes options only: a word here is a mistyped action.
        close = difflib.get_close_matches(rest[0], PREDICT_ACTIONS, n=2)
        hint = f' (did you mean {" or ".join(close)}?)' if close else ''
        print(
            f'rs-vlm predict: unknown action {rest[0]!r}{hint}; expected one of '
            f"{', '.join(PREDICT_ACTIONS)}, or --config FILE.yaml for Lightning's predict",
            file=sys.stderr,
        )
        return 2
    if command == 'predict' and rest and rest[0] in ('-h', '--help'):
        print(PREDICT_HELP)
    if command in LIGHTNING_SUBCOMMANDS:
        from rs_vlm.lightning_cli import run_lightning_cli

        return run_lightning_cli([command, *rest])
    print(f'rs-vlm: unknown command {command!r}\n\n{USAGE}', file=sys.stderr)
    return 2
