"""SeeSay's home page: what it does, how to use it without sight, model status, privacy."""

from __future__ import annotations

import os

import streamlit as st

from core import download
from core.engines import is_private, voice_name
from core.errors import SeeSayError
from ui import page, resources
from ui.render import guard
from ui.state import session

conf = page.setup("Home")

st.title("SeeSay: hear what is in a photo", anchor=False)
st.markdown(
    "Take a photo or choose one, and SeeSay tells you what is in it, out loud. "
    "Then ask about it by voice or by typing: *what does the label say?*, *is the light on?* "
    "The answer is read aloud and shown as text. Everything runs on this SeeSay server."
)

st.header("How to use SeeSay without sight", anchor=False)
st.markdown(
    """
- **Stop speaking** and **Play answer again** are the first two buttons on every page, at the very top.
- **Describe a photo**: a heading and a short instruction, then the camera (the back lens on a phone;
  **Switch camera** turns to the front one) and its **Take photo** button,
  then **Upload** to choose a photo, which on a phone can also open the phone's own camera.
  SeeSay speaks a short description as soon as the photo arrives; **More detail** asks for a longer one.
  If the photo is blurred, too dark, too bright or shows almost nothing, SeeSay says so first and how
  to take it again; **Describe anyway** describes it as it is.
- **Quick questions**, under the photo: **Read the text** reads every word exactly as written, with a
  text reader made for that; **What colours?**, **Who is there?**, **What is ahead?** (obstacles first,
  with clock directions).
- **Ask by voice**: the photo, then **Record your question** (press again to stop),
  or type your question and press Enter. Follow-up questions are about the same photo;
  **New photo** starts again.
- **History**: every question and answer of this visit, to replay, delete or download.
- **Settings**: automatic speech on or off, speech speed, voice, private mode, answer length and
  language, larger text, high contrast.

Pages are listed in the sidebar navigation. SeeSay tells your screen reader when a photo or a
recording has arrived, when it is thinking, when the answer is ready, and how sure it is of it.
When it is not sure, it says so; when the photo cannot answer the question, it says what to change.
Answers about medicine, money, allergens or dates are checked against the label's own text, and end
with a reminder to check with someone sighted before acting on them.
"""
)

st.header("Models", anchor=False)
with guard():
    if conf is None:
        st.warning("The models cannot be loaded until the setting above is fixed.")
    else:
        models = resources.pipeline().models
        choices = session().prefs.choices()
        # First start on a new machine: the models are fetched before they load, with progress in bytes.
        fetching = st.empty()

        def show_download(progress: download.Progress) -> None:
            page.announce_once("models-downloading", "SeeSay is downloading its models for the first time. "
                                                     "This can take several minutes.")
            fetching.progress(progress.fraction, text=progress.describe())

        try:
            fetched = download.fetch(conf, show_download)
            if fetched.downloaded:
                fetching.success(fetched.describe())
        except SeeSayError as error:  # the bar stays where the download stopped
            st.error(error.spoken)
        steps = [
            ("Vision-language model (answers questions about the photo)", models.vlm,
             "vlm", "SEESAY_LLAVA_MODEL"),
            ("Speech recognition (understands spoken questions)", models.stt,
             "stt", "SEESAY_WHISPER_MODEL"),
            ("Text reader (reads the writing in photos, word for word)", models.ocr,
             "ocr", "SEESAY_OCR_ENGINE"),
            ("Voice (reads answers aloud)",
             lambda: models.voice(voice_name(conf, choices), is_private(conf, choices)),
             "voice", "SEESAY_TTS_ENGINE"),
        ]
        bar = st.progress(0, text="Loading the models. The first time this can take a few minutes.")
        results = []
        for i, (label, load, which, variable) in enumerate(steps):
            bar.progress(i / len(steps), text=f"Loading: {label.split(' (')[0]}…")
            try:
                load()
                results.append((label, which, variable, None))
            except SeeSayError as error:
                results.append((label, which, variable, error))
        bar.empty()
        failed = [r for r in results if r[3] is not None]
        for label, _, variable, error in results:
            if error is None:
                st.success(f"{label}: ready.")
            else:
                st.error(f"{label}: not available. {error.spoken} The setting to change is {variable}.")
        if failed:
            page.announce_once("models-failed", f"{len(failed)} of SeeSay's models could not be loaded. "
                                                "Details are under the Models heading.")
            if any(which == "vlm" for _, which, _, _ in failed):
                st.markdown("Without the vision-language model SeeSay cannot answer. "
                            "Your history still works.")
            elif any(which == "stt" for _, which, _, _ in failed):
                st.markdown("Without speech recognition you can still type your questions.")
            if any(which == "ocr" for _, which, _, _ in failed):
                st.markdown("Without the text reader, questions about writing are answered by the "
                            "vision-language model alone, which often misreads it; SeeSay says so each time.")
            offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
            st.markdown(
                ("This machine is set to work without the Hugging Face hub (HF_HUB_OFFLINE), so models "
                 "cannot be downloaded. " if offline else
                 "If this machine cannot reach the Hugging Face hub, models cannot be downloaded. ")
                + "Point SeeSay at models on this machine instead: set SEESAY_LLAVA_MODEL to a LLaVA "
                "folder and SEESAY_WHISPER_MODEL to a Whisper file or folder. To try SeeSay with small "
                "test models, run `python -m core make-test-models DIR`: it builds them and prints "
                "the export lines to use, then restart SeeSay."
            )
            if st.button("Try loading the models again"):
                for _, which, _, _ in failed:
                    resources.retry(which)
                st.rerun()
        else:
            page.announce_once("models-ready", "SeeSay is ready.")

st.header("Privacy", anchor=False)
remote = conf is not None and conf.vlm_engine == "openai"
st.markdown(
    ("""
- The model that answers runs on another server, which whoever runs SeeSay chose: your photos and
  your questions are sent to it to be answered.""" if remote else "") + """
- Your photos, recordings and questions stay on this SeeSay server""" + (" and that answering server" if remote else "") + """
  and in this browser tab only. They are kept in memory for this visit, never saved to disk, and are
  gone when you close the tab or delete them on the History page.
- The **Google voice** (gTTS) sends the text of each answer to Google to turn it into speech.
  The **automatic** voice uses it when it can, unless whoever runs SeeSay chose otherwise.
- The **offline voice** and **private mode** send nothing anywhere: all speech is made on this server.
"""
)
