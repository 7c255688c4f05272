"""The History page: every question and answer of this visit, to replay, delete or download."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import streamlit as st

from . import browser, export
from .render import show_entry, show_photo
from .state import session

__all__ = ["show"]


def _delete_one(entry_id: int) -> None:
    s = session()
    if s.delete_entry(entry_id):
        s.flash = "Deleted that question and answer."
        browser.announce_later(s.flash)


def _ask_delete_all() -> None:
    s = session()
    s.confirm_delete_all = True
    browser.announce_later(f"Delete all {len(s.entries)} questions and answers and their photos? "
                           "Choose Yes, delete everything, or No, keep my history.")


def _delete_all(confirmed: bool) -> None:
    s = session()
    s.confirm_delete_all = False
    if confirmed:
        count = s.delete_all()
        plural = "s" if count != 1 else ""
        s.flash = f"Deleted everything: {count} question{plural} and answer{plural}, and the photos."
    else:
        s.flash = "Nothing was deleted."
    browser.announce_later(s.flash)


def show() -> None:
    """The history: downloads, deleting, then every entry under its photo."""
    s = session()
    with s.lock:
        entries = list(s.entries)
    if not entries:
        st.markdown("No questions yet in this visit. Describe a photo or ask about one, "
                    "and every question and answer appears here.")
        return
    st.markdown(f"{len(entries)} question{'s' if len(entries) != 1 else ''} and answers in this "
                "visit. They are kept only in this browser tab.")
    st.header("Download or delete", anchor=False)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    st.download_button("Download as a web page (HTML)", export.to_html(s), f"seesay-history-{stamp}.html",
                       mime="text/html", on_click="ignore")
    st.download_button("Download as data (JSON)", export.to_json(s), f"seesay-history-{stamp}.json",
                       mime="application/json", on_click="ignore")
    if s.confirm_delete_all:
        st.warning(f"Delete all {len(entries)} questions and answers and their photos? "
                   "This cannot be undone.")
        st.button("Yes, delete everything", on_click=_delete_all, args=(True,))
        st.button("No, keep my history", on_click=_delete_all, args=(False,))
    else:
        st.button("Delete all history", on_click=_ask_delete_all)

    count = 0
    for number, (_, group) in enumerate(groupby(entries, key=lambda e: e.conversation), start=1):
        group = list(group)
        st.header(f"Photo {number}", anchor=False)
        show_photo(s, group[0].photo_key)
        for entry in group:
            count += 1
            label = "description" if entry.kind.is_description else "question"
            show_entry(entry, heading=f"{count}. A {label} at {entry.asked_at[11:16]}")
            st.button("Delete this question and answer", key=f"delete-{entry.id}",
                      on_click=_delete_one, args=(entry.id,))
