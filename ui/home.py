"""The Home page's parts that depend on this server: whether the models are loaded (or why not, and
which setting to change), and what stays on this server."""

from __future__ import annotations

import os

import streamlit as st

from core import download
from core.engines import is_private, voice_name
from core.errors import SeeSayError

from . import page, resources
from .state import session
from .words import language, words

__all__ = ["show_models", "privacy"]


def show_models(conf) -> None:
    """Load every model (on a first start, downloading them first, with progress in bytes) and say which
    are ready; for those that are not, why, and what to change."""
    _ = words()
    if conf is None:
        st.warning(_("The models cannot be loaded until the setting above is fixed."))
        return
    models = resources.pipeline().models
    choices = session().choices()
    # First start on a new machine: the models are fetched before they load, with progress in bytes.
    fetching = st.empty()

    def show_download(progress: download.Progress) -> None:
        page.announce_once("models-downloading", _("SeeSay is downloading its models for the first time. "
                                                   "This can take several minutes."))
        fetching.progress(progress.fraction, text=progress.describe(language()))

    try:
        fetched = download.fetch(conf, show_download)
        if fetched.downloaded:
            fetching.success(fetched.describe(language()))
    except SeeSayError as error:  # the bar stays where the download stopped
        st.error(error.spoken_in(language()))
    steps = [
        (_("Vision-language model (answers questions about the photo)"), _("Vision-language model"),
         models.vlm, "vlm", "SEESAY_LLAVA_MODEL"),
        (_("Speech recognition (understands spoken questions)"), _("Speech recognition"), models.stt,
         "stt", "SEESAY_WHISPER_MODEL"),
        (_("Text reader (reads the writing in photos, word for word)"), _("Text reader"), models.ocr,
         "ocr", "SEESAY_OCR_ENGINE"),
        (_("Voice (reads answers aloud)"), _("Voice"),
         lambda: models.voice(voice_name(conf, choices), is_private(conf, choices)),
         "voice", "SEESAY_TTS_ENGINE"),
    ]
    bar = st.progress(0, text=_("Loading the models. The first time this can take a few minutes."))
    results = []
    for i, (label, short, load, which, variable) in enumerate(steps):
        bar.progress(i / len(steps), text=_("Loading: {model}…", model=short))
        try:
            load()
            results.append((label, which, variable, None))
        except SeeSayError as error:
            results.append((label, which, variable, error))
    bar.empty()
    failed = [r for r in results if r[3] is not None]
    for label, _which, variable, error in results:
        if error is None:
            st.success(_("{model}: ready.", model=label))
        else:
            st.error(_("{model}: not available. {problem} The setting to change is {variable}.", model=label,
                       problem=error.spoken_in(language()), variable=variable))
    if failed:
        _explain(failed)
    else:
        page.announce_once("models-ready", _("SeeSay is ready."))


def _explain(failed: list) -> None:
    """What still works without the models that failed, and how to point SeeSay at models on this machine."""
    _ = words()
    page.announce_once("models-failed", _.ngettext(
        "{count} of SeeSay's models could not be loaded. Details are under the Models heading.",
        "{count} of SeeSay's models could not be loaded. Details are under the Models heading.",
        len(failed), count=len(failed)))
    which = {result[1] for result in failed}
    if "vlm" in which:
        st.markdown(_("Without the vision-language model SeeSay cannot answer. Your history still works."))
    elif "stt" in which:
        st.markdown(_("Without speech recognition you can still type your questions."))
    if "ocr" in which:
        st.markdown(_("Without the text reader, questions about writing are answered by the "
                      "vision-language model alone, which often misreads it; SeeSay says so each time."))
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    st.markdown(
        (_("This machine is set to work without the Hugging Face hub (HF_HUB_OFFLINE), so models "
           "cannot be downloaded.") if offline else
         _("If this machine cannot reach the Hugging Face hub, models cannot be downloaded."))
        + " " + _("Point SeeSay at models on this machine instead: set SEESAY_LLAVA_MODEL to a LLaVA "
                  "folder and SEESAY_WHISPER_MODEL to a Whisper file or folder. To try SeeSay with small "
                  "test models, run `python -m core make-test-models DIR`: it builds them and prints "
                  "the export lines to use, then restart SeeSay.")
    )
    if st.button(_("Try loading the models again")):
        for which in {result[1] for result in failed}:
            resources.retry(which)
        st.rerun()


def privacy(conf) -> str:
    """What stays on this server, and what leaves it, with these settings (Markdown)."""
    remote, _ = conf is not None and conf.vlm_engine == "openai", words()
    if remote:
        first = _("""
- The model that answers runs on another server, which whoever runs SeeSay chose: your photos and
  your questions are sent to it to be answered.
- Your photos, recordings and questions stay on this SeeSay server and that answering server
  and in this browser tab only.""")
    else:
        first = _("""
- Your photos, recordings and questions stay on this SeeSay server and in this browser tab only.""")
    return first + _(""" They are kept in memory for this visit, never saved to disk, and are
  gone when you close the tab or delete them on the History page.
- The **Google voice** (gTTS) sends the text of each answer to Google to turn it into speech.
  The **automatic** voice uses it when it can, unless whoever runs SeeSay chose otherwise.
- The **offline voice** and **private mode** send nothing anywhere: all speech is made on this server.
""")
