"""SeeSay's core: photo + spoken or typed question -> spoken answer. No Streamlit here.

Importing ``core`` is cheap: torch, transformers, whisper and the voices are imported only by
the engines that use them. The stages, one module or package each: ``images``, ``audio``, ``stt``,
``vlm``, ``tts``. ``engines`` turns settings and a visitor's choices into engines; ``pipeline``
runs them (``Pipeline``, the one way in for the app, the command line and the benchmarks);
settings in ``config``; user-facing errors in ``errors``.
"""

from .config import Settings, load_settings
from .errors import SeeSayError

__all__ = ["Settings", "load_settings", "SeeSayError"]
__version__ = "0.1.0"
