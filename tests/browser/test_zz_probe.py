import json, pytest, time
from browserkit import *
@pytest.mark.parametrize("target", PAGES, ids=lambda p: p.key)
@pytest.mark.parametrize("device", [None, "Pixel 7"])
def test_probe(new_tab, warm_app, target, device):
    t = time.time()
    page = new_tab(device)
    open_page(page, warm_app, target)
    print("\n=====", target.key, device, "load", round(time.time()-t,1))
    t = time.time()
    v = axe_violations(page)
    print("axe", round(time.time()-t,1), format_violations(v))
    print("unnamed", unnamed_controls(page))
    print("headings", heading_levels(page), heading_skips(heading_levels(page)))
    print("small", small_targets(page))
    if device is None:
        t = time.time()
        stops, ended = tab_walk(page)
        print("tab", round(time.time()-t,1), ended)
        for s in stops: print("   ", s)
