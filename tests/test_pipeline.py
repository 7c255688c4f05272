"""SeeSay's answering stages on scripted engines: events, order, streaming speech, errors, queueing."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from core.answering import in_turn
from core.config import Settings
from core.engines import Engines
from core.errors import GenerationError, NoSpeechError, QuestionError
from core.pipeline import AnswerAudio, AnswerText, Asked, Done, Queued, Transcribed, Turn
from core.speaker import split_sentences
from core.turns import TurnLock
from tests.fakes import FakeSTT, FakeTTS, FakeVLM
from tests.fakes import answer as answer_on

PHOTO = SimpleNamespace(key="photo-1")


def speech_wav(text="Is the door open or closed?"):
    """A real spoken question, from the offline voice (espeak-ng)."""
    from core.tts import load_tts

    return load_tts("espeak", private=True, timeout=5).synthesize(text, "en").audio


def run(engines, question, history=(), **fields):
    return list(answer_on(engines, PHOTO, question, history, **fields))


def test_typed_question_streams_text_then_audio_then_done():
    engines = Engines(vlm=FakeVLM(), voice=FakeTTS())
    events = run(engines, "What colour is the car?")
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Asked", "AnswerText"] and kinds[-1] == "Done"
    assert events[0] == Asked("What colour is the car?", "en")  # the question as understood, its language
    done = events[-1].answer
    assert done.text == FakeVLM().answer
    assert "".join(e.text for e in events if isinstance(e, AnswerText)) == done.text
    spoken = [e.text for e in events if isinstance(e, AnswerAudio)]
    assert spoken == ["There is a red car.", "A person is crossing the street.", "The sign says stop."]
    assert done.speech is not None and done.speech.mime == "audio/wav"
    assert {"transcript", "first_token", "generate", "first_audio", "total"} <= set(done.timings)


def test_first_sentence_is_spoken_while_the_model_is_still_writing():
    vlm = FakeVLM(answer="First sentence is here. " + " ".join(["word"] * 30) + ".", delay=0.02)
    engines = Engines(vlm=vlm, voice=FakeTTS())
    events = run(engines, "Describe it")
    first_audio = next(i for i, e in enumerate(events) if isinstance(e, AnswerAudio))
    last_text = max(i for i, e in enumerate(events) if isinstance(e, AnswerText))
    assert first_audio < last_text
    done = events[-1].answer
    assert done.timings["first_audio"] < done.timings["generate"]


def test_spoken_question_is_checked_transcribed_and_reported():
    engines = Engines(vlm=FakeVLM(), stt=FakeSTT(text="Is the door open?", language="en"), voice=FakeTTS())
    events = run(engines, speech_wav())
    transcribed = [e for e in events if isinstance(e, Transcribed)]
    assert len(transcribed) == 1 and transcribed[0].transcript.text == "Is the door open?"
    assert engines.vlm.calls[0]["question"] == "Is the door open?"
    assert events[-1].answer.transcript.text == "Is the door open?"
    assert "transcribe" in events[-1].answer.timings


def test_silent_recording_never_reaches_whisper():
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(32000, dtype=np.float32), 16000, format="WAV")
    stt = FakeSTT()
    stt.transcribe = lambda *a, **k: pytest.fail("Whisper ran on silence")
    with pytest.raises(NoSpeechError) as info:
        run(Engines(vlm=FakeVLM(), stt=stt), buf.getvalue())
    assert "type" in info.value.spoken.lower()


def test_whisper_hearing_nothing_is_a_no_speech_error():
    engines = Engines(vlm=FakeVLM(), stt=FakeSTT(text="", no_speech_prob=0.9))
    with pytest.raises(NoSpeechError):
        run(engines, speech_wav())


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 10_000])
def test_bad_typed_questions_are_refused_before_the_model(question):
    vlm = FakeVLM()
    with pytest.raises(QuestionError) as info:
        run(Engines(vlm=vlm), question)
    assert info.value.hint and not vlm.calls


def test_follow_up_passes_history_and_options():
    vlm = FakeVLM()
    history = [Turn("What is this?", "A red car.")]
    run(Engines(vlm=vlm), "Is it parked?", history, max_new_tokens=33, min_new_tokens=5)
    call = vlm.calls[0]
    assert call["history"] == history and call["max_new_tokens"] == 33 and call["min_new_tokens"] == 5


def test_language_of_question_reaches_the_voice():
    tts = FakeTTS()
    run(Engines(vlm=FakeVLM(answer="Hay un coche rojo en la calle."), voice=tts), "¿De qué color es el coche?")
    assert tts.spoken and {lang for _, lang in tts.spoken} == {"es"}


def test_fixed_answer_language_wins():
    tts = FakeTTS()
    run(Engines(vlm=FakeVLM(), voice=tts), "What is this?", language="fr")
    assert {lang for _, lang in tts.spoken} == {"fr"}


def test_speech_off_gives_text_only():
    tts = FakeTTS()
    events = run(Engines(vlm=FakeVLM(), voice=tts), "What is this?", speak=False)
    assert not tts.spoken and events[-1].answer.speech is None


def test_voice_failure_keeps_the_text_answer():
    events = run(Engines(vlm=FakeVLM(), voice=FakeTTS(fail=True)), "What is this?")
    answer = events[-1].answer
    assert answer.text == FakeVLM().answer and answer.speech is None
    assert "voice" in answer.speech_error.lower()


def test_model_failure_is_raised_and_frees_the_turn():
    engines = Engines(vlm=FakeVLM(error=GenerationError("The model ran out of memory.", "Ask again.")))
    with pytest.raises(GenerationError):
        run(engines, "What is this?")
    assert len(engines.lock) == 0
    engines.vlm.error = None
    assert isinstance(run(engines, "Again?")[-1], Done)


def test_empty_answer_is_a_generation_error():
    with pytest.raises(GenerationError):
        run(Engines(vlm=FakeVLM(answer="")), "What is this?")


def test_leaving_half_way_frees_the_turn():
    engines = Engines(vlm=FakeVLM(), voice=FakeTTS())
    events = answer_on(engines, PHOTO, "What is this?")
    next(events)
    events.close()
    assert len(engines.lock) == 0


def test_second_question_waits_its_turn_and_is_told_so():
    vlm = FakeVLM(delay=0.01)
    engines = Engines(vlm=vlm)
    results = {}

    def person(name, question):
        results[name] = list(answer_on(engines, PHOTO, question))

    first = threading.Thread(target=person, args=("a", "first?"))
    first.start()
    while not vlm.calls:
        time.sleep(0.001)
    person("b", "second?")
    first.join(10)
    queued = [e for e in results["b"] if isinstance(e, Queued)]
    assert queued and queued[0].ahead == 1
    assert vlm.max_active == 1
    assert results["b"][-1].answer.question == "second?"


def test_prepare_photo_hands_the_photo_to_the_model_in_its_turn():
    vlm, lock = FakeVLM(), TurnLock()
    assert list(in_turn(lock, lambda: vlm.prepare(PHOTO))) == []  # nobody else was waiting
    assert vlm.prepared == ["photo-1"] and len(lock) == 0


@pytest.mark.parametrize("text,sentences,rest", [
    ("There is a red car. It is parked", ["There is a red car."], "It is parked"),
    ("Yes. The door is open. ", ["Yes. The door is open."], ""),
    ("No full stop yet", [], "No full stop yet"),
    ("¿Qué es? Es un coche rojo. ", ["¿Qué es? Es un coche rojo."], ""),
    ("The price is 3.50 euros. Next", ["The price is 3.50 euros."], "Next"),
])
def test_split_sentences(text, sentences, rest):
    assert split_sentences(text) == (sentences, rest)


@pytest.mark.parametrize("debug", [False, True])
def test_question_and_answer_reach_the_log_only_when_debugging(caplog, debug):
    caplog.set_level("DEBUG")
    run(Engines(vlm=FakeVLM(), voice=FakeTTS()), "Is my passport on the table?", settings=Settings(debug=debug))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ("passport" in logged) is debug
    assert ("red car" in logged) is debug


def test_a_chosen_answer_language_is_a_note_after_the_question_not_a_turn():
    vlm = FakeVLM()
    history = [Turn("What is this?", "A red car.")]
    run(Engines(vlm=vlm), "Is it parked?", history, language="fr")
    call = vlm.calls[0]
    assert call["history"] == history and call["question"] == "Is it parked?"
    assert call["notes"][-1] == "Answer in French." and len(call["notes"]) == 2
    run(Engines(vlm=vlm), "Is it parked?", history)
    assert "Answer in French." not in vlm.calls[1]["notes"]


def test_a_recording_is_heard_then_transcribed_then_asked():
    engines = Engines(vlm=FakeVLM(), stt=FakeSTT(text="Is the door open?"))
    events = run(engines, speech_wav())
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["Heard", "Transcribed", "Asked"]
    heard = events[0]
    assert heard.speech_check.has_speech and heard.recording.duration > 0.5
    assert heard.spectrogram_png().startswith(b"\x89PNG")
    assert events[2] == Asked("Is the door open?", "en")


def test_a_silent_recording_is_still_heard_before_it_is_refused():
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(32000, dtype=np.float32), 16000, format="WAV")
    seen = []
    with pytest.raises(NoSpeechError):
        for event in answer_on(Engines(vlm=FakeVLM(), stt=FakeSTT()), PHOTO, buf.getvalue()):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["Heard"] and not seen[0].speech_check.has_speech
