"""SeeSay's core: photo + spoken or typed question -> spoken answer. No Streamlit here.

Importing ``core`` is cheap: torch, transformers, whisper and the voices are imported only by
the engines that use them. The stages, one module each: ``images``, ``audio``, ``stt``, ``vlm``,
``tts``, ``pipeline``; settings in ``config``; user-facing errors in ``errors``.
"""

from .config import Settings, load_settings
from .errors import SeeSayError

__all__ = ["Settings", "load_settings", "SeeSayError"]
__version__ = "0.1.0"
