"""The data flow is one-way: the evaluation core, metrics, prediction and conversion never load
Lightning or the callbacks (so ``rs-vlm predict`` / ``evaluate`` / ``convert`` start without them).
"""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import rs_vlm

LIGHTNING_FREE = ('evaluation', 'metrics', 'prediction', 'conversion')

# Imports the modules one by one in a fresh interpreter and reports, per module, the forbidden
# modules loaded so far: the first non-empty entry names the culprit.
PROBE = """
import importlib, json, sys
FORBIDDEN = ('lightning', 'pytorch_lightning', 'rs_vlm.callbacks')
report = {}
for module in sys.argv[1:]:
    importlib.import_module(module)
    report[module] = sorted(
        name for name in sys.modules
        if name in FORBIDDEN or name.startswith(tuple(f + '.' for f in FORBIDDEN))
    )
print(json.dumps(report))
"""


def _modules(package: str) -> list[str]:
    root = Path(rs_vlm.__file__).parent / package
    return [f'rs_vlm.{package}'] + [
        f'rs_vlm.{package}.{info.name}' for info in pkgutil.walk_packages([str(root)])
    ]


def _probe(modules: list[str]) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, '-c', PROBE, *modules], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.mark.slow  # a fresh interpreter importing ~40 modules
def test_lightning_free_packages_load_neither_lightning_nor_callbacks():
    modules = [name for package in LIGHTNING_FREE for name in _modules(package)]
    # the walk found the files (a wrong root would make the check vacuous)
    for package in LIGHTNING_FREE:
        assert sum(m.startswith(f'rs_vlm.{package}.') for m in modules) >= 3, package
    assert {'rs_vlm.evaluation.runner', 'rs_vlm.prediction.classify'} <= set(modules)
    report = _probe(modules)
    assert list(report) == modules
    offenders = {module: loaded for module, loaded in report.items() if loaded}
    assert offenders == {}


def test_the_probe_sees_lightning_when_it_is_loaded():
    # the same probe reports the callbacks and Lightning once they are imported
    report = _probe(['rs_vlm.metrics', 'rs_vlm.callbacks.zero_shot'])
    assert report['rs_vlm.metrics'] == []
    assert 'lightning' in report['rs_vlm.callbacks.zero_shot']
    assert 'rs_vlm.callbacks.zero_shot' in report['rs_vlm.callbacks.zero_shot']
