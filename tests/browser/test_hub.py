"""The web hub as a learner uses it, in headless Chromium: journeys (a pasted error to its accepted solution; a
category, a card and a related card by keyboard alone), the JSON API against the pages, and every kind of page
without console errors, without a serious or critical axe-core violation, screenshotted in both themes."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from bot.knowledge import load_knowledge_base
from bot.runtime.paths import default_data_dir
from tests.browser.conftest import (
    AXE,
    ERROR,
    PRIVATE_MARKER,
    SCREENSHOTS,
    SERVER_SLUG,
    Hub,
    browser_unavailable,
    set_theme,
)

try:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:  # the dev extra is not installed: skipped, or failed under NEXUS_REQUIRE_BROWSER=1
    browser_unavailable("Selenium is not installed (the dev extra)", module=True)

CARD = "docker"
MAX_TABS = 80


def _wait_for_path(browser: Any, path: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not browser.current_url.split("://", 1)[1].split("/", 1)[1].startswith(path.lstrip("/")):
        if time.monotonic() > deadline:
            raise AssertionError(f"expected to be at {path}, at {browser.current_url}")
        time.sleep(0.05)
    browser.find_element(By.TAG_NAME, "main")  # the new page is there


def _focus_visible(browser: Any) -> bool:
    """Whether the focused element shows it: an outline, or a box shadow (the two ways CSS draws focus rings)."""
    style = browser.execute_script(
        "const s = getComputedStyle(document.activeElement);return [s.outlineStyle, s.outlineWidth, s.boxShadow];"
    )
    outline_style, outline_width, shadow = style
    return (outline_style != "none" and outline_width not in ("0px", "")) or shadow not in ("none", "")


def _tab_to(browser: Any, condition: str, what: str) -> None:
    """Press Tab until the focused element meets the JavaScript `condition` (over `el`), checking at each stop that
    focus is visible."""
    for _ in range(MAX_TABS):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        assert _focus_visible(browser), (
            f"focus is not visible on {browser.switch_to.active_element.get_attribute('outerHTML')[:200]}"
        )
        if browser.execute_script(f"const el = document.activeElement; return Boolean({condition});"):
            return
    raise AssertionError(f"{MAX_TABS} Tabs did not reach {what} on {browser.current_url}")


def test_a_pasted_error_leads_to_the_challenge_and_its_accepted_solution_first(page: Any, hub: Hub) -> None:
    seeded = hub.seeded
    page.get(hub.url + "/")
    box = page.find_element(By.ID, "home-search")
    box.send_keys(ERROR)
    box.send_keys(Keys.ENTER)
    _wait_for_path(page, "/search")
    results = page.find_elements(By.CSS_SELECTOR, ".challenge-results .challenge-item-title a")
    assert results, page.find_element(By.TAG_NAME, "main").text
    target = f"/challenges/{SERVER_SLUG}/{seeded.integrity}"
    assert results[0].get_attribute("href").endswith(target)
    # Nothing of the non-consenting member, of the server that never opted in, or of the deleted challenge.
    assert PRIVATE_MARKER not in page.page_source
    results[0].click()
    _wait_for_path(page, target)
    solutions = page.find_elements(By.CSS_SELECTOR, "article.solution")
    assert len(solutions) == 2  # the third solution's author never consented
    assert "accepted" in solutions[0].get_attribute("class")
    assert seeded.accepted_text in solutions[0].text
    assert seeded.earlier_text in solutions[1].text
    assert PRIVATE_MARKER not in page.page_source
    assert "IntegrityError" in page.find_element(By.CSS_SELECTOR, "section.details").text


def test_a_category_a_card_and_a_related_card_by_keyboard_alone(page: Any, hub: Hub) -> None:
    card = load_knowledge_base(default_data_dir() / "topics").by_slug[CARD]
    category, related = card.category.value, card.related[0]
    page.get(hub.url + "/")
    _tab_to(page, f"el.getAttribute('href') === '/topics/{category}'", f"the {category} category")
    ActionChains(page).send_keys(Keys.ENTER).perform()
    _wait_for_path(page, f"/topics/{category}")
    _tab_to(page, f"el.closest('main') && el.getAttribute('href') === '/topics/{CARD}'", f"the {CARD} card")
    ActionChains(page).send_keys(Keys.ENTER).perform()
    _wait_for_path(page, f"/topics/{CARD}")
    assert page.find_element(By.TAG_NAME, "h1").text == card.title
    _tab_to(page, f"el.closest('.related') && el.getAttribute('href') === '/topics/{related}'", "a related card")
    ActionChains(page).send_keys(Keys.ENTER).perform()
    _wait_for_path(page, f"/topics/{related}")


def test_the_api_answers_what_the_pages_show(page: Any, hub: Hub) -> None:
    page.get(f"{hub.url}/topics/{CARD}")
    api = hub.get_json(f"/api/v1/topics/{CARD}")
    assert api["title"] == page.find_element(By.TAG_NAME, "h1").text
    shown_related = [link.text for link in page.find_elements(By.CSS_SELECTOR, ".related a")]
    assert [item["title"] for item in api["related"]] == shown_related
    shown_solved = [
        link.text for link in page.find_elements(By.CSS_SELECTOR, ".solved-for-topic .challenge-item-title a")
    ]
    assert [item["title"] for item in api["solved_challenges"]] == shown_solved

    page.get(f"{hub.url}/search?q={quote(ERROR)}")
    links = page.find_elements(By.CSS_SELECTOR, ".challenge-results .challenge-item-title a")
    shown = [(link.text, link.get_attribute("href").removeprefix(hub.url)) for link in links]
    found = hub.get_json(f"/api/v1/challenges?q={quote(ERROR)}")
    assert [(item["title"], item["url"]) for item in found["items"]] == shown
    assert shown  # the seeded IntegrityError challenge at least

    page.get(f"{hub.url}/challenges/{SERVER_SLUG}?status=open")
    listed = [link.text for link in page.find_elements(By.CSS_SELECTOR, ".challenge-item-title a")]
    waiting = hub.get_json("/api/v1/challenges?status=open")
    assert [item["title"] for item in waiting["items"]] == listed
    assert "Celery worker never picks up tasks" in listed


def _page_kinds(hub: Hub) -> dict[str, tuple[str, int]]:
    """One address per kind of page, with the status it answers."""
    seeded = hub.seeded
    card = load_knowledge_base(default_data_dir() / "topics").by_slug[CARD]
    return {
        "home": ("/", 200),
        "topics": ("/topics", 200),
        "category": (f"/topics/{card.category.value}", 200),
        "topic": (f"/topics/{CARD}", 200),
        "challenge": (f"/challenges/{SERVER_SLUG}/{seeded.integrity}", 200),
        "server": (f"/challenges/{SERVER_SLUG}?status=open", 200),
        "search": (f"/search?q={quote('IntegrityError duplicate key')}", 200),
        "not-found": ("/topics/no-such-card", 404),
        "gone": (f"/challenges/{SERVER_SLUG}/{seeded.deleted}", 410),
    }


KINDS = ("home", "topics", "category", "topic", "challenge", "server", "search", "not-found", "gone")


def _console_errors(browser: Any, url: str, status: int) -> list[str]:
    errors = []
    for entry in browser.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        # An error page's own status is reported as a failed load of the document: that is the page working.
        if (
            status >= 400
            and entry.get("source") == "network"
            and url in entry["message"]
            and str(status) in entry["message"]
        ):
            continue
        errors.append(entry["message"])
    return errors


def _axe(browser: Any) -> list[dict[str, Any]]:
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));"
    )
    assert isinstance(result, list), f"axe failed: {result}"
    return [violation for violation in result if violation.get("impact") in ("serious", "critical")]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_page_is_clean_accessible_and_screenshotted_in_both_themes(
    browser: Any, hub: Hub, kind: str
) -> None:
    path, status = _page_kinds(hub)[kind]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        set_theme(browser, theme)
        browser.get_log("browser")
        browser.get(hub.url + path)
        assert browser.execute_script(f"return matchMedia('(prefers-color-scheme: {theme})').matches")
        assert browser.find_element(By.TAG_NAME, "main")
        if status != 200:
            assert str(status) in browser.title or str(status) in browser.find_element(By.TAG_NAME, "main").text
        assert _console_errors(browser, hub.url + path, status) == [], f"{kind} ({theme})"
        browser.save_screenshot(str(SCREENSHOTS / f"{kind}-{theme}.png"))
        serious = _axe(browser)
        assert not serious, f"{kind} ({theme}): " + "; ".join(
            f"{item['id']} ({item['impact']}): {item['help']} at "
            + ", ".join(str(node["target"]) for node in item["nodes"][:3])
            for item in serious
        )
