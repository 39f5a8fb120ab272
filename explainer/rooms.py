"""Rooms: a teacher leads, the class follows. No accounts: a short code to join, a secret to lead.

A teacher opens a room and gets its code (5 letters and digits, no look-alikes) and a secret that only the
teacher's session holds. Whatever that session shows (page, text, language, model, lesson stop) becomes the
room's ``Scene``; each change bumps the room's ``version``, which the students' sessions poll. Only the holder
of the secret can change the scene or ask a question, so a student cannot change what the class sees.

The teacher can ask the class to guess the next word of the scene's text: each student has one guess (the
last one counts), at most ``MAX_GUESS_CHARACTERS`` long, from at most ``MAX_STUDENTS`` students.

Bounds: at most ``MAX_ROOMS`` rooms on a server; a room expires ``IDLE_MINUTES`` after its teacher was last
seen and ``LIFETIME_HOURS`` after it opened; its text is cut to ``MAX_TEXT_CHARACTERS``. So a room holds at
most a few tens of kilobytes (measured by bench/room_latency.py). Thread-safe: sessions are threads.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field, replace

import pandas as pd

from explainer.i18n import _

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or from a projector
CODE_LENGTH = 5
MAX_ROOMS = 20
MAX_STUDENTS = 200
MAX_GUESS_CHARACTERS = 40
MAX_TEXT_CHARACTERS = 1500  # as much of the text as a shared link carries
IDLE_MINUTES = 30
LIFETIME_HOURS = 4
TRACE_VARIABLE = "EXPLAINER_ROOM_TRACE"  # a file: one JSON line per teacher's change and per student's run showing it
PRESENT_SECONDS = 15  # a student counts as in the room while their session polled within this


def clean_code(text: str) -> str:
    """A code as typed or linked, reduced to what a code can be: capitals of ``CODE_ALPHABET``, at most
    ``CODE_LENGTH`` of them ("" when nothing is left). Whatever else a link carries never reaches a page."""
    return "".join(c for c in text.upper() if c in CODE_ALPHABET)[:CODE_LENGTH]


class RoomGone(LookupError):
    """The room code is unknown, or the room has expired."""


class RoomsFull(RuntimeError):
    """The server already has ``MAX_ROOMS`` open rooms."""


@dataclass(frozen=True)
class Scene:
    """What the class sees: the teacher's page and everything that decides what it draws."""

    page: str  # the page's URL path, e.g. "attention" ("" for home)
    text: str
    language: str
    model: str
    lesson: str = ""  # on the Lessons page: the lesson and the stop
    step: int = 0


@dataclass
class Room:
    code: str
    secret: str
    opened: float
    teacher_seen: float
    scene: Scene | None = None
    version: int = 0  # bumped on every change of the scene or of the question
    question: str | None = None  # the text whose next word the class guesses, while a question is open
    guesses: dict[str, str] = field(default_factory=dict)  # student -> their guess, for the open question
    students_seen: dict[str, float] = field(default_factory=dict)  # student -> when their session last polled


