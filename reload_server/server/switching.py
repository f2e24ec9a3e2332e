"""The GIL switch interval policy: how often threads hand over the GIL while editors
are connected, and for the moment a message is being handled.

The server's thread has to win the GIL each time it wakes (a message arrives, a
system call returns).  While app threads keep the CPU busy, each such wait lasts
up to the interpreter's switch interval, 5 ms by default.  So the interval is
shortened on two levels, and the app's own value always comes back:

- while at least one editor is connected, to ``serve(switch_interval=...)``
  (0.5 ms by default: CPU-bound threads lose no measurable throughput, where
  0.1 ms would cost them up to some 5 %);
- from just before a message is read until its reply is ready, to
  :data:`MESSAGE_SWITCH_INTERVAL`: a few milliseconds per request.

Neither level ever raises the interval (a shorter one of the app's stays), and
neither restores a value somebody else changed meanwhile.  Every method runs on
the server's loop.
"""

from __future__ import annotations

import sys

# The GIL switch interval while one message is handled.
MESSAGE_SWITCH_INTERVAL = 0.0001


def set_switch_interval(seconds: float) -> float:
    """Set the GIL switch interval; returns it as the interpreter stores it.

    CPython keeps whole microseconds, truncated: setting back a value read with
    ``sys.getswitchinterval()`` as is can lose one each time (0.000199 s
    becomes 198 µs), so values are rounded to the microsecond first.
    """
    sys.setswitchinterval((round(seconds * 1e6) + 0.5) / 1e6)
    return sys.getswitchinterval()


class SwitchInterval:
    """Shortens and restores the GIL switch interval for the server's clients."""

    def __init__(self, while_connected: float | None) -> None:
        # None: the app asked us to leave the interval alone while editors are connected.
        self._while_connected = while_connected
        # (the app's value, what we set) while editors are connected.
        self._connected: tuple[float, float] | None = None
        # (the value before, what we set) while one message is handled.
        self._handling: tuple[float, float] | None = None

    def first_editor_connected(self) -> None:
        """Shorten the interval to ``switch_interval`` for as long as editors are connected."""
        if self._while_connected is None or self._connected is not None:
            return
        current = sys.getswitchinterval()
        lowered = current
        if current > self._while_connected:
            lowered = set_switch_interval(self._while_connected)
        self._connected = (current, lowered)

    def last_editor_left(self) -> None:
        """Put back the app's own interval."""
        self.message_handled()
        if self._connected is not None:
            saved, lowered = self._connected
            self._connected = None
            if sys.getswitchinterval() == lowered:
                set_switch_interval(saved)

    def message_coming(self) -> None:
        """Switch threads every 0.1 ms until :meth:`message_handled`: a message is being read."""
        if self._handling is not None:
            return
        before = sys.getswitchinterval()
        if before <= MESSAGE_SWITCH_INTERVAL:
            return
        self._handling = (before, set_switch_interval(MESSAGE_SWITCH_INTERVAL))

    def message_handled(self) -> None:
        """Put back the interval :meth:`message_coming` replaced."""
        if self._handling is not None:
            before, fast = self._handling
            self._handling = None
            if sys.getswitchinterval() == fast:
                set_switch_interval(before)
