"""A DataLoader whose position inside an epoch survives a checkpoint, with any worker count.

Lightning 2.x saves the state of every training dataloader that has ``state_dict`` /
``load_state_dict`` into the checkpoint and restores it before iterating again. torchdata's
``StatefulDataLoader`` implements that interface for single- and multi-process loading: it
records how many batches were handed out and fast-forwards the sampler on resume (only sampler
indices are replayed, no sample is decoded). That is exact when the sampler's order is a pure
function of its epoch, as with :class:`~rs_vlm.samplers.epoch_random.EpochRandomSampler`.

One gap remains, which :class:`ResumableDataLoader` closes: on a mid-epoch resume Lightning
creates the iterator (and multi-process loaders prefetch indices) *before* it calls
``set_epoch`` on the sampler, so the fast-forward would replay epoch 0's order. This loader
saves the sampler's epoch with its state and sets it back in :meth:`load_state_dict`.
"""

import warnings
from typing import Any

from torchdata.stateful_dataloader import StatefulDataLoader

__all__ = ['ResumableDataLoader']

_EPOCH_KEY = 'rs_vlm_sampler_epoch'

# torchdata 0.11 calls torch.set_vital() in every loader's __init__, which torch >= 2.10 flags
# as deprecated on each call; it changes nothing for us.
warnings.filterwarnings('ignore', message="'set_vital' is deprecated", category=UserWarning)


class ResumableDataLoader(StatefulDataLoader):
    """``StatefulDataLoader`` that also saves and restores its sampler's epoch.

    Takes the arguments of :class:`torch.utils.data.DataLoader`.
    """

    def state_dict(self) -> dict[str, Any]:
        """The loader state plus the sampler epoch (when the sampler has one)."""
        state = dict(super().state_dict())
        epoch = getattr(self.sampler, 'epoch', None)
        if isinstance(epoch, int):
            state[_EPOCH_KEY] = epoch
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the sampler epoch, then the position within the epoch.

        Args:
            state_dict: What :meth:`state_dict` returned.
        """
        state = dict(state_dict)
        epoch = state.pop(_EPOCH_KEY, None)
        if epoch is not None and hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)
        super().load_state_dict(state)