class RoomBoard:
    """The server's rooms. ``clock`` is injectable for the tests."""

    def __init__(self, clock=time.time, max_rooms: int = MAX_ROOMS):
        self._rooms: dict[str, Room] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.max_rooms = max_rooms

    # ------------------------------------------------------------ the teacher

    def open(self) -> tuple[str, str]:
        """Open a room; return (its code, the teacher's secret). Raises ``RoomsFull``."""
        with self._lock:
            self._expire()
            if len(self._rooms) >= self.max_rooms:
                raise RoomsFull(_("This server already has {n} open rooms; try again when one closes.").format(
                    n=self.max_rooms))
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            while code in self._rooms:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            now = self._clock()
            self._rooms[code] = Room(code, secrets.token_urlsafe(16), now, now)
            return code, self._rooms[code].secret

    def lead(self, code: str, secret: str, scene: Scene) -> int:
        """The teacher's session shows ``scene``; return the room's version (bumped if the scene changed)."""
        with self._lock:
            room = self._teachers(code, secret)
            scene = replace(scene, text=scene.text[:MAX_TEXT_CHARACTERS])
            if scene != room.scene:
                room.scene = scene
                room.version += 1
            return room.version

    def ask(self, code: str, secret: str) -> None:
        """Open a question on the scene's text: the class guesses its next word. Earlier guesses are dropped."""
        with self._lock:
            room = self._teachers(code, secret)
            room.question = room.scene.text if room.scene else ""
            room.guesses = {}
            room.version += 1

    def close_question(self, code: str, secret: str) -> None:
        with self._lock:
            room = self._teachers(code, secret)
            room.question = None
            room.version += 1

    def question(self, code: str, secret: str) -> str | None:
        """The text whose next word the class is guessing, or None when no question is open."""
        with self._lock:
            return self._teachers(code, secret).question

    def guesses(self, code: str, secret: str) -> list[str]:
        """The open question's guesses (one per student), for the teacher only."""
        with self._lock:
            return list(self._teachers(code, secret).guesses.values())

    def students(self, code: str, secret: str) -> int:
        """How many students' sessions polled within ``PRESENT_SECONDS``."""
        with self._lock:
            room = self._teachers(code, secret)
            now = self._clock()
            return sum(now - seen <= PRESENT_SECONDS for seen in room.students_seen.values())

    def close(self, code: str, secret: str) -> None:
        with self._lock:
            self._teachers(code, secret)
            del self._rooms[code]

    # ------------------------------------------------------------ a student

    def follow(self, code: str, student: str) -> Room:
        """A student's poll: a copy of the room as it stands (no secret, no guesses). Raises ``RoomGone``."""
        with self._lock:
            room = self._room(code)
            if student in room.students_seen or len(room.students_seen) < MAX_STUDENTS:
                room.students_seen[student] = self._clock()
            return replace(room, secret="", guesses={}, students_seen={})

    def guess(self, code: str, student: str, guess: str) -> bool:
        """Record ``student``'s guess for the open question; return False when no question is open or the room
        is full. A guess is cut to ``MAX_GUESS_CHARACTERS`` and stripped; the last one counts."""
        with self._lock:
            room = self._room(code)
            if room.question is None or (student not in room.guesses and len(room.guesses) >= MAX_STUDENTS):
                return False
            room.guesses[student] = " ".join(guess.split())[:MAX_GUESS_CHARACTERS]
            return True

    # ------------------------------------------------------------ bookkeeping

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._rooms)

    def _room(self, code: str) -> Room:
        self._expire()
        room = self._rooms.get(clean_code(code))
        if room is None:
            raise RoomGone(_("There is no open room {code}: check the code, or ask your teacher for a new one.").format(
                code=clean_code(code)))
        return room

    def _teachers(self, code: str, secret: str) -> Room:
        room = self._room(code)
        if not secrets.compare_digest(room.secret, secret):
            raise PermissionError("only the teacher who opened the room can lead it")
        room.teacher_seen = self._clock()
        return room

    def _expire(self) -> None:
        now = self._clock()
        for code in [code for code, room in self._rooms.items()
                     if now - room.teacher_seen > IDLE_MINUTES * 60 or now - room.opened > LIFETIME_HOURS * 3600]:
            del self._rooms[code]


def tally(guesses: list[str]) -> pd.DataFrame:
    """The class's guesses counted, most frequent first: columns guess (as first written), students, share.
    Guesses that differ only in capitals or surrounding spaces are one guess."""
    counts: dict[str, list] = {}
    for guess in guesses:
        key = guess.strip().casefold()
        if key:
            counts.setdefault(key, [guess.strip(), 0])[1] += 1
    rows = sorted(counts.values(), key=lambda row: (-row[1], row[0]))
    total = sum(row[1] for row in rows)
    return pd.DataFrame({"guess": [row[0] for row in rows], "students": [row[1] for row in rows],
                         "share": [row[1] / total for row in rows] if total else []})


def as_continuation(context: str, guess: str) -> str:
    """How ``guess`` follows ``context`` as text: after a space, unless the context ends with one or the guess
    starts with a character written without spaces (Chinese, Japanese)."""
    guess = guess.strip()
    if not context or context[-1].isspace() or (guess and ord(guess[0]) >= 0x2E80):
        return guess
    return " " + guess


def trace(event: str, room: str, session: str, version: int) -> None:
    """Append ``{"event", "room", "session", "version", "time"}`` to the file ``EXPLAINER_ROOM_TRACE`` names, when
    it names one: "lead" when the teacher's scene becomes ``version``, "shown" when a student's run showing it has
    finished. bench/room_latency.py reads it: the seconds from a teacher's change to each student's page sent."""
    path = os.environ.get(TRACE_VARIABLE)
    if path:
        line = {"event": event, "room": room, "session": session, "version": version, "time": time.time()}
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")
