"""Keyboard first, colour-blind safe, in headless Chromium: every shortcut driven, the focus ring's
and the status bar's contrast computed from the rendered styles in both themes."""

from __future__ import annotations

import re

import pytest

from .browser import expect

pytestmark = pytest.mark.browser

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices/tasks"
ROW_LINK = "#rows tr th.name a"

# Contrast as WCAG defines it, from colours as getComputedStyle gives them, and the background
# an element sits on: the nearest opaque one, semi-transparent layers composited over it.
CONTRAST_JS = """
(() => {
  const parse = (text) => {
    const m = text.match(/rgba?\\(([\\d.]+)[, ]+([\\d.]+)[, ]+([\\d.]+)(?:[, /]+([\\d.]+))?\\)/);
    return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null;
  };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const background = (element) => {
    const layers = [];
    for (let node = element; node instanceof Element; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour[3] > 0) layers.push(colour);
      if (colour && colour[3] === 1) break;
    }
    let result = [255, 255, 255];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  return { parse, background, ratio };
})()
"""

# The focused element's ring: its colour against what it is drawn on (the parent's background
# for an outline drawn outside the element, the element's own for one drawn inside).
FOCUS_RING_JS = (
    """
() => {
  const c = """
    + CONTRAST_JS
    + """;
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const ring = c.parse(style.outlineColor);
  const inside = parseFloat(style.outlineOffset) < 0;
  const behind = c.background(inside ? element : element.parentElement);
  const text = (element.textContent || "").trim().slice(0, 30);
  const name = element.tagName + "." + element.className + " " + text;
  return {
    name,
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    ratio: ring ? c.ratio(ring, behind) : 0,
  };
}
"""
)


def focused_row(page) -> str:
    return page.evaluate(
        "() => document.activeElement.matches('#rows tr th.name a') ? "
        "document.activeElement.textContent.trim() : ''"
    )


def row_names(page) -> list[str]:
    return [name.strip() for name in page.locator(ROW_LINK).all_inner_texts()]


def test_the_skip_link_reaches_the_first_row_in_two_presses(page, base_url):
    page.goto(base_url + BIG)
    expect(page.locator("#triage .groups").first).to_be_visible()  # the failure groups are above
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the rows")
    page.keyboard.press("Enter")
    assert focused_row(page) == row_names(page)[0]


@pytest.mark.parametrize(
    "path", [INVOICES, "/", "/jobs/nightly-embeddings/executions"], ids=["tasks", "jobs", "runs"]
)
def test_j_and_k_and_the_arrow_keys_move_between_rows(page, base_url, path):
    page.goto(base_url + path)
    names = row_names(page)
    page.keyboard.press("j")  # from nowhere: the first row
    assert focused_row(page) == names[0]
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    assert focused_row(page) == names[2]
    page.keyboard.press("k")
    assert focused_row(page) == names[1]
    page.keyboard.press("ArrowUp")
    page.keyboard.press("k")  # the first row is as far up as rows go
    assert focused_row(page) == names[0]


def test_arrow_keys_scroll_the_page_as_ever_when_no_row_has_focus(page, base_url):
    page.goto(base_url + INVOICES)
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => window.scrollY > 0")
    assert focused_row(page) == ""


def test_enter_opens_the_focused_rows_task(page, base_url):
    page.goto(base_url + INVOICES)
    page.keyboard.press("j")
    page.keyboard.press("j")
    name = focused_row(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"{INVOICES}/{name}\?"))
    expect(page.locator("h1 .task-name")).to_have_text(name)


def test_o_and_space_open_a_rows_conditions_and_esc_closes_them(page, base_url):
    page.goto(base_url + INVOICES)
    page.keyboard.press("j")
    details = page.locator("#rows tr").first.locator("td.conditions details")
    page.keyboard.press("o")
    expect(details).to_have_attribute("open", "")
    expect(details.locator("ol.condition-list li").first).to_be_visible()  # loaded in place
    page.keyboard.press("o")
    expect(details).not_to_have_attribute("open", "")
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press(" ")
    expect(details).to_have_attribute("open", "")
    assert page.evaluate("window.scrollY") == scrolled  # Space opened, it did not scroll
    page.keyboard.press("Escape")
    expect(details).not_to_have_attribute("open", "")
    assert focused_row(page)  # the row keeps the focus


def test_slash_searches_and_esc_leaves_the_field_with_its_text(page, base_url):
    page.goto(base_url + INVOICES)
    page.keyboard.press("/")
    search = page.locator("#search-input")
    expect(search).to_be_focused()
    # Typing is typing: none of the shortcuts fire inside a field.
    page.keyboard.type("jk/o?")
    expect(search).to_have_value("jk/o?")
    expect(page.locator("#shortcuts")).not_to_be_visible()
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()
    expect(search).to_have_value("jk/o?")


def test_question_mark_lists_the_shortcuts_and_esc_closes_the_list(page, base_url):
    page.goto(base_url + INVOICES)
    page.keyboard.press("j")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    for key in ("j", "k", "Enter", "o", "Space", "/", "Esc", "?"):
        expect(dialog.locator("kbd", has_text=re.compile(rf"^{re.escape(key)}$"))).to_have_count(1)
    page.keyboard.press("j")  # behind the list, the rows do not move
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    assert focused_row(page) == row_names(page)[0]  # focus back where it was


