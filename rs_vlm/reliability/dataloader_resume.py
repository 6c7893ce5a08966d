"""Work around Lightning dropping saved dataloader state when the schedule length is estimated.

``trainer.estimated_stepping_batches`` (used by ``configure_optimizers`` to size the LR
schedule) builds the training dataloader during strategy setup, *before* the checkpoint is
restored. When the fit loop then restores the loader states from the checkpoint it finds the
loader already built and never applies them (Lightning issue #20550, open in 2.6), so a
mid-epoch resume silently starts the epoch over. :func:`apply_pending_dataloader_state` applies
the pending states and re-creates the batch iterator, exactly as the normal resume path does;
``RemoteCLIPModule.on_train_start`` calls it.
"""

from typing import Any

__all__ = ['apply_pending_dataloader_state']


def apply_pending_dataloader_state(trainer: Any) -> bool:
    """Load dataloader states that a resume left pending and restart the batch iterator.

    Call from ``on_train_start``. A no-op when nothing is pending (fresh runs, Lightning
    versions that fixed the bug).

    Args:
        trainer: The Lightning ``Trainer``.

    Returns:
        Whether pending states were applied.
    """
    fit_loop = trainer.fit_loop
    pending = getattr(fit_loop, '_combined_loader_states_to_load', None)
    if not pending or not fit_loop.restarting or fit_loop._combined_loader is None:
        return False
    fit_loop._load_combined_loader_states()
    if fit_loop._data_fetcher is not None:
        # The iterator was made before the restore; a new one starts from the loaded state.
        iter(fit_loop._data_fetcher)
    return True
