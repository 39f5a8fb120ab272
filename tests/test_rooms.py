"""Rooms: a code to join, a secret to lead, bounded and expiring; the class's guesses counted."""

import json

import pytest

from explainer.rooms import (
    CODE_ALPHABET,
    CODE_LENGTH,
    IDLE_MINUTES,
    LIFETIME_HOURS,
    MAX_GUESS_CHARACTERS,
    MAX_STUDENTS,
    MAX_TEXT_CHARACTERS,
    PRESENT_SECONDS,
    TRACE_VARIABLE,
    RoomBoard,
    RoomGone,
    RoomsFull,
    Scene,
    as_continuation,
    clean_code,
    tally,
    trace,
)


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def board(clock):
    return RoomBoard(clock=clock, max_rooms=3)


SCENE = Scene("attention", "The cat sat", "en", "tiny-gpt-austen")


def test_a_code_is_short_and_readable_aloud_and_the_secret_is_not_the_code(board):
    code, secret = board.open()
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) and not set(code) & set("0O1IL")
    assert len(secret) >= 20 and secret != code


def test_the_teacher_leads_and_each_change_bumps_the_version_students_poll(board):
    code, secret = board.open()
    assert board.lead(code, secret, SCENE) == 1
    assert board.lead(code, secret, SCENE) == 1  # the same scene again: nothing new for the class
    assert board.lead(code, secret, Scene("lessons", "The cat sat", "en", "tiny-gpt-austen", "attention", 3)) == 2
    followed = board.follow(code.lower(), "student-1")  # a code typed in small letters still joins
    assert followed.version == 2 and followed.scene.lesson == "attention" and followed.scene.step == 3
    assert followed.secret == "" and followed.guesses == {}  # a student sees neither the secret nor the guesses


def test_a_student_cannot_lead_ask_or_read_the_guesses(board):
    code, secret = board.open()
    board.lead(code, secret, SCENE)
    for attempt in (lambda: board.lead(code, "guessed", Scene("loss", "hijacked", "en", "x")),
                    lambda: board.ask(code, ""), lambda: board.guesses(code, "nope"), lambda: board.close(code, secret[:-1])):
        with pytest.raises(PermissionError):
            attempt()
    assert board.follow(code, "s").scene == SCENE


def test_the_class_guesses_one_each_the_last_counts_and_they_are_bounded(board):
    code, secret = board.open()
    board.lead(code, secret, SCENE)
    assert not board.guess(code, "s1", "mat")  # no question open yet
    board.ask(code, secret)
    assert board.follow(code, "s1").question == "The cat sat"
    assert board.guess(code, "s1", "mat") and board.guess(code, "s1", "  on\n the   mat ")
    assert board.guess(code, "s2", "x" * 500)
    assert sorted(board.guesses(code, secret)) == ["on the mat", "x" * MAX_GUESS_CHARACTERS]
    for student in range(MAX_STUDENTS + 5):
        board.guess(code, f"many-{student}", "mat")
    assert len(board.guesses(code, secret)) == MAX_STUDENTS
    board.ask(code, secret)  # a new question starts empty
    assert board.guesses(code, secret) == []
    board.close_question(code, secret)
    assert board.follow(code, "s1").question is None


def test_a_room_keeps_only_the_start_of_a_long_text(board):
    code, secret = board.open()
    board.lead(code, secret, Scene("loss", "word " * 10_000, "en", "tiny-gpt-austen"))
    assert len(board.follow(code, "s").scene.text) == MAX_TEXT_CHARACTERS


def test_rooms_are_bounded_expire_when_idle_or_old_and_can_be_closed(board, clock):
    rooms = [board.open() for _ in range(3)]
    with pytest.raises(RoomsFull):
        board.open()
    board.close(*rooms[0])
    with pytest.raises(RoomGone, match="no open room"):
        board.follow(rooms[0][0], "s")
    clock.now += IDLE_MINUTES * 60 - 1
    board.lead(*rooms[1], SCENE)  # its teacher is still there
    clock.now += 2
    assert len(board) == 1  # the other idle room has gone
    clock.now += LIFETIME_HOURS * 3600
    with pytest.raises(RoomGone):
        board.lead(*rooms[1], SCENE)


def test_students_are_counted_while_they_poll(board, clock):
    code, secret = board.open()
    board.follow(code, "a")
    board.follow(code, "b")
    assert board.students(code, secret) == 2
    clock.now += PRESENT_SECONDS + 1
    board.follow(code, "a")
    assert board.students(code, secret) == 1


def test_the_guesses_are_tallied_ignoring_capitals_and_spaces():
    table = tally(["king", " King", "princess", "", "KING", "queen"])
    assert list(table["guess"]) == ["king", "princess", "queen"]
    assert list(table["students"]) == [3, 1, 1]
    assert table["share"].sum() == pytest.approx(1.0)
    assert tally([]).empty


@pytest.mark.parametrize(("context", "guess", "continuation"), [
    ("Once upon a time there was a", "king", " king"), ("Once upon a ", "time", "time"),
    ("从前有一个", "国王", "国王"), ("", "The", "The")])
def test_a_guess_follows_its_text_as_written(context, guess, continuation):
    assert as_continuation(context, guess) == continuation


@pytest.mark.parametrize(("typed", "code"), [("abc23", "ABC23"), (" ab-c 2 3 ", "ABC23"), ("[x](https://evil.example)", "XHTTP"),
                                             ("<img src=x>", "MGSRC"), ("0O1IL", ""), ("ABCDEFGH", "ABCDE")])
def test_a_code_from_a_link_keeps_only_what_a_code_can_be(typed, code):
    assert clean_code(typed) == code


def test_the_trace_is_written_only_when_a_file_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv(TRACE_VARIABLE, raising=False)
    trace("lead", "ABCDE", "teacher", 3)  # no file named: nothing written, nothing raised
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv(TRACE_VARIABLE, str(path))
    trace("lead", "ABCDE", "teacher", 4)
    trace("shown", "ABCDE", "0123456789abcdef", 4)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(line["event"], line["session"], line["version"]) for line in lines] == \
        [("lead", "teacher", 4), ("shown", "0123456789abcdef", 4)]
    assert lines[0]["time"] <= lines[1]["time"]
    assert list(tmp_path.iterdir()) == [path]
