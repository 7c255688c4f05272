"""The app side of SeeSay: everything the Streamlit pages share.

* ``resources``  the settings and the pipeline of this process (the only ``st.cache_resource``)
* ``state``      what one browser session holds: photo, conversation, history, preferences
* ``browser``    the JavaScript side: live region (announcer), audio player, button labels, CSS
* ``render``     plain-text answers, photos, errors
* ``asking``     hands photos and questions to the pipeline and puts its events on the page
* ``export``     the history as an HTML document and as JSON
* ``page``       what every page does first

``core`` never imports this package; this package is the only one that imports Streamlit
besides the pages themselves.
"""
