import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name('scripts') / 'callbacks_fsdp.py'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def run_script(out, port):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), port],
        capture_output=True, text=True, timeout=400, cwd=SCRIPT.parent,
        env={**os.environ, 'OMP_NUM_THREADS': '1'},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_fsdp_two_processes_log_the_single_process_values(tmp_path):
    spec = importlib.util.spec_from_file_location('callbacks_fsdp', SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.run(tmp_path / 'single.json', 'single')  # reference, in this process
    single = json.loads((tmp_path / 'single.json').read_text())
    fsdp = run_script(tmp_path / 'fsdp.json', free_port())
    assert fsdp['world_size'] == 2 and single['world_size'] == 1
    assert set(fsdp['metrics']) == set(single['metrics'])
    assert len(single['metrics']) == 2 + 7
    for key, value in single['metrics'].items():
        assert fsdp['metrics'][key] == pytest.approx(value, abs=1e-3), key
