"""An object held from before a reload takes on the state of the one the new code made.

Re-running ``cli = click.Group()`` or ``app = typer.Typer()`` makes a new
object, and the merge rebinds the module's name and its ``from m import``
copies to it; an object the program holds elsewhere (passed to a runner,
kept by a plugin) is still the old one.  Frameworks whose objects are plain
attribute bags (a click command, a Typer app) are brought up to date by
giving the old object the new one's attributes.
"""

from __future__ import annotations


def become(old: object, new: object) -> None:
    """Make ``old`` behave as ``new`` from now on, by sharing one attribute dict.

    The dict ``old`` already has is the one kept, and ``new`` is given it: so
    every object held from any earlier reload (which shares it too) follows,
    and an attribute set later on any of them shows on all.  A class the new
    object has and the old one has not is given to the old one, when Python
    lets the layout change (``TypeError`` otherwise, before anything changed).
    """
    if type(old) is not type(new):
        old.__class__ = type(new)
    shared = old.__dict__
    fresh = new.__dict__
    if shared is fresh:
        return
    # Additions and changes before removals: a thread reading the old object
    # never finds an attribute missing that both versions have.
    shared.update(fresh)
    for name in [n for n in shared if n not in fresh]:
        del shared[name]
    new.__dict__ = shared
