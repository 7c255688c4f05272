"""The History page: every question and answer of this visit, to replay, delete or download."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import streamlit as st

from . import browser, export
from .render import show_entry, show_photo
from .state import session
from .words import words

__all__ = ["show"]


def _delete_one(entry_id: int) -> None:
    s = session()
    if s.delete_entry(entry_id):
        _ = words(s)
        s.flash = _("Deleted that question and answer.")
        browser.announce_later(s.flash)


def _ask_delete_all() -> None:
    s = session()
    s.confirm_delete_all = True
    browser.announce_later(words(s).ngettext(
        "Delete {count} question and answer and its photo? "
        "Choose Yes, delete everything, or No, keep my history.",
        "Delete all {count} questions and answers and their photos? "
        "Choose Yes, delete everything, or No, keep my history.", len(s.entries), count=len(s.entries)))


def _delete_all(confirmed: bool) -> None:
    s = session()
    s.confirm_delete_all, _ = False, words(s)
    if confirmed:
        count = s.delete_all()
        s.flash = _.ngettext("Deleted everything: {count} question and answer, and the photos.",
                             "Deleted everything: {count} questions and answers, and the photos.", count, count=count)
    else:
        s.flash = _("Nothing was deleted.")
    browser.announce_later(s.flash)


def show() -> None:
    """The history: downloads, deleting, then every entry under its photo."""
    s = session()
    _ = words(s)
    with s.lock:
        entries = list(s.entries)
    if not entries:
        st.markdown(_("No questions yet in this visit. Describe a photo or ask about one, "
                      "and every question and answer appears here."))
        return
    st.markdown(_.ngettext("{count} question and answer in this visit. It is kept only in this browser tab.",
                           "{count} questions and answers in this visit. They are kept only in this browser tab.",
                           len(entries), count=len(entries)))
    st.header(_("Download or delete"), anchor=False)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    st.download_button(_("Download as a web page (HTML)"), export.to_html(s, _("SeeSay history")),
                       f"seesay-history-{stamp}.html", mime="text/html", on_click="ignore")
    st.download_button(_("Download as data (JSON)"), export.to_json(s), f"seesay-history-{stamp}.json",
                       mime="application/json", on_click="ignore")
    if s.confirm_delete_all:
        st.warning(_.ngettext("Delete {count} question and answer and its photo? This cannot be undone.",
                              "Delete all {count} questions and answers and their photos? This cannot be undone.",
                              len(entries), count=len(entries)))
        st.button(_("Yes, delete everything"), on_click=_delete_all, args=(True,))
        st.button(_("No, keep my history"), on_click=_delete_all, args=(False,))
    else:
        st.button(_("Delete all history"), on_click=_ask_delete_all)

    count = 0
    for number, (_conversation, group) in enumerate(groupby(entries, key=lambda e: e.conversation), start=1):
        group = list(group)
        st.header(_("Photo {number}", number=number), anchor=False)
        show_photo(s, group[0].photo_key)
        for entry in group:
            count += 1
            heading = (_("{number}. A description at {time}", number=count, time=entry.asked_at[11:16])
                       if entry.kind.is_description else
                       _("{number}. A question at {time}", number=count, time=entry.asked_at[11:16]))
            show_entry(entry, heading=heading)
            st.button(_("Delete this question and answer"), key=f"delete-{entry.id}",
                      on_click=_delete_one, args=(entry.id,))
