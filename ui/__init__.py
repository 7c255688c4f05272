"""The app side of SeeSay: everything the Streamlit pages share.

* ``resources``  the settings and the pipeline of this process (the only ``st.cache_resource``)
* ``state``      what one browser session holds: photo, conversation, history, preferences
* ``words``      SeeSay's own words in the person's language: the one place that language is chosen
* ``browser``    the JavaScript side: live region (announcer), audio player, button labels, CSS
* ``render``     plain-text answers, photos, errors
* ``asking``     photos and questions in (queued per session), answers out: said, played and drawn as
                 they come, each thing once
* ``jobs``       the session's worker: answers written on a thread of their own, apart from the page's
                 runs, and kept in the history when done
* ``widgets``    the photo inputs, the question inputs, the quick questions
* ``history``, ``settings``, ``home``  what the History, Settings and Home pages show and do
* ``export``     the history as an HTML document and as JSON
* ``page``       what every page does first

``core`` never imports this package; this package is the only one that imports Streamlit
besides the pages themselves.
"""
