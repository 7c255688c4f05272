"""The ``rapidocr`` engine: PP-OCRv4 detection, orientation and recognition, run by SeeSay itself.

The three ONNX models and their pre- and post-processing come from ``rapidocr-onnxruntime``
(pinned in requirements.txt); the flow between them is SeeSay's own, for three reasons:

* the recogniser's per-column probabilities are kept, so that spaces between words come from the
  model's own evidence (:mod:`core.ocr.spacing`) instead of being dropped;
* the detector sees the photo downscaled to ``Options.max_side`` but each line is cut from the
  full-size photo, so small print keeps every pixel it has;
* the lines are ordered by :mod:`core.ocr.layout` (columns, rotated photos) and every failure
  becomes a :class:`~core.errors.TextReadingError` a person can hear.

One reader is shared by every visitor of a process: :meth:`RapidReader.read` holds a lock around
the models (rapidocr's detector keeps per-call state on itself).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelUnavailableError, TextReadingError
from ..i18n import N_
from ..memory import give_back
from . import Line, Options, Reading
from .framing import cut_edges
from .layout import Piece, order
from .spacing import decode

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["RapidReader", "MODEL_FILES"]

log = logging.getLogger(__name__)

#: the model files, by stage, as the rapidocr-onnxruntime 1.4.4 wheel names them
MODEL_FILES = {
    "Det": "ch_PP-OCRv4_det_infer.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "Rec": "ch_PP-OCRv4_rec_infer.onnx",
}
#: a detected box thinner than this (pixels, in the full-size photo) holds nothing readable
MIN_BOX = 3
#: the orientation classifier is trusted alone when its vote (probability upside down) is this far from
#: 0.5; otherwise the line is also read the other way up and the better reading kept
SURE_WAY_UP = 0.4
#: a line that reads this nearly as well the other way up goes the way most lines go
SAME_BOTH_WAYS = 0.05
#: a line read with less confidence than Options.text_score is kept as unclear (Reading.skipped, for
#: framing advice) when it has at least this confidence and this many letters or digits; less is noise
#: (photos with no text give single letters or Chinese characters under 0.45)
UNCLEAR_SCORE = 0.25
UNCLEAR_CHARS = 3

_ASK_ADMIN = N_("Questions about the photo are still answered. Ask whoever runs SeeSay to reinstall it.")


class RapidReader:
    """PP-OCRv4 through onnxruntime on CPU."""

    name = "rapidocr"

    def __init__(self, options: Options = Options()) -> None:
        self.options = options
        try:
            import cv2  # noqa: F401  (rapidocr needs OpenCV; say so here, not at the first photo)
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime.ch_ppocr_cls import TextClassifier
            from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
            from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
            from rapidocr_onnxruntime.utils import read_yaml
        except ImportError as error:
            log.error("text reader unavailable: %s", error)
            raise ModelUnavailableError(N_("Text reading is not available on this SeeSay server: its software is not installed."), _ASK_ADMIN) from error
        package = Path(rapidocr_onnxruntime.__file__).parent
        config = read_yaml(package / "config.yaml")
        folder = Path(options.model_dir) if options.model_dir else package / "models"
        for stage, file in MODEL_FILES.items():
            path = folder / file
            if not path.is_file():
                log.error("text reader model missing: %s", path)  # a setting, not user content
                raise ModelUnavailableError(N_("Text reading is not available on this SeeSay server: a model file is missing."), _ASK_ADMIN)
            config[stage]["model_path"] = str(path)
            config[stage]["intra_op_num_threads"] = options.threads or -1
            config[stage]["inter_op_num_threads"] = -1
        t0 = time.perf_counter()
        try:
            self._detector = TextDetector(config["Det"])
            self._classifier = TextClassifier(config["Cls"])
            self._recogniser = TextRecognizer(config["Rec"])
        except Exception as error:  # onnxruntime's own errors: a broken or foreign .onnx file
            log.error("text reader models could not be loaded: %s", error)
            raise ModelUnavailableError(
                N_("Text reading is not available on this SeeSay server: its model files could not be loaded."),
                _ASK_ADMIN) from error
        self._alphabet = self._recogniser.postprocess_op.character  # [blank, ..., " "]
        self._batch = int(config["Rec"]["rec_batch_num"])
        self._lock = threading.Lock()
        log.info("text reader loaded in %.2f s (PP-OCRv4, %d characters)", time.perf_counter() - t0,
                 len(self._alphabet))

    # -- reading ----------------------------------------------------------------------------------
    def read(self, image: "Image.Image") -> Reading:
        """Read every line of ``image``; raises TextReadingError when the models fail on it."""
        t0 = time.perf_counter()
        try:
            bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        except Exception as error:  # a truncated or unreadable picture
            raise _failed(error) from error
        if bgr.ndim != 3 or min(bgr.shape[:2]) < 2:
            raise _failed(ValueError(f"unusable picture of shape {bgr.shape}"))
        try:
            with self._lock:
                pieces, unclear = self._pieces(bgr)
        except TextReadingError:
            raise
        except Exception as error:
            raise _failed(error) from error
        finally:
            give_back()  # the detector's working memory (~170 MB for a 1024 x 768 photo: core.memory)
        rows, angle = order(pieces)
        skipped, _ = order(unclear)
        lines = tuple(Line(r.text, r.box, r.score) for r in rows)
        unread = tuple(Line(r.text, r.box, r.score) for r in skipped)
        cut = cut_edges(bgr.mean(axis=2), (*lines, *unread)) if lines or unread else ()
        return Reading(lines=lines, text="\n".join(line.text for line in lines),
                       size=(bgr.shape[1], bgr.shape[0]), seconds=time.perf_counter() - t0, engine=self.name,
                       skipped=unread, angle=angle, cut=cut)

    def find(self, image: "Image.Image") -> tuple[tuple[tuple[float, float], ...], ...]:
        """Where there is text in ``image``, without reading it: each line's box (4 corners in the image's
        pixels, clockwise from the top-left of the writing taken the right way up, as ``Line.box``).

        The detector alone, at the picture's own size (rapidocr's own call scales small pictures up to 736
        pixels on their shorter side: four times the work for a 640-pixel frame): 30 to 90 ms for a
        640-pixel frame on 2 cores. The live camera asks it twice a second which edge the text runs off
        (:mod:`core.aiming`). No lock: onnxruntime runs a session from several threads, and this path
        keeps no state, so a frame never waits for someone else's whole reading. Raises TextReadingError.
        """
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        detector = self._detector
        try:
            bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
            size = bgr.shape[:2]
            prepare = DetPreProcess(max(size), "max", detector.mean, detector.std)
            found, _ = detector.postprocess_op(detector.infer(prepare(bgr))[0], size)
            boxes = detector.filter_tag_det_res(found, size)
        except Exception as error:
            raise _failed(error) from error
        lines = []
        for box in boxes:
            width = max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3]))
            height = max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2]))
            if min(width, height) >= MIN_BOX:  # tall boxes hold writing turned a quarter (as _crop)
                lines.append(_reading_corners(box, height / width >= 1.5, False))
        return tuple(lines)

    def _pieces(self, bgr: np.ndarray) -> tuple[list[Piece], list[Piece]]:
        """What was read (confident, unclear), with boxes in ``bgr``'s pixels."""
        lines = self._lines(bgr, self._detect(bgr))
        down = sum(_length(box) for box, _, turned in lines if turned)
        if down <= sum(_length(box) for box, _, turned in lines if not turned):
            return self._read_lines(lines)
        # Most text runs down the photo (a label photographed sideways). The detector misses parts
        # of such lines (a rendered letter turned 90 degrees lost half a line), so the photo is
        # turned upright and read again, and the boxes are turned back.
        votes = [v > 0.5 for v in self._upside_down([crop for _, crop, turned in lines if turned])]
        lengths = [_length(box) for box, _, turned in lines if turned]
        upwards = sum(n for n, v in zip(lengths, votes) if v) > sum(lengths) / 2
        quarter = -1 if upwards else 1  # np.rot90: 1 turns anticlockwise, -1 clockwise
        upright = np.ascontiguousarray(np.rot90(bgr, quarter))
        pieces, unclear = self._read_lines(self._lines(upright, self._detect(upright)))
        size = bgr.shape[:2]
        return [_turn_back(p, quarter, size) for p in pieces], [_turn_back(p, quarter, size) for p in unclear]

    @staticmethod
    def _lines(bgr: np.ndarray, boxes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """(box, straightened crop, turned a quarter) for each usable box."""
        out = []
        for box in boxes:
            crop, turned = _crop(bgr, box)
            if crop is not None:
                out.append((box, crop, turned))
        return out

    def _read_lines(self, lines: list[tuple[np.ndarray, np.ndarray, bool]]) -> tuple[list[Piece], list[Piece]]:
        if not lines:
            return [], []
        crops = [crop for _, crop, _ in lines]
        votes = self._upside_down(crops)
        flipped = [v > 0.5 for v in votes]
        texts = self._recognise([_flip(c) if f else c for c, f in zip(crops, flipped)])
        # A line read with little confidence may have been turned the wrong way; a line that reads
        # the same both ways ("0000", "NOON") goes the way most lines of its kind (turned or not) go.
        most = {turned: _mostly_flipped([i for i, line in enumerate(lines) if line[2] == turned], flipped, texts)
                for turned in (False, True)}
        minority = [flipped[i] != most[line[2]] for i, line in enumerate(lines)]
        retry = [i for i, t in enumerate(texts)
                 if t.score < self.options.text_score or minority[i] or abs(votes[i] - 0.5) < SURE_WAY_UP]
        if retry:
            again = self._recognise([crops[i] if flipped[i] else _flip(crops[i]) for i in retry])
            for i, other in zip(retry, again):
                same = minority[i] and other.score >= texts[i].score - SAME_BOTH_WAYS
                if other.score > texts[i].score or same:
                    texts[i], flipped[i] = other, not flipped[i]
        pieces, unclear = [], []
        for (box, _, turned), flip, decoded in zip(lines, flipped, texts):
            if not any(ch.isalnum() for ch in decoded.text):  # nothing to read: a flag's stars, a rule
                continue
            piece = Piece(decoded.text, _reading_corners(box, turned, flip), decoded.score)
            if decoded.score >= self.options.text_score:
                pieces.append(piece)
            elif decoded.score >= UNCLEAR_SCORE and sum(ch.isalnum() for ch in decoded.text) >= UNCLEAR_CHARS:
                unclear.append(piece)
        return pieces, unclear

    def _upside_down(self, crops: list[np.ndarray]) -> list[float]:
        """The probability that each line is upside down, by the orientation classifier.

        The classifier sees 192 x 48 pixels: a longer line would be squeezed until its letters are
        unrecognisable (a 60-character line of a letter was read upside down that way), so it is
        shown up to three pieces of the line, each four heights wide, and their votes are averaged.
        """
        pieces, owner = [], []
        for index, crop in enumerate(crops):
            height, width = crop.shape[:2]
            step = 4 * height
            starts = sorted({0, max(0, (width - step) // 2), max(0, width - step)}) if width > step else [0]
            for start in starts:
                pieces.append(crop[:, start:start + step])
                owner.append(index)
        _, results, _ = self._classifier(pieces)
        votes = np.zeros(len(crops))
        counts = np.zeros(len(crops))
        for index, (label, score) in zip(owner, results):
            votes[index] += score if label == "180" else 1.0 - score
            counts[index] += 1
        return [float(v / c) for v, c in zip(votes, counts)]

    def _detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Text boxes (4 x 2, clockwise from the image's top-left) in the full-size photo's pixels."""
        import cv2

        height, width = bgr.shape[:2]
        scale = min(1.0, self.options.max_side / max(height, width))
        small = bgr if scale == 1.0 else cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))),
                                                    interpolation=cv2.INTER_AREA)
        small, top = _letterbox(small)
        found, _ = self._detector(small)
        if found is None or len(found) == 0:
            return []
        boxes = []
        for box in np.asarray(found, dtype=np.float32):
            box = box.copy()
            box[:, 1] -= top
            box /= scale
            box[:, 0] = box[:, 0].clip(0, width - 1)
            box[:, 1] = box[:, 1].clip(0, height - 1)
            boxes.append(box)
        return boxes

    def _recognise(self, crops: list[np.ndarray]) -> list[Any]:
        """Each crop's decoded text, batched by width like rapidocr (similar widths pad least)."""
        rec = self._recogniser
        _, line_h, line_w = rec.rec_image_shape
        ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
        indexes = sorted(range(len(crops)), key=lambda i: ratios[i])
        out: list[Any] = [None] * len(crops)
        for start in range(0, len(indexes), self._batch):
            batch = indexes[start:start + self._batch]
            widest = max(line_w / line_h, *(ratios[i] for i in batch))
            inputs = np.stack([rec.resize_norm_img(crops[i], widest) for i in batch]).astype(np.float32)
            probs = rec.session(inputs)[0]
            padded = inputs.shape[-1]
            for row, i in enumerate(batch):
                used = min(padded, math.ceil(line_h * ratios[i]))  # columns of this line, not padding
                columns = math.ceil(probs.shape[1] * used / padded) + 1
                out[i] = decode(probs[row], self._alphabet, columns=columns, threshold=self.options.space_threshold)
        return out


def _mostly_flipped(indexes: list[int], flipped: list[bool], texts: list) -> bool:
    """Whether most of the text of these lines (by characters) was upside down."""
    weight = sum(sum(ch.isalnum() for ch in texts[i].text) * (1 if flipped[i] else -1) for i in indexes)
    return weight > 0


def _flip(crop: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(crop[::-1, ::-1])


def _length(box: np.ndarray) -> float:
    """The longer side of a box."""
    return float(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[0] - box[3])))


def _turn_back(piece: Piece, quarter: int, size: tuple[int, int]) -> Piece:
    """A piece read in the photo turned by np.rot90(..., quarter), with its box in the photo's own pixels."""
    height, width = size
    if quarter == 1:  # turned anticlockwise: (x', y') came from (width - 1 - y', x')
        box = tuple((width - 1 - y, x) for x, y in piece.box)
    else:  # turned clockwise: (x', y') came from (y', height - 1 - x')
        box = tuple((y, height - 1 - x) for x, y in piece.box)
    return Piece(piece.text, box, piece.score)


def _letterbox(img: np.ndarray) -> tuple[np.ndarray, int]:
    """Pad a picture the detector would see as a thin strip, as rapidocr does (the detector itself
    scales pictures up to 736 pixels on their shorter side); returns it and the top padding."""
    import cv2

    height, width = img.shape[:2]
    if height > 30 and width / height <= 8:
        return img, 0
    pad = max(0, (max(width // 8, 30) * 2 - height) // 2)
    border = np.median(np.concatenate([img[0], img[-1]]), axis=0).tolist()
    return cv2.copyMakeBorder(img, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=border), pad


def _crop(bgr: np.ndarray, box: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """The box's contents straightened to a horizontal strip; tall strips are turned a quarter anticlockwise."""
    import cv2

    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    if min(width, height) < MIN_BOX:
        return None, False
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if height / width >= 1.5:
        return np.ascontiguousarray(np.rot90(crop)), True
    return crop, False


def _reading_corners(box: np.ndarray, turned: bool, flipped: bool) -> tuple[tuple[float, float], ...]:
    """The box's corners clockwise from the text's own top-left.

    ``box`` is clockwise from the image's top-left. A strip turned a quarter anticlockwise starts
    at the box's top-right corner (its text reads downwards); one the classifier turned upside
    down starts two corners further on.
    """
    points = [(float(x), float(y)) for x, y in box]
    shift = (1 if turned else 0) + (2 if flipped else 0)
    return tuple(points[(i + shift) % 4] for i in range(4))


def _failed(error: BaseException) -> TextReadingError:
    log.error("text reading failed: %s: %s", type(error).__name__, error)
    return TextReadingError(N_("I could not read the text in this photo."),
                            N_("Questions about it are answered by the answering model alone."))
