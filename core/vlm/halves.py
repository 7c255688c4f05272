"""The model's two halves, one resident at a time while a photo is read: less memory on a small host.

On CPU the weights stay mapped from the checkpoint (core.vlm.loading): a page counts in the process's
resident memory once it is touched, and can be handed back (``madvise(MADV_DONTNEED)``,
:func:`core.memory.drop_pages`) and read again from the file the next time it is touched. The model has
two halves that never work at once: the vision tower with its projector (0.80 GB on the CPU default)
reads a photo once, and the language model with its head (1.24 GB) answers. :class:`Halves` hands back
the language model's pages as the vision tower starts on a photo, and the vision tower's once its
projector is done, so the process holds one half at a time (plus the other's few pages touched since):
the CPU default's peak falls from about 3.1 GB (both halves, 2.04 GB, resident) by about 0.8 GB.

What it costs is reading the pages again, from the page cache, on each new photo: 0.15-0.35 s more to
prepare a photo on 2 cores (2.3-2.5 s), nothing on a question about a photo already prepared, nothing
while decoding (the language model is resident by then). The pages go back to the file's page cache,
which the kernel keeps while memory allows and reclaims when it must (a cgroup's limit counts it, but
reclaims it before refusing memory).

Only pages that are certainly the file's are handed back: those of a read-only use of the checkpoint's
mapping, never memory of the process's own (converted, quantized or widened weights), which would read
back as zeros, nor a mapping with pages written since it was mapped (they would read back as the file's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..memory import drop_pages

__all__ = ["Halves", "file_ranges"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mapping:
    """One line of /proc/self/maps."""

    start: int
    end: int
    perms: str  # e.g. "rw-p"
    path: str  # the mapped file; "" or "[heap]", "[anon:...]" for the process's own memory


def _maps(path: str = "/proc/self/maps") -> list[Mapping]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:  # not Linux
        return []
    out = []
    for line in lines:
        parts = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in parts[0].split("-"))
        out.append(Mapping(start, end, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return out


def _is_file(mapping: Mapping) -> bool:
    return mapping.path.startswith("/") and not mapping.path.endswith(" (deleted)")


def file_ranges(tensors: Iterable[Any], maps: list[Mapping] | None = None) -> list[tuple[int, int, Mapping]]:
    """(address, bytes, mapping) of each distinct storage among ``tensors`` that lies wholly inside a
    mapping of a file (a checkpoint mapped by safetensors); storages in the process's own memory are left
    out."""
    maps = _maps() if maps is None else maps
    seen, out = set(), []
    for tensor in tensors:
        storage = tensor.untyped_storage()
        address, size = storage.data_ptr(), storage.nbytes()
        if address in seen or size == 0:
            continue
        seen.add(address)
        mapping = next((m for m in maps if m.start <= address and address + size <= m.end), None)
        if mapping is not None and _is_file(mapping):
            out.append((address, size, mapping))
    return out


def _written_kib(mappings: Iterable[Mapping], path: str = "/proc/self/smaps") -> int:
    """KiB of pages of ``mappings`` written since they were mapped (smaps' Anonymous: a private copy)."""
    starts = {m.start for m in mappings}
    written, inside = 0, False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                head = line.split(maxsplit=1)[0]
                if "-" in head and not head.endswith(":"):
                    inside = int(head.split("-")[0], 16) in starts
                elif inside and head == "Anonymous:":
                    written += int(line.split()[1])
    except OSError:
        return 1  # cannot tell: treat as written
    return written


def _part(model: Any, name: str) -> Any:
    """``model.name`` or ``model.model.name`` (transformers 4 and 5 nest LLaVA's parts differently)."""
    return getattr(model, name, None) or getattr(getattr(model, "model", None), name, None)


class Halves:
    """Keeps one of a LLaVA model's halves resident while a photo is read. Build it with :meth:`attach`."""

    def __init__(self, vision: list, language: list) -> None:
        self.vision, self.language = vision, language  # (address, bytes, mapping) to hand back
        self.dropped = 0  # bytes handed back so far (whole pages)
        self.drops = 0
        self._hooks: list = []
        self._on = True

    @classmethod
    def attach(cls, model: Any) -> Halves | None:
        """Hooks on ``model`` that hand back each half when the other starts; None where the model's
        weights are not mapped from a file (nothing could be handed back safely) or it has no vision tower."""
        tower, projector = _part(model, "vision_tower"), _part(model, "multi_modal_projector")
        language, head = _part(model, "language_model"), getattr(model, "lm_head", None)
        if tower is None or projector is None or language is None:
            return None
        maps = _maps()
        vision = file_ranges([*tower.parameters(), *projector.parameters()], maps)
        words = file_ranges([*language.parameters(), *(head.parameters() if head is not None else ())], maps)
        if not vision or not words:
            log.info("the model's halves stay resident: its weights are not mapped from the checkpoint")
            return None
        halves = cls(vision, words)
        def before_vision(module: Any, args: Any) -> None:  # (a hook that returned something would replace
            halves.drop_language()                            # the module's arguments or output)

        def after_vision(module: Any, args: Any, out: Any) -> None:
            halves.drop_vision()

        halves._hooks = [tower.register_forward_pre_hook(before_vision), projector.register_forward_hook(after_vision)]
        log.info("the model's halves take turns: %.2f GB of vision tower, %.2f GB of language model mapped",
                 sum(s for _, s, _ in vision) / 1e9, sum(s for _, s, _ in words) / 1e9)
        return halves

    def drop_vision(self) -> int:
        """Hand back the vision tower's pages (it has read the photo); returns the bytes."""
        return self._drop(self.vision)

    def drop_language(self) -> int:
        """Hand back the language model's pages (the vision tower is about to read a photo)."""
        return self._drop(self.language)

    def detach(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def _drop(self, ranges: list) -> int:
        if not self._on:
            return 0
        if _written_kib({m for _, _, m in self.vision + self.language}):
            # Something wrote into the mapped weights: their pages are the process's own now, and handing
            # them back would bring back the file's. Stay resident from here on.
            log.warning("the model's mapped weights were written to; its halves stay resident from now on")
            self._on = False
            return 0
        dropped = sum(drop_pages(address, size) for address, size, _ in ranges)
        self.dropped += dropped
        self.drops += 1
        return dropped
