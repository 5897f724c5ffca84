"""Credentials the emulator accepts: static keys from flags/config and temporary keys it issues.

Temporary credentials come from STS (AssumeRole, AssumeRoleWithWebIdentity) or the control
API; they carry a session token and an expiry. A credential belongs to one account, and the
calls it signs act in that account.
Thread-safety: CredentialStore has its own lock; Credential is immutable once stored.
"""

import secrets
import string
import threading

_UPPER_ALNUM = string.ascii_uppercase + string.digits


def _random_id(prefix, length):
    return prefix + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(length - len(prefix)))


class Credential:
    """One access key. `expires_at` is unix time or None; `kind` is 'static' or 'temporary'."""

    def __init__(self, access_key, secret_key, session_token=None, expires_at=None,
                 account="123456789012", arn=None, user_id=None, kind="static"):
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        self.expires_at = expires_at
        self.account = account
        self.kind = kind
        self.arn = arn or f"arn:aws:iam::{account}:user/{access_key}"
        self.user_id = user_id or _random_id("AIDA", 21)


class CredentialStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_key = {}

    def add(self, credential):
        with self._lock:
            self._by_key[credential.access_key] = credential

    def get(self, access_key):
        with self._lock:
            return self._by_key.get(access_key)

    def issue(self, account, expires_at, arn, user_id):
        """New temporary credentials (ASIA… key, secret, session token), stored and returned."""
        credential = Credential(
            access_key=_random_id("ASIA", 20),
            secret_key=secrets.token_urlsafe(30)[:40],
            session_token="IQoJb3JpZ2luX2VtdWxhdG9y" + secrets.token_urlsafe(150),
            expires_at=expires_at, account=account, arn=arn, user_id=user_id,
            kind="temporary")
        self.add(credential)
        return credential
