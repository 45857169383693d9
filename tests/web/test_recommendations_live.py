"""The shop's figures feed the room: the host's lineup follows the recommended order, and
the viewer page shows what buyers of the product on screen also bought."""

from commerce.analytics import also_bought, recommended_lineup
from tests.web.test_viewer_page_chromium import open_page


def test_the_rooms_lineup_follows_the_recommended_order(live_server):
    engine, store = live_server.engine, live_server.store
    facts = live_server.call(engine.catalog("demo"))
    skus = [f.sku for f in facts]
    expected = live_server.call(recommended_lineup(store, sorted(skus), store.clock()))
    assert skus == expected
    assert len(set(skus)) == len(skus)


async def test_viewer_page_shows_what_buyers_also_bought(live_server):
    async with open_page(live_server) as page:
        await page.wait_for_function("!document.getElementById('buy').disabled", timeout=20_000)
        await page.wait_for_selector("#also:not([hidden]) li", timeout=10_000)
        title = await page.text_content("#p-title")
        shown = await page.locator("#also-list li").all_text_contents()
    facts = live_server.call(live_server.store.fact_sheets("demo"))
    on_screen = next(f for f in facts if f.title == title)
    expected = live_server.call(also_bought(live_server.store, on_screen.sku, 3))
    names = {e["name"] for e in expected} | {e["sku"] for e in expected}
    assert shown and set(shown) <= names, (shown, expected)
