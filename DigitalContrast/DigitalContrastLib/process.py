"""Run the synthesis engine's CLI in a subprocess and read its JSON-lines progress.

The engine speaks one JSON object per stdout line (``python -m NetZeroAICT synthesize … --progress json``):
``progress`` (stage, fraction 0–1, message), then one of ``done`` (exit 0), ``error`` (exit 2), ``refused``
(exit 3) or ``needs_confirmation`` (exit 4). :class:`SynthesisProcess` starts the command, reads stdout and
stderr on two threads into queues, and hands the parsed events out from :meth:`~SynthesisProcess.poll`, which
the module widget calls from a ``QTimer`` so the GUI never blocks. :meth:`~SynthesisProcess.cancel` kills
the process and everything it started.

Plain Python (no Qt, no Slicer), so the tests drive it directly; the logic takes a ``process_factory`` so
a test can swap in another runner.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

#: Exit codes of ``python -m NetZeroAICT synthesize`` and what they mean.
EXIT_DONE, EXIT_ERROR, EXIT_REFUSED, EXIT_NEEDS_CONFIRMATION = 0, 2, 3, 4
#: Event kinds the engine emits; anything else on stdout is passed on as ``log``.
ENGINE_EVENTS = ("progress", "done", "error", "refused", "needs_confirmation", "cancelled")
#: Seconds the engine gets to stop by itself (SIGTERM: it stops at its next check) before it is killed.
CANCEL_GRACE_S = 1.0
#: How many lines of stderr are kept to explain a failure.
STDERR_TAIL_LINES = 40


@dataclass(frozen=True)
class ProcessEvent:
    """One thing the subprocess said.

    Attributes:
        kind: ``progress``, ``done``, ``error``, ``refused``, ``needs_confirmation``, ``cancelled`` (from the
            engine's JSON lines), ``log`` (any other stdout line) or ``stderr`` (a line on stderr).
        data: the JSON object (for engine events) or ``{"message": line}``.
    """

    kind: str
    data: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(self.data.get("message", ""))


def parse_line(line: str) -> ProcessEvent:
    """Turn one stdout line into an event: a JSON object with a known ``event`` key, else a ``log`` line."""
    text = line.rstrip("\r\n")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and data.get("event") in ENGINE_EVENTS:
            return ProcessEvent(data["event"], data)
    return ProcessEvent("log", {"message": text})


class ProcessRunner(Protocol):
    """What the logic needs from a process runner (``SynthesisProcess`` or a test's replacement)."""

    def start(self) -> None: ...

    def poll(self) -> list[ProcessEvent]: ...

    def cancel(self) -> None: ...

    @property
    def finished(self) -> bool: ...

    @property
    def returncode(self) -> int | None: ...

    def stderr_tail(self) -> str: ...


ProcessFactory = Callable[[list, dict], ProcessRunner]


class SynthesisProcess:
    """One subprocess whose stdout is read as engine events.

    Args:
        command: program and arguments, e.g. ``[python, "-m", "NetZeroAICT", "synthesize", …]``.
        env: the full environment of the subprocess (default: this process' environment).
    """

    def __init__(self, command: list, env: dict | None = None):
        self.command = [str(c) for c in command]
        self.env = dict(os.environ if env is None else env)
        self._proc: subprocess.Popen | None = None
        self._events: queue.Queue[ProcessEvent] = queue.Queue()
        self._stderr: list[str] = []
        self._threads: list[threading.Thread] = []
        self.cancelled = False
        self.started_at: float | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the subprocess (in its own process group, so cancel can end its children too)."""
        kwargs = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        else:
            kwargs["start_new_session"] = True
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, env=self.env, text=True, encoding="utf-8",
                                      errors="replace", bufsize=1, **kwargs)
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        for line in self._proc.stdout:
            self._events.put(parse_line(line))

    def _read_stderr(self) -> None:
        for line in self._proc.stderr:
            text = line.rstrip("\r\n")
            self._stderr.append(text)
            del self._stderr[:-STDERR_TAIL_LINES]
            self._events.put(ProcessEvent("stderr", {"message": text}))

    def poll(self) -> list[ProcessEvent]:
        """Events that arrived since the last call (never blocks). After the process has ended, the
        readers are joined first so the last lines are never lost."""
        if self.finished:
            for thread in self._threads:
                thread.join(timeout=5)
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def cancel(self) -> None:
        """Stop the subprocess and its children: ask (SIGTERM), then kill after :data:`CANCEL_GRACE_S`.
        Harmless when it has already ended."""
        self.cancelled = True
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        if sys.platform == "win32":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
        else:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=CANCEL_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    @staticmethod
    def _signal_group(proc, signum) -> None:
        try:
            os.killpg(proc.pid, signum)  # the process leads its own group (start_new_session)
        except (ProcessLookupError, PermissionError, OSError):
            proc.send_signal(signum)

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Block until the process ends (tests and batch use); returns the exit code."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    # -- state ----------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    def stderr_tail(self) -> str:
        """The last lines the process wrote to stderr (for error messages)."""
        return "\n".join(self._stderr[-STDERR_TAIL_LINES:])
