"""A reader station in a child process, for the crash-safety and concurrency tests of the results store.

Children are forked (not spawned) so that 50 restarts cost milliseconds, not interpreter start-ups. Each
reports what it knows to be committed by writing one short line per event to a pipe (writes under
PIPE_BUF bytes are atomic, so a kill never leaves half a line):
``resume <code>``, ``answer <code> <question>`` after a committed answer, ``submit <code>``, ``done``.
"""

from __future__ import annotations

import multiprocessing
import os
import time


def _say(fd: int, text: str) -> None:
    os.write(fd, (text + "\n").encode())


def answer_loop(url: str, study_id: str, reader_id: str, session_id: str, fd: int) -> None:
    """Answer every planned reading (confidence, diagnosis), submit each, reporting commits on ``fd``."""
    from NetZeroAICT.study.store import ResultsStore

    store = ResultsStore(url)
    store.start_session(study_id, reader_id, session_id)
    code = store.next_reading(study_id, reader_id, session_id)
    _say(fd, f"resume {code}")
    while code is not None:
        store.start_reading(study_id, reader_id, session_id, code)
        store.save_answer(study_id, reader_id, session_id, code, "confidence", 1 + len(code) % 5)
        _say(fd, f"answer {code} confidence")
        store.save_answer(study_id, reader_id, session_id, code, "diagnosis", True)
        _say(fd, f"answer {code} diagnosis")
        store.submit_reading(study_id, reader_id, session_id, code)
        _say(fd, f"submit {code}")
        code = store.next_reading(study_id, reader_id, session_id)
    _say(fd, "done")


def burst(url: str, study_id: str, reader_id: str, session_id: str, codes: list[str], fd: int) -> None:
    """Save one answer per code as fast as possible (concurrency test)."""
    from NetZeroAICT.study.store import ResultsStore

    store = ResultsStore(url)
    store.start_session(study_id, reader_id, session_id)
    for code in codes:
        store.save_answer(study_id, reader_id, session_id, code, "confidence", 3)
    _say(fd, f"done {reader_id}")


def _child(target, args, fd: int) -> None:
    try:
        target(*args, fd)
        code = 0
    except BaseException as error:  # report, then leave without running the parent's exit handlers
        try:
            _say(fd, f"error {type(error).__name__}: {str(error)[:300]}")
        finally:
            code = 1
    os._exit(code)


def start(target, *args) -> tuple[multiprocessing.Process, int]:
    """Fork a child running ``target(*args, fd)``; returns (process, read end of its report pipe)."""
    read_fd, write_fd = os.pipe()
    process = multiprocessing.get_context("fork").Process(target=_child, args=(target, args, write_fd), daemon=True)
    process.start()
    os.close(write_fd)
    return process, read_fd


def wait_for_line(fd: int, prefix: str, timeout_s: float) -> list[str]:
    """Read the child's lines until one starts with ``prefix`` (or the pipe closes, or time runs out);
    returns the complete lines read. Call :func:`read_reports` afterwards for the rest."""
    import select

    buffer, deadline = b"", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1)  # byte by byte: nothing after the wanted line is consumed
        if not chunk:
            break
        buffer += chunk
        if chunk == b"\n" and buffer.split(b"\n")[-2].decode().startswith(prefix):
            break
    return [line for line in buffer.decode().split("\n")[:-1]]


def read_reports(fd: int) -> list[str]:
    """Every complete line the child wrote (reads to end of file: call after the child is gone)."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    text = b"".join(chunks).decode()
    return [line for line in text.split("\n")[:-1]]  # the part after the last newline is incomplete