def test_the_browsers_own_combinations_are_left_to_the_browser(page, base_url):
    page.goto(base_url + INVOICES)
    page.evaluate(
        "window.kept = []; window.addEventListener('keydown', "
        "(e) => window.kept.push(e.key + ':' + e.defaultPrevented))"
    )
    for combination in ("Control+j", "Alt+k", "Meta+/", "Control+o", "Alt+Shift+?"):
        page.keyboard.press(combination)
    assert all(entry.endswith(":false") for entry in page.evaluate("window.kept"))
    assert page.evaluate("document.activeElement === document.body")
    expect(page.locator("#shortcuts")).not_to_be_visible()


def test_tab_order_follows_the_visual_order_down_the_page(page, base_url):
    page.goto(base_url + INVOICES)
    tops: list[float] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        box = page.evaluate(
            "() => { const r = document.activeElement.getBoundingClientRect();"
            " return [r.top + window.scrollY, r.height]; }"
        )
        if box[1]:  # the skip links take no room until focused
            tops.append(box[0])
    # Within a line controls go left to right; lines never go back up the page.
    assert all(later >= earlier - 40 for earlier, later in zip(tops, tops[1:], strict=False))


FOCUS_PAGES = {
    "tasks": BIG + "?status=failed",
    "jobs": "/",
    "executions": "/jobs/nightly-embeddings/executions",
    "task": INVOICES + "/task-10",
    "logs": INVOICES + "/task-10/logs",
    "error": "/jobs/no-such-job/executions",
}


@pytest.mark.parametrize("name", FOCUS_PAGES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_focus_ring_stands_out_at_3_to_1_on_every_background(browser, base_url, name, scheme):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(base_url + FOCUS_PAGES[name])
    page.wait_for_load_state("networkidle")
    rings = []
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            break
        rings.append(page.evaluate(FOCUS_RING_JS))
    context.close()
    assert len(rings) >= 5
    weak = [ring for ring in rings if ring["style"] == "none" or ring["width"] < 2]
    faint = [f"{ring['name']}: {ring['ratio']:.2f}" for ring in rings if ring["ratio"] < 3]
    assert weak == [] and faint == []


STATUS_BAR_JS = (
    """
() => {
  const c = """
    + CONTRAST_JS
    + """;
  return [...document.querySelectorAll("svg.bar")].map((bar) => {
    const width = bar.getBoundingClientRect().width;
    const segments = [...bar.querySelectorAll("rect.seg")].map((rect) => {
      const style = getComputedStyle(rect);
      const box = rect.getBoundingClientRect();
      return {
        kind: rect.getAttribute("class"),
        colour: c.parse(style.fill),
        patterned: style.fill.startsWith("url("),
        start: box.left, end: box.right,
      };
    });
    const gaps = [...bar.querySelectorAll("line.seg-gap")].map((line) => {
      const style = getComputedStyle(line);
      return { at: line.getBoundingClientRect().left + parseFloat(style.strokeWidth) / 2,
               colour: c.parse(style.stroke), width: parseFloat(style.strokeWidth) };
    });
    const pairs = [];
    for (let i = 1; i < segments.length; i++) {
      const [a, b] = [segments[i - 1], segments[i]];
      const gap = gaps.find((g) => Math.abs(g.at - b.start) < 1.5);
      pairs.push({
        between: a.kind + " | " + b.kind,
        gap: gap ? gap.width : 0,
        left: gap ? c.ratio(a.colour, gap.colour) : c.ratio(a.colour, b.colour),
        right: gap ? c.ratio(b.colour, gap.colour) : c.ratio(a.colour, b.colour),
      });
    }
    return { width, segments, pairs };
  });
}
"""
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_status_bar_segments_differ_without_colour_and_by_3_to_1_where_they_meet(
    browser, base_url, scheme
):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/jobs/nightly-embeddings/executions")
    bars = page.evaluate(STATUS_BAR_JS)
    page.goto(base_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks")
    bars += page.evaluate(STATUS_BAR_JS)  # a running execution: every kind of segment
    context.close()
    pairs = [pair for bar in bars for pair in bar["pairs"]]
    kinds = {segment["kind"] for bar in bars for segment in bar["segments"]}
    assert kinds == {"seg seg-success", "seg seg-failure", "seg seg-running", "seg seg-cancelled"}
    assert len(pairs) >= 5
    # Where two segments meet, a 2 px gap of the surface colour parts them, at 3:1 against each.
    assert [pair for pair in pairs if pair["gap"] < 2] == []
    assert [pair for pair in pairs if min(pair["left"], pair["right"]) < 3] == []
    # And each kind has a fill of its own: solid, cross-hatched, striped, dotted.
    patterned = {s["kind"]: s["patterned"] for bar in bars for s in bar["segments"]}
    assert patterned == {
        "seg seg-success": False,
        "seg seg-failure": True,
        "seg seg-running": True,
        "seg seg-cancelled": True,
    }


def test_status_badges_carry_a_shape_and_a_word_for_each_status(page, base_url):
    page.goto(base_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks?limit=200")
    badges = page.locator("#rows .badge").evaluate_all(
        "badges => badges.map(b => [b.className, b.querySelector('[aria-hidden]').textContent,"
        " b.textContent.trim()])"
    )
    shapes = {cls: (shape, text) for cls, shape, text in badges}
    assert len(shapes) >= 4
    for cls, (shape, text) in shapes.items():
        word = cls.removeprefix("badge badge-")
        assert text == f"{shape} {word}"
    assert len({shape for shape, _ in shapes.values()}) == len(shapes)  # no two alike
