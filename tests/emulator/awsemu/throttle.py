"""Per-action token buckets, the way AWS throttles an account's API calls in a Region.

Quotas map an action pattern to {"rate": tokens per second, "burst": bucket size}; a pattern
may name its service ("ec2:Describe*", "sqs:*", by SigV4 signing name) or not ("Describe*").
The most specific pattern wins: the exact "service:Action", the exact action name, then the
longest glob, then "*". A quota of None means unlimited. Buckets are per service, Region,
account and action, except for SHARED_SERVICES (Route 53), whose actions share the bucket of
their pattern. AWS's API quotas are per account per Region, so a caller acting in another
account (AssumeRole credentials) draws on that account's buckets, not the default's.
Thread-safety: Throttler has its own lock.
"""

import fnmatch
import threading

# AWS-NOTES.md: Register/DeregisterTargets 4 rps burst 20; Describe* 10 rps burst 40 (older
# documented numbers; aws-load-balancer-controller now assumes 50/200); the rest 10/40.
# EC2 publishes its defaults: non-mutating (Describe*) actions refill 20/s, bucket 100. SQS
# standard queues have no per-account API rate limit worth modelling. Route 53: 5 requests/s
# per account (all actions together, see SHARED_SERVICES).
DEFAULT_QUOTAS = {
    "RegisterTargets": {"rate": 4.0, "burst": 20.0},
    "DeregisterTargets": {"rate": 4.0, "burst": 20.0},
    "Describe*": {"rate": 10.0, "burst": 40.0},
    "ec2:Describe*": {"rate": 20.0, "burst": 100.0},
    "sqs:*": None,
    "route53:*": {"rate": 5.0, "burst": 5.0},
    "s3:*": {"rate": 5500.0, "burst": 5500.0},  # S3: 5,500 GET/s per prefix
    "*": {"rate": 10.0, "burst": 40.0},
}

# Services whose quota is one bucket per account rather than per action: Route 53 allows
# five requests per second per account across all its actions. Their buckets are keyed by
# the quota pattern that applies, so actions sharing a pattern share its tokens.
SHARED_SERVICES = frozenset({"route53"})


def normalize_quota(value):
    """{"rate", "burst"} as floats, or None for unlimited; ValueError when malformed."""
    if value is None:
        return None
    if not isinstance(value, dict) or "rate" not in value:
        raise ValueError(f"a quota needs 'rate' (and optionally 'burst'): {value!r}")
    rate = float(value["rate"])
    burst = float(value.get("burst", max(rate, 1.0)))
    if rate < 0 or burst < 1:
        raise ValueError(f"quota rate must be >= 0 and burst >= 1: {value!r}")
    return {"rate": rate, "burst": burst}


class TokenBucket:
    def __init__(self, rate, burst, now):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, now):
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttler:
    def __init__(self, quotas=None, enabled=True):
        self._lock = threading.Lock()
        self.enabled = enabled
        self._quotas = {}
        self._buckets = {}
        self.set_quotas(dict(DEFAULT_QUOTAS) if quotas is None else quotas, replace=True)

    def set_quotas(self, quotas, replace=False):
        """Merges (or replaces) quotas; affected buckets restart full."""
        normalized = {pattern: normalize_quota(value) for pattern, value in quotas.items()}
        with self._lock:
            if replace:
                self._quotas = {}
            self._quotas.update(normalized)
            self._buckets.clear()

    def quotas(self):
        with self._lock:
            return dict(self._quotas)

    def _pattern_for(self, service, action):
        """The quota pattern that applies to an action (None when none does)."""
        qualified = f"{service}:{action}"
        if qualified in self._quotas:
            return qualified
        if action in self._quotas:
            return action
        best = None
        for pattern in self._quotas:
            subject = qualified if ":" in pattern else action
            if pattern != "*" and any(c in pattern for c in "*?[") and \
                    fnmatch.fnmatchcase(subject, pattern):
                if best is None or len(pattern) > len(best):
                    best = pattern
        if best is not None:
            return best
        return "*" if "*" in self._quotas else None

    def take(self, scope, action, now):
        """True when the call may proceed; `scope` is (service, Region, account)."""
        if not self.enabled:
            return True
        with self._lock:
            pattern = self._pattern_for(scope[0], action)
            quota = self._quotas.get(pattern)
            if quota is None:
                return True
            key = (scope, pattern if scope[0] in SHARED_SERVICES else action)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(quota["rate"], quota["burst"], now)
            return bucket.take(now)
