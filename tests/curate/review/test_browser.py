"""``curate review`` in a real browser (issue 30): headless Chromium driven by Playwright opens the app on
a generated manifest, filters to the label issues, relabels two images with the keyboard, rejects one
and undoes it; the manifest's rows and lineage lines are the oracle. Then, on the same page: the
manifest rewritten by another command is picked up, a second tab's decisions are kept, and a
duplicate cluster gets another keeper."""

from __future__ import annotations

from typing import Any

import pandas as pd
from playwright.sync_api import expect

import manifests
from manifests import schema

from .conftest import COMMAND, Served

WAIT = 15_000  # ms a condition may take before the test fails (polls are every 1.5 s)


def card(page: Any, sha: str) -> Any:
    return page.locator(f'.card[data-sha="{sha}"]')


def saved(page: Any, decisions: int) -> None:
    """Wait until the page counts ``decisions`` and says every one is written."""
    expect(page.locator("#nchanges")).to_have_text(str(decisions), timeout=WAIT)
    expect(page.locator("#saving")).to_have_text("all saved", timeout=WAIT)


def review_lines(served: Served) -> list[dict[str, Any]]:
    return [e for e in manifests.lineage_entries(served.data.manifest)
            if e.get("details", {}).get("by") == "review"]


def test_label_issue_queue_keyboard_reject_and_undo(served: Served, browser: Any) -> None:
    before = manifests.read(served.data.manifest)
    issues = before[before[schema.LABEL_ISSUE].fillna(False).astype(bool)]
    cat, dog, horse = issues[schema.SHA256]  # one flagged row per label, equal quality: manifest order
    page = browser.new_page()
    page.goto(served.server.url)
    page.click("#views [data-view=issues]")
    page.locator(".card").nth(2).wait_for(timeout=WAIT)
    assert page.locator(".card").count() == 3  # the queue holds the flagged rows only
    # real thumbnails from the server: every card's image decoded
    widths = page.locator(".card img").evaluate_all(
        "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth, () => 0)))")
    assert len(widths) == 3 and min(widths) > 0
    card(page, cat).click()
    page.keyboard.press("2")  # the second label, dog; the selection moves to the next card
    page.keyboard.press("1")  # cat, on the dog row
    card(page, dog).locator(".l", has_text="cat").wait_for(timeout=WAIT)
    saved(page, 2)
    page.keyboard.press("x")  # reject the third row
    saved(page, 3)
    assert "rejected" in card(page, horse).get_attribute("class")
    page.keyboard.press("u")  # undo the reject
    saved(page, 4)
    assert "rejected" not in card(page, horse).get_attribute("class")

    after = manifests.read(served.data.manifest).set_index(schema.SHA256, drop=False)
    assert after.loc[cat, schema.LABEL] == "dog" and after.loc[dog, schema.LABEL] == "cat"
    assert not after.loc[cat, schema.LABEL_ISSUE] and not after.loc[dog, schema.LABEL_ISSUE]
    assert after.loc[horse, schema.STATUS] == schema.OK and after.loc[horse, schema.LABEL] == "sea/horse"
    untouched = before.set_index(schema.SHA256, drop=False).drop(index=[cat, dog], errors="ignore")
    pd.testing.assert_frame_equal(after.loc[untouched.index[untouched.index.notna()]],
                                  untouched[untouched.index.notna()], check_like=True)
    lines = review_lines(served)
    assert lines and all(e["command"] == COMMAND for e in lines)
    decisions = [d for e in lines for d in e["details"]["decisions"]]
    assert [d["action"] for d in decisions] == ["label", "label", "reject", "undo"]
    relabelled = [(d["rows"][0][schema.SHA256], d.get("value")) for d in decisions[:2]]
    assert relabelled == [(cat, "dog"), (dog, "cat")]
    assert decisions[2]["rows"][0]["set"] == {schema.STATUS: schema.REJECTED, schema.ERROR: "review"}
    assert decisions[3]["undoes"] == 3 and decisions[3]["rows"][0]["set"][schema.STATUS] == schema.OK
    assert sum(e["changed"] for e in lines) == 4  # 2 relabelled, 1 rejected, the same 1 restored

    # another command rewrites the manifest underneath: the page reads its rows again
    with manifests.update(served.data.manifest, command="curate split") as tx:
        tx.frame.loc[tx.frame[schema.SHA256] == horse, schema.LABEL] = "dog"
    card(page, horse).locator(".l", has_text="dog").wait_for(timeout=WAIT)

    # a second tab decides too: neither tab's decision is lost, and the first tab shows the second's
    other = browser.new_page()
    other.goto(served.server.url)
    other.click("#views [data-view=issues]")
    card(other, horse).click()
    other.keyboard.press("3")  # sea/horse again
    page.click("#views [data-view=grid]")  # the queue no longer holds the rows decided above
    card(page, cat).click()
    page.keyboard.press("3")
    card(page, horse).locator(".l", has_text="sea/horse").wait_for(timeout=WAIT)
    saved(page, 6)
    final = manifests.read(served.data.manifest).set_index(schema.SHA256)
    assert final.loc[horse, schema.LABEL] == "sea/horse" and final.loc[cat, schema.LABEL] == "sea/horse"
    other.close()

    # the duplicate cluster: make the copy its keeper
    keeper = before.loc[before[schema.DUP_CLUSTER].notna() & (before[schema.STATUS] == schema.OK),
                        schema.SHA256].iloc[0]
    copy = before.loc[before[schema.STATUS] == schema.DUPLICATE, schema.SHA256].iloc[0]
    page.click("#views [data-view=clusters]")
    card(page, copy).click()
    page.keyboard.press("k")
    saved(page, 7)
    card(page, copy).locator(".m", has_text="keeper").wait_for(timeout=WAIT)
    final = manifests.read(served.data.manifest).set_index(schema.SHA256)
    assert final.loc[copy, schema.STATUS] == schema.OK and pd.isna(final.loc[copy, schema.DUP_OF])
    assert final.loc[keeper, schema.STATUS] == schema.DUPLICATE and final.loc[keeper, schema.DUP_OF] == copy
    page.close()


def test_a_page_of_rows_asked_for_by_the_view_left_is_dropped(served: Served, browser: Any) -> None:
    """The grid's first page is held back by the browser until the label-issue view has loaded; when
    it arrives at last, it must not be appended to the queue (a view switch during a slow load)."""
    held: list[Any] = []

    def hold(route: Any) -> None:
        if not held and "view=grid" in route.request.url:
            held.append(route)  # answered below, after the switch
        else:
            route.continue_()

    page = browser.new_page()
    page.route("**/api/rows?**", hold)
    page.goto(served.server.url)
    page.wait_for_function("() => document.querySelector('#views [data-view=issues]') !== null")
    for _ in range(300):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the grid never asked for its rows"
    page.click("#views [data-view=issues]")
    page.locator(".card").nth(2).wait_for(timeout=WAIT)
    with page.expect_response(lambda r: "view=grid" in r.url, timeout=WAIT):
        held[0].continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 200))")  # its JSON read and handled
    assert page.locator(".card").count() == 3
    assert page.locator("#count").text_content() == "3 images"
    page.close()
