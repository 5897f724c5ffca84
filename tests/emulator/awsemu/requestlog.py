"""The log of AWS API calls the emulator served, with running counts per action.

Entries are kept in a bounded ring (oldest dropped first); counts cover every call since the
last clear, dropped or not. Request parameters are the bulk of the memory (a 1,000-target
RegisterTargets has ~2,000), so only the newest entries keep them: once more than
`params_budget` parameters are held, the oldest entries' `params` become None.
Thread-safety: RequestLog has its own lock.
"""

import collections
import threading


class RequestLog:
    def __init__(self, capacity=200000, params_budget=1000000):
        self._lock = threading.Lock()
        self._entries = collections.deque(maxlen=capacity)
        self._seq = 0
        self._counts = {}
        self.total = 0
        self._params_budget = params_budget
        self._params_held = 0
        self._with_params = collections.deque()  # entries still holding params, oldest first

    def add(self, entry):
        """Stores an entry ('action', 'status', 'throttled', 'errorCode', ...) and numbers it.

        Numbers follow the order entries are stored in, so `since=<seq>` is a reliable cursor
        even while calls run concurrently; they never restart, not even after clear().
        """
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            self.total += 1
            self._count(self._counts, entry)
            if entry.get("params"):
                self._with_params.append(entry)
                self._params_held += len(entry["params"])
                while self._params_held > self._params_budget and len(self._with_params) > 1:
                    oldest = self._with_params.popleft()
                    self._params_held -= len(oldest["params"])
                    oldest["params"] = None

    @staticmethod
    def _count(counts, entry):
        action = entry.get("action") or "(none)"
        bucket = counts.setdefault(action, {"total": 0, "ok": 0, "throttled": 0, "error": 0})
        bucket["total"] += 1
        if entry.get("throttled"):
            bucket["throttled"] += 1
        elif entry.get("status") == 200:
            bucket["ok"] += 1
        else:
            bucket["error"] += 1

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._counts = {}
            self._with_params.clear()
            self._params_held = 0

    def snapshot(self, since=None, action=None, with_params=True):
        """{'requests': [...], 'counts': {...}, 'lastSeq': n}; counts follow the filters."""
        with self._lock:
            entries = list(self._entries)
            counts = None if since is not None or action is not None else {
                name: dict(value) for name, value in self._counts.items()}
            last = self._seq
        if since is not None:
            entries = [e for e in entries if e["seq"] > since]
        if action is not None:
            entries = [e for e in entries if e.get("action") == action]
        if counts is None:
            counts = {}
            for entry in entries:
                self._count(counts, entry)
        if not with_params:
            entries = [{k: v for k, v in e.items() if k != "params"} for e in entries]
        return {"requests": entries, "counts": counts, "lastSeq": last}
