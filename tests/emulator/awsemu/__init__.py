"""awsemu: a local emulator of the AWS APIs that endpoint-binder calls.

One process serves every emulated service on one port (see server.py). Each service lives in
its own module and is driven by botocore's service model, which is the authority for request
and response shapes. Thread-safety: all mutable emulator state is guarded by the single lock
owned by server.Emulator; modules document what they expect of their callers.
"""

VERSION = "0.1.0"
