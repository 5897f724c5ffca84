"""Emulator configuration: defaults, a JSON config file (--config), then command-line flags.

Each flag has a config-file key of the same meaning (see README.md); a flag given on the
command line wins over the file. The result is a plain dict of camelCase keys, validated here
so that a typo fails at start-up rather than silently changing behaviour.
"""

import argparse
import copy
import json

from .throttle import normalize_quota

DEFAULT_VPC = {
    "id": "vpc-0123456789abcdef0",
    "cidr": "10.0.0.0/16",
    "ipv6Cidr": "2600:1f18:4000:a800::/56",
    # Subnets name the AZ by its letter; the emulated VPC exists in every Region.
    "subnets": [
        {"id": "subnet-0123456789abcdef1", "az": "a", "cidr": "10.0.0.0/18",
         "ipv6Cidr": "2600:1f18:4000:a800::/64"},
        {"id": "subnet-0123456789abcdef2", "az": "b", "cidr": "10.0.64.0/18",
         "ipv6Cidr": "2600:1f18:4000:a801::/64"},
        {"id": "subnet-0123456789abcdef3", "az": "c", "cidr": "10.0.128.0/17",
         "ipv6Cidr": "2600:1f18:4000:a802::/64"},
    ],
    "securityGroup": "sg-0123456789abcdef0",
}

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 0,
    "account": "123456789012",
    "region": "us-east-1",
    "credentials": [],
    "defaultCredentials": True,
    "healthyAfter": 2.0,
    "deregistrationDelay": 300,
    "targetLimit": 1000,
    "targetGroupLimit": 3000,
    "requireLoadBalancer": False,
    "describeLagMs": 0,
    "throttle": True,
    "quotas": {},
    "stsDurationSeconds": None,
    "webIdentityTokens": [],
    "maxLifetime": 3600,
    "parentPid": None,
    "seed": None,
    "verbose": False,
    "logFile": None,
    "vpcs": [DEFAULT_VPC],
    "instances": [],
    "targetGroups": [],
    "roles": [],
    "faults": [],
    "queues": [],
    "transitionSeconds": 0,
    "spotWarningSeconds": 120,
    "eventDelayMs": 0,
    "route53PropagationSeconds": 1.0,
    "route53ChangeBatchErrorFormat": "messages",
}


class ConfigError(ValueError):
    pass


def parse_credential(text):
    """'AKID:SECRET[:SESSIONTOKEN]' or a dict -> {'accessKeyId', 'secretAccessKey', ...}."""
    if isinstance(text, dict):
        if not text.get("accessKeyId") or not text.get("secretAccessKey"):
            raise ConfigError(f"credential needs accessKeyId and secretAccessKey: {text!r}")
        return dict(text)
    parts = str(text).split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ConfigError(f"credentials must be AKID:SECRET[:SESSIONTOKEN], got {text!r}")
    out = {"accessKeyId": parts[0], "secretAccessKey": parts[1]}
    if len(parts) == 3 and parts[2]:
        out["sessionToken"] = parts[2]
    return out


