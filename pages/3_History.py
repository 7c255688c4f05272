"""History: every question and answer of this visit, to replay, delete or download."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import streamlit as st

from ui import browser, export, page, widgets
from ui.render import guard, show_photo
from ui.state import session

page.setup("History")  # works without settings and without any model
st.title("History", anchor=False)
s = session()


def delete_one(entry_id: int) -> None:
    if s.delete_entry(entry_id):
        s.flash = "Deleted that question and answer."
        browser.announce_later(s.flash)


def ask_delete_all() -> None:
    s.confirm_delete_all = True
    browser.announce_later(f"Delete all {len(s.entries)} questions and answers and their photos? "
                           "Choose Yes, delete everything, or No, keep my history.")


def delete_all(confirmed: bool) -> None:
    s.confirm_delete_all = False
    if confirmed:
        count = s.delete_all()
        s.flash = f"Deleted everything: {count} question{'s' if count != 1 else ''} and answer" \
                  f"{'s' if count != 1 else ''}, and the photos."
    else:
        s.flash = "Nothing was deleted."
    browser.announce_later(s.flash)


widgets.flash(s)
with guard():
    if not s.entries:
        st.markdown("No questions yet in this visit. Describe a photo or ask about one, "
                    "and every question and answer appears here.")
        st.stop()

    st.markdown(f"{len(s.entries)} question{'s' if len(s.entries) != 1 else ''} and answers in this "
                "visit. They are kept only in this browser tab.")
    st.header("Download or delete", anchor=False)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    st.download_button("Download as a web page (HTML)", export.to_html(s), f"seesay-history-{stamp}.html",
                       mime="text/html", on_click="ignore")
    st.download_button("Download as data (JSON)", export.to_json(s), f"seesay-history-{stamp}.json",
                       mime="application/json", on_click="ignore")
    if s.confirm_delete_all:
        st.warning(f"Delete all {len(s.entries)} questions and answers and their photos? "
                   "This cannot be undone.")
        st.button("Yes, delete everything", on_click=delete_all, args=(True,))
        st.button("No, keep my history", on_click=delete_all, args=(False,))
    else:
        st.button("Delete all history", on_click=ask_delete_all)

    count = 0
    for number, (_, group) in enumerate(groupby(s.entries, key=lambda e: e.conversation), start=1):
        group = list(group)
        st.header(f"Photo {number}", anchor=False)
        show_photo(s, group[0].photo_key)
        for entry in group:
            count += 1
            label = "description" if entry.kind.is_description else "question"
            widgets.show_entry(entry, heading=f"{count}. A {label} at {entry.asked_at[11:16]}")
            st.button("Delete this question and answer", key=f"delete-{entry.id}",
                      on_click=delete_one, args=(entry.id,))
