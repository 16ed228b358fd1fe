"""NetZeroAICT core: digital contrast for CT and the reader studies that validate it.

Research use only; not for clinical use. This package never imports Qt or Slicer, except its
``mrml`` (Slicer glue) and ``ui`` (plain Qt) subpackages, which only the Slicer modules and tests use.
"""

__version__ = "0.1.0"

from .errors import NetZeroAICTError, VolumeError  # noqa: E402
from .indications import INDICATIONS, Indication, get_indication  # noqa: E402
from .volume import Volume  # noqa: E402
from .volume_io import read_volume, write_volume  # noqa: E402

__all__ = ["__version__", "NetZeroAICTError", "VolumeError", "INDICATIONS", "Indication", "get_indication",
           "Volume", "read_volume", "write_volume"]
