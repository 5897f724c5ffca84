"""Fault injection rules set through the control API.

A rule matches calls by action ("*", an exact name or a glob) and optionally by service, and
can delay them, answer Throttling, answer an HTTP 5xx error, or reset the connection without
an answer. One random draw per call picks the outcome (throttle, then error, then reset, by
their rates), so a rule's rates add up to at most 1. `remaining` limits a rule to its next N
matching calls. Outcomes happen before the action runs, so a failed write never has an
effect -- except with `afterApply`, where an error or reset comes after the write was applied.
Thread-safety: FaultInjector has its own lock.
"""

import fnmatch
import itertools
import random
import threading


class FaultRule:
    FIELDS = {"action", "service", "throttleRate", "errorRate", "errorStatus", "errorCode",
              "errorMessage", "resetRate", "delayMs", "remaining", "afterApply"}

    def __init__(self, spec, rule_id):
        unknown = set(spec) - self.FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        self.id = rule_id
        self.action = str(spec.get("action", "*"))
        self.service = spec.get("service")
        self.throttle_rate = float(spec.get("throttleRate", 0))
        self.error_rate = float(spec.get("errorRate", 0))
        self.error_status = int(spec.get("errorStatus", 503))
        self.error_code = spec.get("errorCode")
        self.error_message = spec.get("errorMessage")
        self.reset_rate = float(spec.get("resetRate", 0))
        self.delay_ms = float(spec.get("delayMs", 0))
        remaining = spec.get("remaining")
        self.remaining = None if remaining is None else int(remaining)
        self.after_apply = bool(spec.get("afterApply", False))
        rates = (self.throttle_rate, self.error_rate, self.reset_rate)
        if any(r < 0 or r > 1 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("rates must be within [0, 1] and add up to at most 1")
        if not 400 <= self.error_status <= 599:
            raise ValueError("errorStatus must be an HTTP error status (4xx/5xx)")
        if self.remaining is not None and self.remaining < 1:
            raise ValueError("remaining must be >= 1")

    def matches(self, service, action):
        if self.service is not None and self.service != service:
            return False
        return self.action == "*" or fnmatch.fnmatchcase(action or "", self.action)

    def describe(self):
        return {"id": self.id, "action": self.action, "service": self.service,
                "throttleRate": self.throttle_rate, "errorRate": self.error_rate,
                "errorStatus": self.error_status, "errorCode": self.error_code,
                "errorMessage": self.error_message, "resetRate": self.reset_rate,
                "delayMs": self.delay_ms, "remaining": self.remaining,
                "afterApply": self.after_apply}


class FaultDecision:
    """What to do to one call: `kind` is None, 'throttle', 'error' or 'reset'."""

    def __init__(self):
        self.delay = 0.0
        self.kind = None
        self.rule = None

    @property
    def after_apply(self):
        return self.kind in ("error", "reset") and self.rule is not None and \
            self.rule.after_apply


class FaultInjector:
    def __init__(self, seed=None):
        self._lock = threading.Lock()
        self._rules = []
        self._ids = itertools.count(1)
        self._random = random.Random(seed)

    def add(self, spec):
        with self._lock:
            rule = FaultRule(spec, next(self._ids))
            self._rules.append(rule)
            return rule.id

    def clear(self):
        with self._lock:
            self._rules = []

    def rules(self):
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def decide(self, service, action):
        decision = FaultDecision()
        with self._lock:
            if not self._rules:
                return decision
            kept = []
            for rule in self._rules:
                if not rule.matches(service, action):
                    kept.append(rule)
                    continue
                decision.delay += rule.delay_ms / 1000.0
                if decision.kind is None:
                    draw = self._random.random()
                    if draw < rule.throttle_rate:
                        decision.kind = "throttle"
                    elif draw < rule.throttle_rate + rule.error_rate:
                        decision.kind = "error"
                    elif draw < rule.throttle_rate + rule.error_rate + rule.reset_rate:
                        decision.kind = "reset"
                    if decision.kind is not None:
                        decision.rule = rule
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        continue
                kept.append(rule)
            self._rules = kept
        return decision