def parse_quota_flag(text):
    """'Action=RATE:BURST' or 'Action=unlimited' -> (action, quota)."""
    action, sep, value = text.partition("=")
    if not sep or not action:
        raise ConfigError(f"--quota must be ACTION=RATE:BURST, got {text!r}")
    if value == "unlimited":
        return action, None
    rate, _, burst = value.partition(":")
    try:
        quota = {"rate": float(rate)}
        if burst:
            quota["burst"] = float(burst)
        return action, normalize_quota(quota)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_parser():
    p = argparse.ArgumentParser(
        prog="emulator.py", description="Local AWS API emulator (ELBv2, STS) for endpoint-binder.")
    p.add_argument("--config", help="JSON config file (keys as documented in README.md)")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port; 0 picks a free one (default 0)")
    p.add_argument("--account", help="account id (default 123456789012)")
    p.add_argument("--region", help="Region for control-API resources and unsigned calls "
                   "without a regional Host (default us-east-1)")
    p.add_argument("--credentials", action="append", metavar="AKID:SECRET[:TOKEN]",
                   help="accept this access key too (repeatable)")
    p.add_argument("--no-default-credentials", action="store_true", default=None,
                   help="do not accept the default test/test key")
    p.add_argument("--healthy-after", type=float, metavar="SECONDS",
                   help="time a new target stays 'initial' (default 2)")
    p.add_argument("--deregistration-delay", type=int, metavar="SECONDS",
                   help="default deregistration_delay.timeout_seconds of new target groups "
                   "(default 300)")
    p.add_argument("--target-limit", type=int, help="targets per target group (default 1000)")
    p.add_argument("--require-load-balancer", action="store_true", default=None,
                   help="targets of a target group no load balancer uses report 'unused' "
                   "(Target.NotInUse), as AWS does (default: normal lifecycle)")
    p.add_argument("--describe-lag-ms", type=float,
                   help="DescribeTargetHealth answers with the state of this long ago")
    p.add_argument("--quota", action="append", metavar="ACTION=RATE:BURST",
                   help="token bucket for an action or glob ('Describe*', '*'); "
                   "'ACTION=unlimited' disables it (repeatable)")
    p.add_argument("--no-throttle", action="store_true", default=None,
                   help="disable all request throttling")
    p.add_argument("--sts-duration", type=float, metavar="SECONDS",
                   help="lifetime of issued STS credentials, overriding DurationSeconds")
    p.add_argument("--web-identity-token", action="append", metavar="TOKEN",
                   help="accept only these web identity tokens (repeatable)")
    p.add_argument("--max-lifetime", type=float, metavar="SECONDS",
                   help="exit after this long (default 3600; 0 = never)")
    p.add_argument("--parent-pid", type=int,
                   help="exit when this process is gone (default: the parent; 0 = never)")
    p.add_argument("--seed", type=int, help="seed for fault injection randomness")
    p.add_argument("--verbose", action="store_true", default=None,
                   help="log every request to stderr (or --log-file)")
    p.add_argument("--log-file", help="write logs here instead of stderr")
    return p


_FLAG_KEYS = {
    "host": "host", "port": "port", "account": "account", "region": "region",
    "healthy_after": "healthyAfter", "deregistration_delay": "deregistrationDelay",
    "target_limit": "targetLimit", "require_load_balancer": "requireLoadBalancer",
    "describe_lag_ms": "describeLagMs", "sts_duration": "stsDurationSeconds",
    "max_lifetime": "maxLifetime", "parent_pid": "parentPid", "seed": "seed",
    "verbose": "verbose", "log_file": "logFile",
}


def load(argv):
    """The effective configuration dict for these command-line arguments."""
    args = build_parser().parse_args(argv)
    config = copy.deepcopy(DEFAULTS)
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as handle:
                from_file = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config {args.config}: {exc}") from exc
        if not isinstance(from_file, dict):
            raise ConfigError("the config file must hold a JSON object")
        unknown = set(from_file) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown config keys: {sorted(unknown)}")
        config.update(from_file)
    for attr, key in _FLAG_KEYS.items():
        value = getattr(args, attr)
        if value is not None:
            config[key] = value
    if args.no_default_credentials:
        config["defaultCredentials"] = False
    if args.no_throttle:
        config["throttle"] = False
    if args.credentials:
        config["credentials"] = list(config["credentials"]) + args.credentials
    if args.web_identity_token:
        config["webIdentityTokens"] = list(config["webIdentityTokens"]) + args.web_identity_token
    quotas = {}
    for action, quota in (config.get("quotas") or {}).items():
        try:
            quotas[action] = normalize_quota(quota)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    for text in args.quota or []:
        action, quota = parse_quota_flag(text)
        quotas[action] = quota
    config["quotas"] = quotas
    config["credentials"] = [parse_credential(c) for c in config["credentials"]]
    if config["defaultCredentials"]:
        config["credentials"].insert(0, {"accessKeyId": "test", "secretAccessKey": "test"})
    if not config["credentials"]:
        raise ConfigError("no credentials would be accepted")
    if config["healthyAfter"] < 0 or config["deregistrationDelay"] < 0:
        raise ConfigError("healthyAfter and deregistrationDelay must be >= 0")
    if not (0 <= int(config["deregistrationDelay"]) <= 3600):
        raise ConfigError("deregistrationDelay must be within 0..3600 seconds")
    for key in ("transitionSeconds", "spotWarningSeconds", "eventDelayMs",
                "route53PropagationSeconds"):
        if not isinstance(config[key], (int, float)) or config[key] < 0:
            raise ConfigError(f"{key} must be a number >= 0")
    for key in ("queues", "targetGroups", "roles"):
        if not isinstance(config[key], list):
            raise ConfigError(f"{key} must be a list")
    return config


