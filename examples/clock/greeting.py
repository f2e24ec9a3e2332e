"""Edit me while the clock runs, save, and reload: the next line changes.

Try changing NAME, or the text returned by Greeter.greet.
"""

NAME = "world"


class Greeter:
    """Makes the line the clock prints each tick."""

    def greet(self, now: str, tick: int) -> str:
        return f"[{now}] #{tick} Hello, {NAME}!"
