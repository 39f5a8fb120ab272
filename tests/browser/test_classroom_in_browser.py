"""Teaching with it, in Chromium: a lesson walked from its first stop to its last, the presenter view at 1280×720,
and a room where a teacher leads three students (each in their own browser context) and collects their guesses."""

from __future__ import annotations

import re
import time

from explainer.lessons import LESSONS
from tools.browser_driver import APP_IDLE, PROJECTOR, RUN_TIMEOUT, VIEWPORT, commit_prompt, screenshot, wait_for_charts

CLASS_CHART_HAS = "w => [...document.querySelectorAll('.js-plotly-plot')].at(-1)?.textContent.includes(w)"
FOLLOW_TIMEOUT = 15_000  # ms: the class follows within about two seconds; generous for a shared CPU


def idle(tab) -> None:
    tab.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)


def go(tab, path: str) -> None:
    """Move to another page through the header's menus, as a user does: the session (a teacher's room) stays."""
    link = tab.locator(f'[data-testid="stTopNavDropdownLink"][href$="/{path}"]')
    sections = tab.locator('[data-testid="stTopNavSection"]')
    for index in range(sections.count()):  # open the menus in turn until one holds the page
        sections.nth(index).click()
        if link.count() and link.first.is_visible():
            break
    link.first.click()
    tab.wait_for_function("path => location.pathname.endsWith('/' + path)", arg=path, timeout=RUN_TIMEOUT)
    idle(tab)


def pick_first_answer(tab) -> None:
    tab.locator('[data-testid="stRadio"] [role="radiogroup"] label').first.click()


def test_a_lesson_walked_from_its_first_stop_to_its_last(page, screenshots):
    lesson = LESSONS["next-token"]
    page.goto("/lessons", timeout=RUN_TIMEOUT)
    idle(page)
    page.get_by_role("button", name="Start").first.click()
    for step, stop in enumerate(lesson.stops, start=1):
        page.wait_for_function("step => new URLSearchParams(location.search).get('step') === String(step)", arg=step,
                               timeout=RUN_TIMEOUT)
        idle(page)
        page.get_by_role("heading", name=stop.title).wait_for(timeout=RUN_TIMEOUT)
        assert page.get_by_text(f"stop {step} of {len(lesson.stops)}").count() == 1
        assert page.locator(".st-key-lesson_reveal button").is_disabled()  # a guess comes first
        pick_first_answer(page)
        page.locator(".st-key-lesson_reveal button").click()
        page.locator('[data-testid="stAlert"]').first.wait_for(timeout=RUN_TIMEOUT)  # right, or the answer
        if stop.view != "tokens":
            wait_for_charts(page)
        if step == 3:
            screenshot(page, screenshots / "lesson-stop-revealed.png")
        assert page.locator('[data-testid="stException"]').count() == 0
        if step < len(lesson.stops):
            page.locator(".st-key-lesson_next button").click()
    assert page.locator(".st-key-lesson_next button").is_disabled()


def test_the_presenter_view_fits_a_projector_and_the_arrow_keys_move(browser, app_url, screenshots):
    context = browser.new_context(viewport=PROJECTOR, base_url=app_url)
    try:
        tab = context.new_page()
        tab.goto("/lessons?lesson=attention&step=2&present=1", timeout=RUN_TIMEOUT)
        idle(tab)
        tab.get_by_role("heading", name="Scores: query times key").wait_for(timeout=RUN_TIMEOUT)
        tab.locator('[data-testid="stSidebar"]').wait_for(state="hidden", timeout=10_000)
        tab.locator(".st-key-lesson_controls").wait_for(state="hidden", timeout=10_000)
        body = tab.locator('[data-testid="stMain"] p').first
        assert float(body.evaluate("p => parseFloat(getComputedStyle(p).fontSize)")) >= 22  # the back row reads it
        reveal = tab.locator(".st-key-lesson_reveal button")
        assert reveal.bounding_box()["y"] + reveal.bounding_box()["height"] <= PROJECTOR["height"]  # above the fold
        screenshot(tab, screenshots / "lesson-presenter-1280x720.png")
        tab.keyboard.press("r")  # the teacher reveals
        wait_for_charts(tab)
        tab.keyboard.press("ArrowRight")
        tab.wait_for_function("() => new URLSearchParams(location.search).get('step') === '3'", timeout=RUN_TIMEOUT)
        tab.get_by_role("heading", name="Scaling by √d_k").wait_for(timeout=RUN_TIMEOUT)
        tab.keyboard.press("ArrowLeft")
        tab.wait_for_function("() => new URLSearchParams(location.search).get('step') === '2'", timeout=RUN_TIMEOUT)
    finally:
        context.close()