def _error_format(value):
    """How Route 53 words InvalidChangeBatch: "messages" (<InvalidChangeBatch><Messages>, what
    AWS answers today) or "errorResponse" (<ErrorResponse>, older answers)."""
    if value not in ("messages", "errorResponse"):
        raise ConfigError(f"route53ChangeBatchErrorFormat must be 'messages' or "
                          f"'errorResponse', not {value!r}")
    return value


class Settings:
    """The run-time knobs the control API may change; reset restores them from the config."""

    def __init__(self, config):
        self.region = config["region"]
        self.account = str(config["account"])
        self.healthy_after = float(config["healthyAfter"])
        self.deregistration_delay = int(config["deregistrationDelay"])
        self.target_limit = int(config["targetLimit"])
        self.target_group_limit = int(config["targetGroupLimit"])
        self.require_load_balancer = bool(config["requireLoadBalancer"])
        self.describe_lag_ms = float(config["describeLagMs"])
        duration = config["stsDurationSeconds"]
        self.sts_duration = None if duration is None else float(duration)
        self.web_identity_tokens = list(config["webIdentityTokens"])
        self.transition_seconds = float(config["transitionSeconds"])
        self.spot_warning_seconds = float(config["spotWarningSeconds"])
        self.event_delay_ms = float(config["eventDelayMs"])
        self.route53_propagation_seconds = float(config["route53PropagationSeconds"])
        self.route53_change_batch_error_format = _error_format(
            config["route53ChangeBatchErrorFormat"])

    FIELDS = {
        "healthyAfter": ("healthy_after", float),
        "deregistrationDelay": ("deregistration_delay", int),
        "targetLimit": ("target_limit", int),
        "targetGroupLimit": ("target_group_limit", int),
        "requireLoadBalancer": ("require_load_balancer", bool),
        "describeLagMs": ("describe_lag_ms", float),
        "stsDurationSeconds": ("sts_duration", lambda v: None if v is None else float(v)),
        "webIdentityTokens": ("web_identity_tokens", list),
        "transitionSeconds": ("transition_seconds", float),
        "spotWarningSeconds": ("spot_warning_seconds", float),
        "eventDelayMs": ("event_delay_ms", float),
        "route53PropagationSeconds": ("route53_propagation_seconds", float),
        "route53ChangeBatchErrorFormat": ("route53_change_batch_error_format",
                                          lambda v: _error_format(v)),
    }

    def describe(self):
        return {key: getattr(self, attr) for key, (attr, _) in self.FIELDS.items()}

    def update(self, values):
        unknown = set(values) - set(self.FIELDS) - {"throttle"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        parsed = {}
        for key, value in values.items():
            if key == "throttle":
                continue
            attr, convert = self.FIELDS[key]
            parsed[attr] = convert(value)
        if parsed.get("healthy_after", 0) < 0 or parsed.get("describe_lag_ms", 0) < 0:
            raise ValueError("healthyAfter and describeLagMs must be >= 0")
        for key in ("transition_seconds", "spot_warning_seconds", "event_delay_ms",
                    "route53_propagation_seconds"):
            if parsed.get(key, 0) < 0:
                raise ValueError("transitionSeconds, spotWarningSeconds, eventDelayMs and "
                                 "route53PropagationSeconds must be >= 0")
        if not 0 <= parsed.get("deregistration_delay", 0) <= 3600:
            raise ValueError("deregistrationDelay must be within 0..3600")
        for attr, value in parsed.items():
            setattr(self, attr, value)
