"""Timed world changes: an instance leaving `pending` after its transition time, a Spot
interruption terminating the instance after its warning, a lifecycle hook timing out.

One daemon thread runs due callbacks in time order, each under the emulator lock, then wakes
every waiter on the emulator's condition (SQS long polls). reset() drops everything pending,
so a callback scheduled before a reset never runs after it.
Thread-safety: schedule()/reset() may be called from any thread, with or without the
emulator lock held (the lock is reentrant; the heap has its own).
"""

import heapq
import itertools
import sys
import threading
import time
import traceback


class Scheduler:
    def __init__(self, lock, changed):
        self._lock = lock  # the emulator lock (callbacks run under it)
        self._changed = changed  # threading.Condition over that lock
        self._heap_lock = threading.Lock()
        self._wake = threading.Event()
        self._heap = []
        self._seq = itertools.count()
        self._generation = 0
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def schedule(self, when, callback):
        """Runs callback() at unix time `when` (at once if past), under the emulator lock."""
        with self._heap_lock:
            heapq.heappush(self._heap, (when, next(self._seq), self._generation, callback))
        self._wake.set()

    def reset(self):
        with self._heap_lock:
            self._heap = []
            self._generation += 1

    def pending(self):
        with self._heap_lock:
            return len(self._heap)

    def _next_due(self, now):
        """(callback, its generation, None) when one is due, else (None, None, next time)."""
        with self._heap_lock:
            if not self._heap:
                return None, None, None
            when, _, generation, callback = self._heap[0]
            if when > now:
                return None, None, when
            heapq.heappop(self._heap)
            return callback, generation, None

    def _current(self, generation):
        with self._heap_lock:
            return generation == self._generation

    def _run(self):
        while True:
            callback, generation, next_time = self._next_due(time.time())
            if callback is None:
                timeout = 1.0 if next_time is None else \
                    min(1.0, max(0.0, next_time - time.time()))
                self._wake.wait(timeout)
                self._wake.clear()
                continue
            with self._lock:
                # reset() runs under the emulator lock: checked here, a callback scheduled
                # before a reset can never act on the world after it.
                if not self._current(generation):
                    continue
                try:
                    callback()
                except Exception:  # a bug: keep the thread alive, show the traceback
                    try:
                        sys.stderr.write(traceback.format_exc())
                    except (OSError, ValueError):
                        pass
                self._changed.notify_all()
