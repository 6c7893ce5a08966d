"""Reliability: crash-safe checkpoints, exact mid-epoch resume, numerical and input faults.

See ``docs/reliability.md`` for what each part guards against and how it is tested.
"""

from rs_vlm.reliability.checkpoint_io import AtomicCheckpointIO, remove_stale_temporaries
from rs_vlm.reliability.dataloader_resume import apply_pending_dataloader_state
from rs_vlm.reliability.nonfinite_loss import (
    NonFiniteLossError,
    NonFiniteLossGuard,
    NonFinitePolicy,
    batch_source_files,
)
from rs_vlm.reliability.preemption import SIGTERM_EXIT_CODE, PreemptionCheckpoint
from rs_vlm.reliability.skipped_inputs import (
    EmptyBatchGuard,
    SkippedBatchesError,
    SkippedInputCounter,
)

__all__ = [
    'SIGTERM_EXIT_CODE',
    'AtomicCheckpointIO',
    'EmptyBatchGuard',
    'NonFiniteLossError',
    'NonFiniteLossGuard',
    'NonFinitePolicy',
    'PreemptionCheckpoint',
    'SkippedBatchesError',
    'SkippedInputCounter',
    'apply_pending_dataloader_state',
    'batch_source_files',
    'remove_stale_temporaries',
]
