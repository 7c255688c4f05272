"""One journey in Spanish, in a real browser set to Spanish (``locale="es-ES"``): the browser's language
chooses SeeSay's words before any question. The page (``<html lang="es">``), the controls' names, the
statuses, the photo's guidance and the choice to go on, the answer (random words: only that it comes),
with axe-core. Guidance texts themselves are core's (issue 20, h20core): only their presence is checked."""

from __future__ import annotations

import pytest
from browserkit import (LAST_ANSWER, PAGES, axe_violations, format_violations, live_region_log, settle,
                        unnamed_controls, wait_for_announcement, wait_until)

pytestmark = pytest.mark.browser

HOME, DESCRIBE, ASK, HISTORY, SETTINGS = PAGES


def test_a_spanish_browser_gets_spanish_seesay(new_tab, warm_app, tmp_path):
    from PIL import Image

    dark = tmp_path / "oscura.png"
    Image.new("RGB", (640, 480), (4, 4, 6)).save(dark)

    page = new_tab(locale="es-ES")
    page.goto(f"{warm_app}/{DESCRIBE.path}")
    page.get_by_role("heading", level=1, name="Describir una foto").wait_for(timeout=120_000)
    settle(page)
    wait_until(page, "() => document.documentElement.lang === 'es'", "<html lang> in Spanish")
    page.wait_for_timeout(300)  # seesay.js names Streamlit's buttons on the next animation frame
    # the controls' spoken names, SeeSay's own and those it gives Streamlit's buttons
    for name in ("Dejar de hablar", "Repetir la respuesta", "Subir una foto", "Cámara en directo"):
        assert page.get_by_role("button", name=name, exact=True).count() >= 1, name
    page.get_by_role("heading", name="Haz o elige una foto").wait_for()
    assert not unnamed_controls(page)

    # a dark photo: received, its guidance said, and the choice to go on offered, in Spanish
    after = len(live_region_log(page))
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(dark))
    wait_for_announcement(page, "Foto recibida.", after, 120_000)
    settle(page)
    go_on = page.get_by_role("button", name="Describir igualmente")
    go_on.wait_for(timeout=30_000)
    assert page.locator("[data-testid=stAlertContainer]").count() >= 1  # the guidance, shown

    violations = axe_violations(page)
    assert not violations, format_violations(violations)

    # described anyway: the statuses in Spanish, an answer (random words) marked with its language
    after = len(live_region_log(page))
    go_on.click()
    said = wait_for_announcement(page, "Respuesta lista.", after, 120_000)
    assert "Pensando…" in said, said
    settle(page)
    assert page.locator(LAST_ANSWER).inner_text().strip()
    page.get_by_role("heading", name="Descripción breve").wait_for()
    assert page.get_by_role("button", name="Más detalle").count() == 1
