"""A threaded worker: a pool of threads taking jobs from a queue, reloaded in place.

Run it with the launcher from this directory, reloading on every save (no
editor needed):

    cd examples/threaded_worker && python -m reload_server --watch worker.py

or with the server only, for an editor or the command-line client:

    python -m reload_server worker.py
    python -m reload_server reload tasks.py       # in another terminal

A feeder thread queues a job every half second; three worker threads run
``tasks.process`` on each and print the result.  Edit ``tasks.py`` and save: the
launcher prints ``reload_server: reloaded tasks in …`` and the next results use
the new code.  The default runner fits: reloads run on the server's own worker
thread under the reload lock, and a job in progress finishes on the code it
started with.
"""

from __future__ import annotations

import argparse
import queue
import threading
import time

import tasks


def work(jobs: queue.Queue[int], lock: threading.Lock) -> None:
    while True:
        job = jobs.get()
        result = tasks.process(job)
        with lock:
            print(f"{threading.current_thread().name}: job {job} -> {result}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between jobs")
    parser.add_argument("--threads", type=int, default=3)
    args = parser.parse_args()

    jobs: queue.Queue[int] = queue.Queue()
    lock = threading.Lock()
    for i in range(args.threads):
        threading.Thread(target=work, args=(jobs, lock), name=f"worker-{i}", daemon=True).start()
    job = 0
    try:
        while True:
            job += 1
            jobs.put(job)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
