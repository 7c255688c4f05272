"""Command line: ``python -m core ask ...``, ``python -m core download`` and ``python -m core make-test-models DIR``.

``ask`` runs the whole pipeline on a photo and a spoken, typed or quick question, with the engines
the ``SEESAY_`` settings choose. SeeSay's own words (guidance, remarks, errors, these messages) are in
``--language`` when given, else in the typed question's language (:func:`core.i18n.words_language`). ``download`` fetches, before anyone asks, the models those settings
use. Bad input, and a model that cannot be had, exit with status 2 and the message a user would hear;
a photo too flawed to answer well exits with status 3 and its guidance, unless ``--anyway``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import SeeSayError
from .i18n import translator, words_language

#: the language of SeeSay's own words in this run: the setting, then the question's (see _ask)
_words = {"language": "en"}


def _ask(args: argparse.Namespace) -> int:
    from .config import load_settings
    from .engines import Choices
    from .language import detect_language
    from .pipeline import (AnswerText, Asked, Done, PhotoTaken, Pipeline, QualityMeasured, Queued, Remark,
                           TextRead, Transcribed)

    # a typed question's language is known before anything is said (the photo's guidance, an error);
    # a spoken one's once it is heard
    heard = detect_language(args.question) if args.question else ""
    _words["language"] = words_language(Choices(language=args.language or "", ui_language=heard))
    _ = translator(_words["language"])
    settings = load_settings()
    pipeline = Pipeline(settings)
    data = Path(args.image).read_bytes()
    choices = Choices(private=settings.private, language=args.language or "", ui_language=heard)
    photo = quality = reading = None
    for event in pipeline.take_photo(data, choices, spoken=args.audio is not None, anyway=args.anyway):
        if isinstance(event, PhotoTaken):
            photo = event.photo
        elif isinstance(event, QualityMeasured):
            quality = event.quality
        elif isinstance(event, TextRead):
            reading = event.reading
    if not quality.ok and not args.anyway:  # guidance first; --anyway answers the photo as it is
        if args.json:
            print(json.dumps({"quality": _quality_json(quality), "answer": None, "guidance": quality.guidance},
                             ensure_ascii=False, indent=2))
        else:
            print(quality.guidance)
            print(_("Add --anyway to have it answered as it is."), file=sys.stderr)
        return 3
    if args.quick:
        events = pipeline.quick(photo, args.quick, (), choices)
    else:
        question: str | bytes = args.question if args.question is not None else Path(args.audio).read_bytes()
        events = pipeline.ask(photo, question, (), choices, max_tokens=args.max_tokens or None,
                              min_tokens=args.min_tokens, samples=args.samples)
    answer = None
    for event in events:
        if isinstance(event, Asked):  # a spoken question's language is known now
            _words["language"] = words_language(choices, event.language)
            _ = translator(_words["language"])
        elif isinstance(event, Queued):
            print(_.ngettext("Waiting: {count} question is ahead of yours.", "Waiting: {count} questions are ahead "
                             "of yours.", event.ahead, count=event.ahead), file=sys.stderr)
        elif isinstance(event, Transcribed) and not args.json:
            print(_("You asked: {question}", question=event.transcript.text))
        elif isinstance(event, Remark) and not args.json:
            print(event.text, file=sys.stderr)
        elif isinstance(event, AnswerText) and not args.json:
            print(event.text, end="", flush=True)
        elif isinstance(event, Done):
            answer = event.answer
    assert answer is not None
    if reading is None:
        found = pipeline.reading(photo)
        reading = None if isinstance(found, SeeSayError) else found
    out = None
    if answer.speech is not None:
        suffix = ".mp3" if answer.speech.mime == "audio/mpeg" else ".wav"
        out = Path(args.out) if args.out else Path(f"answer{suffix}")
        out.write_bytes(answer.speech.audio)
    if args.json:
        print(json.dumps({
            "quality": _quality_json(quality),
            "transcript": answer.transcript.text if answer.transcript else None,
            "language": answer.language,
            "question": answer.question,
            "question_language": answer.question_language,
            "answer": answer.text,
            "confidence": answer.confidence,  # 0..1 from the model's token probabilities; null: unknown
            "agreement": answer.agreement,  # 0..1 with answers sampled again (--samples); null: not measured
            "hedged": answer.hedged,
            "unanswerable": answer.unanswerable,
            "double_check": _double_check_json(answer.double_check),
            "remarks": [{"text": r.text, "after": r.after} for r in answer.remarks],
            "text_found": reading.text if reading is not None else None,
            "engines": answer.engines,
            "audio": str(out) if out else None,
            "audio_mime": answer.speech.mime if answer.speech else None,
            "speech_error": answer.speech_error or None,
            "timings": {k: round(v, 3) for k, v in answer.timings.items()},
        }, ensure_ascii=False, indent=2))
    else:
        print()
        if out:
            print(_("Answer audio: {path}", path=out))
        if answer.speech_error:
            print(answer.speech_error, file=sys.stderr)
    return 0


def _double_check_json(verdict) -> dict | None:
    if verdict is None:
        return None
    return {"domain": verdict.domain, "agreed": [v.spoken for v in verdict.agreed],
            "disagreed": [{"answer": v.spoken, "label": [w.spoken for w in theirs]}
                          for v, theirs in verdict.disagreed],
            "not_on_label": [v.spoken for v in verdict.invented], "label": [v.spoken for v in verdict.label]}


def _quality_json(quality) -> dict:
    return {"ok": quality.ok, "findings": [{"kind": f.kind, "measure": round(f.measure, 4), "guidance": f.guidance}
                                           for f in quality.findings],
            "measures": {k: round(v, 4) for k, v in quality.measures.items()}}


def _download(args: argparse.Namespace) -> int:
    import time

    from .config import load_settings
    from .download import fetch, plan

    settings = load_settings()
    for model in plan(settings):
        where = {"hub": "from the Hugging Face hub", "whisper": "from openai-whisper's server"}.get(
            model.source, model.note)
        print(f"{model.label} ({model.setting}: {model.name or 'default'}): {where}")
    tty = sys.stdout.isatty()
    last = {"percent": -1, "time": 0.0, "step": 0}

    def show(progress) -> None:
        percent = int(100 * progress.fraction)
        if tty:  # one line, rewritten in place
            print(f"\r{progress.describe()}\033[K", end="", flush=True)
            return
        # a log (docker build, CI): a line every 5% or 30 s, and when a model starts
        now = time.monotonic()
        if progress.step != last["step"] or percent >= last["percent"] + 5 or now - last["time"] >= 30 \
                or (progress.total and progress.done >= progress.total and percent != last["percent"]):
            last.update(percent=percent, time=now, step=progress.step)
            print(progress.describe(), flush=True)

    fetched = fetch(settings, show, timeout=args.timeout or None)
    if tty and fetched.downloaded:
        print()
    print(fetched.describe())
    return 0


def _make_test_models(args: argparse.Namespace) -> int:
    from .testmodels import build_all

    models = build_all(args.dir)
    print("# Test models built offline. Point SeeSay at them with:")
    for line in models.exports():
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="SeeSay from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ask", help="ask a question about a photo and get a spoken answer")
    p.add_argument("--image", required=True, help="the photo")
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--audio", help="a recorded question (wav, webm, ogg, mp3, m4a, flac)")
    q.add_argument("--question", help="a typed question")
    q.add_argument("--quick", metavar="NAME", help="a quick question: describe, read, colours, people, ahead")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="also write the answer N more times with sampling and measure how they agree "
                        "(default SEESAY_CONFIDENCE_SAMPLES)")
    p.add_argument("--anyway", action="store_true",
                   help="answer even when the photo's quality is poor (otherwise its guidance is printed, status 3)")
    p.add_argument("--out", help="where to write the answer audio (default answer.mp3 or answer.wav)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--language", default="", metavar="CODE",
                   help="the language of answers and of SeeSay's own words (en, es, fr, de, it, pt, nl; "
                        "default: the question's)")
    p.add_argument("--max-tokens", type=int, default=0, help="answer length limit (default SEESAY_MAX_ANSWER_TOKENS)")
    p.add_argument("--min-tokens", type=int, default=0, help=argparse.SUPPRESS)  # benchmarks
    p.set_defaults(func=_ask)
    d = sub.add_parser("download", help="download the models the SEESAY_ settings use, before anyone asks")
    d.add_argument("--timeout", type=float, default=0,
                   help="seconds each request may wait for the server (default SEESAY_NETWORK_TIMEOUT)")
    d.set_defaults(func=_download)
    m = sub.add_parser("make-test-models", help="build the tiny offline test models")
    m.add_argument("dir", help="folder to build them in")
    m.set_defaults(func=_make_test_models)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except SeeSayError as error:
        print(error.spoken_in(_words["language"]), file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        _ = translator(_words["language"])
        print(_("I could not find the file {name}. Please check the path.", name=error.filename), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