def test_a_room_where_three_students_follow_the_teacher_and_send_guesses(browser, app_url, screenshots):
    contexts = [browser.new_context(viewport=VIEWPORT, base_url=app_url) for _ in range(4)]
    try:
        teacher, *students = [context.new_page() for context in contexts]
        teacher.goto("/room", timeout=RUN_TIMEOUT)
        idle(teacher)
        teacher.get_by_role("button", name="Open a room").click()
        code_metric = teacher.locator('[data-testid="stMetricValue"]').first
        code_metric.wait_for(timeout=RUN_TIMEOUT)
        code = code_metric.inner_text().strip()
        assert re.fullmatch(r"[A-Z2-9]{5}", code)

        text = "The little dog ran into the"
        commit_prompt(teacher, text)
        teacher.wait_for_function("t => new URLSearchParams(location.search).get('text') === t", arg=text,
                                  timeout=RUN_TIMEOUT)
        idle(teacher)
        for student in students:
            student.goto(f"/?room={code}", timeout=RUN_TIMEOUT)
        for student in students:  # the room's page and text
            student.get_by_text("You are in room").wait_for(timeout=FOLLOW_TIMEOUT)
            student.wait_for_function("t => document.querySelector('.st-key-prompt textarea')?.value === t", arg=text,
                                      timeout=FOLLOW_TIMEOUT)

        go(teacher, "lessons")
        teacher.locator(".st-key-start_attention button").click()
        for step in (2, 3):  # two stop changes
            teacher.wait_for_function("s => new URLSearchParams(location.search).get('step') === s", arg=str(step - 1),
                                      timeout=RUN_TIMEOUT)
            idle(teacher)
            teacher.locator(".st-key-lesson_next button").click()
        changed = time.perf_counter()
        for student in students:  # (a page a room switched to keeps the address it had: the page is what counts)
            student.get_by_role("heading", name="Scaling by √d_k").wait_for(timeout=FOLLOW_TIMEOUT)
        print(f"\n  three students on the new stop {time.perf_counter() - changed:.1f} s after the teacher's")

        new_text = "Once upon a time there was a"
        commit_prompt(teacher, new_text)  # a prompt change, on the lesson page
        idle(teacher)
        for student in students:
            student.wait_for_function("t => document.querySelector('.st-key-prompt textarea')?.value === t",
                                      arg=new_text, timeout=FOLLOW_TIMEOUT)

        go(teacher, "room")
        teacher.get_by_role("button", name="Ask: what comes next?").click()
        for student, guess in zip(students, ("king", "King", "princess")):
            box = student.get_by_label("Your teacher asks: what comes next?")
            box.wait_for(timeout=FOLLOW_TIMEOUT)
            box.fill(guess)
            student.get_by_role("button", name="Send my guess").click()
            student.get_by_text("Your guess:").wait_for(timeout=RUN_TIMEOUT)
        teacher.get_by_text("3 guesses so far").wait_for(timeout=FOLLOW_TIMEOUT)
        wait_for_charts(teacher)  # the caption can come a moment before the chart is drawn again:
        teacher.wait_for_function(CLASS_CHART_HAS, arg="princess", timeout=FOLLOW_TIMEOUT)
        bars = teacher.locator(".js-plotly-plot").last.text_content()  # the class's panel: one bar per guess
        screenshot(teacher, screenshots / "room-teacher-guesses.png")
        assert "king" in bars and "princess" in bars and "King" not in bars  # "King" and "king" are one guess

        student = students[0]  # a student cannot lead: their own page change does not reach the others
        student.locator(".st-key-room_follow_toggle input").uncheck(force=True)
        student.goto("/tokenization", timeout=RUN_TIMEOUT)
        idle(student)
        time.sleep(3)
        assert all(other.get_by_text("You are in room").is_visible() for other in students[1:])
    finally:
        for context in contexts:
            context.close()

