"""Evaluation report: JSON (everything) and Markdown (tables beside the paper's numbers).

Results follow this layout (written by :mod:`rs_vlm.evaluation.runner`)::

    {'model': ..., 'checkpoint': ..., 'paper_backbone': 'RN50' | None, 'suites': [...],
     'errors': [{'suite', 'dataset', 'message'}], 'skipped': [{'suite', 'dataset', 'reason'}],
     '<suite>': {'<dataset>': {'ours': {metric: value}, 'paper': {metric: value},
                               'difference': {metric: ours - paper}, ...}},
     'plots': [paths relative to the report folder]}
"""

import json
import math
from pathlib import Path
from typing import Any

from rs_vlm.atomic import atomic_write

__all__ = ['SUITES', 'compare', 'render_markdown', 'write_report']

#: Suite names, in report order.
SUITES = ('retrieval', 'zero-shot', 'knn', 'linear', 'few-shot', 'count')


def compare(ours: dict[str, float], paper: dict[str, float] | None) -> dict[str, Any]:
    """Our numbers, the paper's and ``ours - paper`` for the metrics both have.

    Args:
        ours: Metric -> our value.
        paper: Metric -> published value, or None.

    Returns:
        ``{'ours', 'paper', 'difference'}`` (paper/difference empty without paper numbers).
    """
    paper = paper or {}
    difference = {
        key: round(ours[key] - value, 2)
        for key, value in paper.items()
        if key in ours and ours[key] is not None
    }
    return {'ours': ours, 'paper': paper, 'difference': difference}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    if isinstance(value, float):
        return f'{value:.2f}'
    return str(value)


def _signed(value: Any) -> str:
    return '-' if value is None else f'{value:+.2f}'


def render_markdown(results: dict[str, Any]) -> str:
    """The Markdown report.

    Args:
        results: See the module docstring.

    Returns:
        Markdown text.
    """
    lines = [
        f'# Evaluation of {results.get("model")}',
        '',
        f'- checkpoint: `{results.get("checkpoint")}`',
        f'- data root: `{results.get("data_root")}`',
        f'- suites: {", ".join(results.get("suites", []))}',
        f'- paper row compared: {results.get("paper_backbone") or "none (not a paper backbone)"}',
        '',
        'Numbers are percentages; "paper" is RemoteCLIP (Tables II-IV); diff = ours - paper.',
        '',
    ]
    if results.get('errors'):
        lines += ['## Errors', '']
        lines += [f'- {e["suite"]} / {e["dataset"]}: {e["message"]}' for e in results['errors']]
        lines.append('')
    if results.get('skipped'):
        lines += ['## Skipped', '']
        lines += [f'- {s["suite"]} / {s["dataset"]}: {s["reason"]}' for s in results['skipped']]
        lines.append('')
    for suite in SUITES:
        entries = results.get(suite)
        if not entries:
            continue
        lines += [f'## {suite}', '', '| dataset | metric | ours | paper | diff |']
        lines.append('|---|---|---|---|---|')
        for dataset, entry in entries.items():
            for metric, value in entry['ours'].items():
                lines.append(
                    f'| {dataset} | {metric} | {_fmt(value)} | '
                    f'{_fmt(entry["paper"].get(metric))} | '
                    f'{_signed(entry["difference"].get(metric))} |'
                )
            for note in entry.get('notes', []):
                lines.append(f'| {dataset} | note | {note} | | |')
        lines.append('')
    if results.get('plots'):
        lines += ['## Plots', '']
        lines += [f'![{Path(p).stem}]({p})' for p in results['plots']]
        lines.append('')
    return '\n'.join(lines)


def write_report(results: dict[str, Any], output: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``output`` (atomically).

    Args:
        results: See the module docstring.
        output: Report folder (created).

    Returns:
        The JSON and Markdown paths.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    json_path, md_path = output / 'report.json', output / 'report.md'
    with atomic_write(json_path) as handle:
        json.dump(results, handle, indent=2, sort_keys=False, default=str)
        handle.write('\n')
    with atomic_write(md_path) as handle:
        handle.write(render_markdown(results))
    return json_path, md_path
