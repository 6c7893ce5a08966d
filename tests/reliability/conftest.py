"""Make the helper modules of this folder importable (also by ``rs-vlm fit`` subprocesses)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
