"""Edit me while the game runs: change SPEED or describe(), then reload."""

SPEED = 1.0


class World:
    """The game's state: made once, kept across reloads."""

    def __init__(self) -> None:
        self.x = 0.0

    def step(self, dt: float) -> None:
        self.x += SPEED * dt

    def describe(self) -> str:
        return f"x = {self.x:.1f}"
