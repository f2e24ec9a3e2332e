"""serve() refuses bad arguments on the caller's thread."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("bad", [0, -0.001, 2.0, True, "0.001"])
def test_serve_refuses_a_switch_interval_that_is_not_a_short_time(bad):
    from reload_server.server import control

    with pytest.raises(ValueError, match="switch_interval"):
        control.serve(0, switch_interval=bad, discovery=False)
    assert control.address() is None
