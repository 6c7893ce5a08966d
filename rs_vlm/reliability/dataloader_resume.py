"""Make a resumed run iterate exactly the batches an uninterrupted run would.

Two gaps in Lightning 2.6 break exact resume; :func:`apply_pending_dataloader_state` closes both
and ``RemoteCLIPModule.on_train_start`` calls it.

1. ``trainer.estimated_stepping_batches`` (used by ``configure_optimizers`` to size the LR
   schedule) builds the training dataloader during strategy setup, *before* the checkpoint is
   restored. The fit loop then finds the loader already built and never applies the saved
   loader states (Lightning issue #20550), so a mid-epoch resume starts the epoch over. The
   pending states are applied here and the batch iterator re-created.
2. A checkpoint written at an epoch boundary (on the epoch's last batch, or at epoch end) holds
   the loader state of the *finished* epoch: its sampler epoch and an exhausted position.
   Lightning's counters move on to the next epoch, but restoring that state replays the old
   epoch's order (worker processes prefetch indices before the sampler's ``set_epoch``) or
   yields nothing, so the next epoch is skipped. Here such a state is dropped and the iterator
   starts the next epoch afresh with the sampler set to it.
"""

from typing import Any

from lightning.fabric.utilities.data import _set_sampler_epoch

__all__ = ['apply_pending_dataloader_state']

#: Where :class:`~rs_vlm.datamodules.resumable_loader.ResumableDataLoader` saves its epoch.
_EPOCH_KEY = 'rs_vlm_sampler_epoch'


def _sampler_epochs(dataloader: Any) -> set[int]:
    samplers = [getattr(dataloader, 'sampler', None)]
    samplers.append(getattr(getattr(dataloader, 'batch_sampler', None), 'sampler', None))
    return {s.epoch for s in samplers if isinstance(getattr(s, 'epoch', None), int)}


def _saved_epochs(states: list[Any]) -> set[int]:
    return {s[_EPOCH_KEY] for s in states if isinstance(s, dict) and _EPOCH_KEY in s}


def apply_pending_dataloader_state(trainer: Any) -> bool:
    """Align the training loader with the epoch and position the resumed loop runs next.

    Call from ``on_train_start``. A no-op on fresh runs.

    Args:
        trainer: The Lightning ``Trainer``.

    Returns:
        Whether the batch iterator was re-created.
    """
    fit_loop = trainer.fit_loop
    loader = fit_loop._combined_loader
    if trainer.ckpt_path is None or loader is None or fit_loop._data_fetcher is None:
        return False
    epoch = fit_loop.epoch_progress.current.processed  # what on_advance_start passes to set_epoch
    pending = getattr(fit_loop, '_combined_loader_states_to_load', None) or []
    if pending:
        saved = _saved_epochs(pending)
    else:  # Lightning already loaded the states (and with them the sampler epoch)
        saved = set().union(*(_sampler_epochs(dl) for dl in loader.flattened))
    if saved and saved != {epoch}:
        # A finished epoch's state: start the next epoch from its first batch.
        fit_loop._combined_loader_states_to_load = []
        for dataloader in loader.flattened:
            _set_sampler_epoch(dataloader, epoch)
        iter(fit_loop._data_fetcher)
        return True
    if not pending or not fit_loop.restarting:
        return False
    fit_loop._load_combined_loader_states()
    # The iterator was made before the restore; a new one starts from the loaded state.
    iter(fit_loop._data_fetcher)
    return True
