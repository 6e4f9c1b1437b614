"""Secret redaction for everything a run captures: params, tags, environment, code, diffs, argv.

Two rules, applied together:

* **By name.** A key whose words (split on ``_ - . /`` and camelCase) include token, secret,
  password, passwd, pwd, credential(s), auth, authorization, apikey, or the pairs api+key,
  access+key, private+key, has its *string* value replaced (numbers stay: ``max_tokens=512`` is
  not a secret, and neither is ``tokenizer``). In text (code, diffs, command lines), a quoted
  literal or a ``--flag=value`` assigned to such a name is replaced.
* **By shape.** Anywhere, values shaped like AWS access keys, GitHub/GitLab/Slack tokens, JWTs
  and PEM private keys are replaced, whatever their name.

Replaced values read ``***REDACTED***``. ``deny`` patterns (regular expressions on key names)
add names; ``allow`` patterns exempt names from the name rule (shapes are always redacted).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "Redactor"]

REDACTED = "***REDACTED***"

_SECRET_WORDS = {"token", "secret", "secrets", "password", "passwd", "pwd", "credential",
                 "credentials", "auth", "authorization", "apikey", "passphrase"}
_SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key")}

_SHAPES = re.compile(
    "|".join(
        [
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
            r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,}\b",
            r"\bglpat-[A-Za-z0-9_\-]{20,}\b",  # GitLab
            r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b",  # Slack
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWT
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        ]
    )
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
# name = "value" / name: 'value' / "name": "value"  (code, YAML, JSON, diffs)
_QUOTED_ASSIGNMENT = re.compile(
    rf"(?P<name>{_NAME})(?P<sep>[\"']?\s*(?:=|:|==)\s*)(?P<q>[\"'])(?P<val>[^\"'\n]+)(?P=q)"
)
# --name=value / --name value / NAME=value (command lines, env files)
_UNQUOTED_ASSIGNMENT = re.compile(
    rf"(?P<name>(?:--?)?{_NAME})(?P<sep>=|\s+)(?P<val>[^\s\"'=\-][^\s\"'=]{{7,}})"
)


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


class Redactor:
    """Replace secrets in keys/values and free text.

    >>> r = Redactor()
    >>> r.value("GITHUB_TOKEN", "abc")
    '***REDACTED***'
    >>> r.value("max_tokens", 512)
    512
    >>> r.text('api_key = "sk-123456789"  # keep this comment')
    'api_key = "***REDACTED***"  # keep this comment'
    """

    def __init__(self, deny: Iterable[str] = (), allow: Iterable[str] = ()) -> None:
        self._deny = [re.compile(p, re.IGNORECASE) for p in deny]
        self._allow = [re.compile(p, re.IGNORECASE) for p in allow]

    def secret_name(self, key: str) -> bool:
        """True when ``key`` names a secret under the name rule (after allow/deny)."""
        if any(p.search(key) for p in self._allow):
            return False
        if any(p.search(key) for p in self._deny):
            return True
        words = _words(key.lstrip("-"))
        if _SECRET_WORDS.intersection(words):
            return True
        return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:], strict=False))

    def value(self, key: str, value: Any) -> Any:
        """Return ``value`` with secrets replaced; numbers, bools and None pass unchanged."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if self.secret_name(key):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        return value

    def mapping(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Apply :meth:`value` to every item of a mapping."""
        return {k: self.value(k, v) for k, v in values.items()}

    def text(self, text: str) -> str:
        """Redact secret shapes and secret-named assignments inside free text."""
        if not text:
            return text
        text = _SHAPES.sub(REDACTED, text)

        def quoted(m: re.Match[str]) -> str:
            if m["val"] == REDACTED or not self.secret_name(m["name"]):
                return m[0]
            return f"{m['name']}{m['sep']}{m['q']}{REDACTED}{m['q']}"

        def unquoted(m: re.Match[str]) -> str:
            val = m["val"]
            if REDACTED in val or not self.secret_name(m["name"]):
                return m[0]
            # A bare word after a secret name is a secret only when it looks random.
            if m["sep"].strip() == "" and _entropy(val) < 3.0:
                return m[0]
            return f"{m['name']}{m['sep']}{REDACTED}"

        text = _QUOTED_ASSIGNMENT.sub(quoted, text)
        return _UNQUOTED_ASSIGNMENT.sub(unquoted, text)
