"""Time to a clear error for released weights that are not cached while the Hub is unreachable.

The baseline is what a user writes from the RemoteCLIP README: ``hf_hub_download(
'chendelong/RemoteCLIP', 'RemoteCLIP-ViT-B-32.pt')``, which retries with back-off before it
gives up. rs_vlm's :func:`rs_vlm.models.hub.hub_file` checks the cache, then the Hub's address
once, and fails with one line. The Hub is simulated unreachable by pointing ``HF_ENDPOINT`` at a
loopback port nothing listens on (no network is used); the cache is an empty temporary folder.
With ``--offline`` both run with ``HF_HUB_OFFLINE=1`` instead.

    python benchmarks/weights_offline.py
    python benchmarks/weights_offline.py --offline
"""

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def main() -> None:
    """Run both and print the times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--offline', action='store_true', help='HF_HUB_OFFLINE=1 instead')
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix='empty_hub_cache_')
    # huggingface_hub reads these when imported, so set them first.
    os.environ['HF_HUB_CACHE'] = cache
    if args.offline:
        os.environ['HF_HUB_OFFLINE'] = '1'
    else:
        os.environ['HF_ENDPOINT'] = f'http://127.0.0.1:{_closed_port()}'
    from huggingface_hub import hf_hub_download

    from rs_vlm.models.hub import WeightsUnavailableError, hub_file

    repo, filename = 'chendelong/RemoteCLIP', 'RemoteCLIP-ViT-B-32.pt'
    started = time.perf_counter()
    try:
        hf_hub_download(repo, filename, cache_dir=cache)
    except Exception as error:  # what the user sees: huggingface_hub's own error
        baseline_error = f'{type(error).__name__}: {str(error).splitlines()[0][:100]}'
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    try:
        hub_file(repo, filename, label='RemoteCLIP-ViT-B-32')
    except WeightsUnavailableError as error:
        ours_error = str(error)
    ours = time.perf_counter() - started
    mode = 'HF_HUB_OFFLINE=1' if args.offline else f'unreachable {os.environ["HF_ENDPOINT"]}'
    print(f'{mode}, empty cache {cache}')
    print(f'hf_hub_download (baseline): {baseline:8.3f} s  {baseline_error}')
    print(f'rs_vlm hub_file:            {ours:8.3f} s  {ours_error[:100]}...')
    print(f'ratio baseline / ours: {baseline / max(ours, 1e-6):.0f}x')
    sys.stdout.flush()
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == '__main__':
    main()
