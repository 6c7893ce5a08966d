"""``rs-vlm evaluate``: the offline evaluation suite from the command line."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rs_vlm.console import CommandParser, add_verbose_option, configure_logging
from rs_vlm.errors import OutputPathError
from rs_vlm.evaluation.report import SUITES
from rs_vlm.output_paths import check_output_paths

__all__ = ['build_parser', 'main']


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(',') if part]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm evaluate``."""
    parser = CommandParser(
        prog='rs-vlm evaluate',
        description='Evaluate a CLIP checkpoint on the RemoteCLIP benchmarks present under a '
        'data root; write report.md, report.json, plots/*.png and TensorBoard logs.',
    )
    parser.add_argument(
        '--model',
        required=True,
        help='released weights (RemoteCLIP-ViT-B-32, see rs-vlm models; fetched through the '
        'Hugging Face cache) or an open_clip model name (ViT-B-32-quickgelu)',
    )
    parser.add_argument(
        '--checkpoint',
        help='weights file or open_clip folder (default: the released weights of --model; '
        'random weights for a plain open_clip name)',
    )
    parser.add_argument('--data-root', default='data', help='folder of the dataset folders')
    parser.add_argument(
        '--suite',
        default=','.join(SUITES),
        help=f'comma-separated subset of {",".join(SUITES)} (default: all)',
    )
    parser.add_argument('--output', required=True, help='report folder')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--force-quick-gelu', action='store_true')
    parser.add_argument('--knn-k', type=int, default=20)
    parser.add_argument('--knn-temperature', type=float, default=0.07)
    parser.add_argument('--linear-epochs', type=int, default=1000)
    parser.add_argument('--few-shot-shots', type=_int_list, default=[1, 4, 8, 16, 32])
    parser.add_argument('--few-shot-seeds', type=_int_list, default=[0, 1, 2, 3, 4])
    parser.add_argument(
        '--normalise-prompts',
        action='store_true',
        help='zero-shot classifier of open_clip (normalise each prompt embedding before '
        "averaging) instead of ITRA's (average the raw embeddings), which the paper used",
    )
    parser.add_argument(
        '--on-error',
        choices=('raise', 'skip'),
        default='raise',
        help="scene datasets: 'raise' reports a class folder matching no class (naming the "
        "closest class names) as the dataset's error; 'skip' leaves it out and the report "
        'lists the missing classes, which are not scored (default: raise)',
    )
    parser.add_argument('--no-tensorboard', action='store_true')
    add_verbose_option(parser)
    return parser


def _data_root_problem(data_root: Path) -> str | None:
    if not data_root.is_dir():
        what = 'is not a folder' if data_root.exists() else 'does not exist'
        return f'--data-root {data_root} {what}'
    if not any(child.is_dir() for child in data_root.iterdir()):
        return f'--data-root {data_root} holds no dataset folder'
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm evaluate``.

    Args:
        argv: Arguments after ``evaluate``.

    Returns:
        0 when everything requested ran (skips of absent datasets included), 1 when a dataset
        or the model failed (see the report's Errors section) or no requested benchmark was
        found under the data root, 2 on bad arguments or a data root that does not exist.
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    suites = [suite.strip() for suite in args.suite.split(',') if suite.strip()]
    unknown = [suite for suite in suites if suite not in SUITES]
    if unknown or not suites:
        parser.error(f'--suite: unknown {unknown}; choose from {",".join(SUITES)}')
    problem = _data_root_problem(Path(args.data_root))
    if problem is not None:
        print(
            f'rs-vlm evaluate: {problem}; expected a folder holding benchmark folders such as '
            'rsitmd/, rsicd/, ucm/, aid/, eurosat/ (see docs/evaluation.md)',
            file=sys.stderr,
        )
        return 2
    if args.checkpoint is not None and not Path(args.checkpoint).exists():
        print(
            f'rs-vlm evaluate: error: --checkpoint {args.checkpoint} does not exist; expected a '
            'weights file or an open_clip folder',
            file=sys.stderr,
        )
        return 2
    configure_logging(args.verbose)
    try:
        check_output_paths(
            {'--output': args.output},
            {'--checkpoint': args.checkpoint, '--data-root': args.data_root},
            folders=['--output'],
        )
    except OutputPathError as error:
        print(f'rs-vlm evaluate: error: {error}', file=sys.stderr)
        return 1

    from rs_vlm.evaluation.runner import EvaluationOptions, run_evaluation

    options = EvaluationOptions(
        device=args.device,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        knn_k=args.knn_k,
        knn_temperature=args.knn_temperature,
        linear_epochs=args.linear_epochs,
        few_shot_shots=args.few_shot_shots,
        few_shot_seeds=args.few_shot_seeds,
        tensorboard=not args.no_tensorboard,
        normalise_prompts=args.normalise_prompts,
        on_error=args.on_error,
    )
    results = run_evaluation(
        args.model,
        args.checkpoint,
        args.data_root,
        args.output,
        suites,
        options,
        force_quick_gelu=args.force_quick_gelu,
    )
    print(f'report: {args.output}/report.md')
    for error in results['errors']:
        print(f'error: {error["suite"]} / {error["dataset"]}: {error["message"]}', file=sys.stderr)
    for skip in results['skipped']:
        print(f'skipped: {skip["suite"]} / {skip["dataset"]}: {skip["reason"]}', file=sys.stderr)
    if not results['errors'] and not any(results.get(suite) for suite in suites):
        print(
            f'rs-vlm evaluate: no benchmark of the suites {",".join(suites)} found under '
            f'--data-root {args.data_root} (every dataset was skipped; see the lines above)',
            file=sys.stderr,
        )
        return 1
    return 1 if results['errors'] else 0
