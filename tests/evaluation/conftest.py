"""Evaluation tests use tiny tensors: one intra-op thread avoids thread contention overhead."""

import pytest
import torch


@pytest.fixture(autouse=True, scope='session')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
