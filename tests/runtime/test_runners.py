"""Runners: where a reload job runs."""

from __future__ import annotations

import pytest

from reload_server.runtime.runners import PollRunner, make_runner, poll


def test_poll_runs_queued_jobs_on_the_calling_thread_only_when_called():
    runner = PollRunner()
    future = runner.submit(lambda: 42)

    assert not future.done()
    assert poll() == 1
    assert future.result(timeout=1) == 42
    assert poll() == 0


def test_closing_a_poll_runner_cancels_what_it_queued():
    runner = PollRunner()
    future = runner.submit(lambda: 42)

    runner.close()

    assert future.cancelled()
    assert poll() == 0


@pytest.mark.parametrize("spec", ["threads", 3, None])
def test_make_runner_rejects_unknown_runners(spec):
    with pytest.raises((ValueError, TypeError)):
        make_runner(spec)
