"""Secret redaction for everything a run captures: params, tags, environment, code, diffs, argv.

A redacted value reads ``***REDACTED***``; only the secret's value is replaced, the name, the
quotes and the code around it stay. Three rules, applied in this order:

1. **By shape**, whatever the name: AWS access key ids, GitHub, GitLab, Slack, Stripe, Google,
   Hugging Face, OpenAI/Anthropic, PyPI, npm and Databricks tokens, JWTs, Azure storage account
   keys, Slack webhook paths and PEM private key blocks.
2. **Inside URLs**: the password of ``scheme://user:password@host`` (user and host stay) and
   the ``sig=`` of an Azure shared access signature.
3. **By name.** A secret-looking name (see :meth:`Redactor.secret_name`) followed by ``=``,
   ``:``, ``==`` or ``,`` (after a quoted name), or a ``--flag`` followed by a space, has its
   value replaced when the value is

   * a quoted literal, in any quoting: ``api_key = "…"``, ``{"token": '…'}``, ``f(pw="…")``,
     ``\\"password\\": \\"…\\"`` inside a string literal or a notebook's JSON;
   * a container literal (``creds = {…}``, ``auth = ("ada", "…")``): each string in it that
     looks random is replaced;
   * an unquoted word (YAML, INI, env files, command lines, messages), unless it reads as code:
     a call or subscript (``password = getpass()``), a name made of letters, underscores and
     dots (``token = token``, ``key = os.environ``), a literal (``None``, ``true``), a number of
     up to five characters (``token_count = 3``) or a placeholder (``${TOKEN}``, ``{token}``).
     After a command-line flag (``--password x``, ``--param password=x``, ``%env PW=x``) and in
     an env line (``DB_PASSWORD=x``) every word is a value.

   After ``,`` and ``==`` only values that look random are replaced (``("password", "x1Z…")``).

``deny`` patterns (regular expressions on names) add secret names; ``allow`` patterns exempt
names from the name rule. Shapes and URLs are always redacted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "Redactor"]

REDACTED = "***REDACTED***"

# -- names -------------------------------------------------------------------------------------
# A name is secret when one of its words (split on non-alphanumerics and camelCase) ends with one
# of these (``oauth``, ``clientsecret``, ``dbpassword``), is one of the compounds, or is the last
# word and a short form (``db_pass``, ``smtp_pw``), or when two words make a secret key.
_SECRET_SUFFIXES = ("token", "secret", "secrets", "password", "passwd", "pwd", "passphrase",
                    "credential", "credentials", "creds", "auth", "apikey")
_SECRET_COMPOUNDS = {"authorization", "privatekey", "secretkey", "accesskey", "accountkey"}
_SECRET_LAST_WORDS = {"pass", "pw", "pswd"}
# ... unless its last word says the value describes the secret: token_type, password_file.
_DESCRIPTORS = {"name", "names", "type", "mode", "kind", "usage", "length", "len", "count", "size",
                "limit", "ttl", "timeout", "expiry", "path", "file", "dir", "env", "encoding",
                "field", "column", "url", "uri", "endpoint"}
_KEY_OWNERS = {"api", "access", "private", "secret", "account", "signing", "encryption", "master",
               "storage", "shared", "subscription", "license", "app", "session", "deploy", "ssh",
               "consumer", "client", "admin", "sas"}
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

# -- shapes ------------------------------------------------------------------------------------
# One expression per shape, each starting with its literal prefix (a literal start is what makes
# the regex engine skip ahead quickly); the lookbehind after the prefix asks for a word boundary.
_SHAPES = [
    re.compile(p)
    for p in (
        r"A(?<![A-Za-z0-9]A)(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|PKA|ROA|SCA)[A-Z0-9]{16}"
        r"(?![A-Za-z0-9])",  # AWS access key id
        r"gh(?<![\w\-]gh)[pousr]_[A-Za-z0-9]{30,}",  # GitHub
        r"github_pat_(?<![\w\-]github_pat_)[A-Za-z0-9_]{22,}",
        r"gl(?<![\w\-]gl)(?:pat|dt|rt|ptt|ft|cbt|imt|oas|soat|agent|ffct)-[A-Za-z0-9_\-]{20,}",
        r"xox(?<![\w\-]xox)[abposre]-[A-Za-z0-9\-]{10,}",  # Slack
        r"(?P<keep>hooks\.slack\.com/services/)[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+",
        r"sk_(?<![\w\-]sk_)(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe secret key
        r"rk_(?<![\w\-]rk_)(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe restricted key
        r"whsec_(?<![\w\-]whsec_)[A-Za-z0-9+/=]{20,}",  # Stripe webhook signing secret
        r"AIza(?<![\w\-]AIza)[A-Za-z0-9_\-]{35}",  # Google API key
        r"GOCSPX-(?<![\w\-]GOCSPX-)[A-Za-z0-9_\-]{20,}",  # Google OAuth client secret
        r"sk-(?<![\w\-]sk-)(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI, Anthropic
        r"hf_(?<![\w\-]hf_)[A-Za-z0-9]{30,}",  # Hugging Face
        r"pypi-AgE(?<![\w\-]pypi-AgE)[A-Za-z0-9_\-]{50,}",  # PyPI
        r"npm_(?<![\w\-]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])",
        r"dapi(?<![\w\-]dapi)[0-9a-f]{32}(?![A-Za-z0-9])",  # Databricks
        r"eyJ(?<![\w\-]eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWT
        # A PEM private key keeps its BEGIN/END lines; one cut short loses all of its body.
        r"(?P<keep>-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(?:[\s\S]{0,20000}?"
        r"(?P<keep_end>-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)|(?:[A-Za-z0-9+/=\s]|\\[nr])+)",
    )
]
# An Azure storage account key: 64 random bytes in base64, 86 characters and "==", found from
# the "==" back (a literal is quick to find; the key body is not).
_AZURE_KEY_END = re.compile(r"==(?![A-Za-z0-9+/=])")
_AZURE_KEY_BODY = re.compile(r"[A-Za-z0-9+/]{86}")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_URL_PASSWORD = re.compile(r"(?P<head>://[^\s:/@\"'<>\\]*:)(?P<password>[^\s/?#\"'<>\\]+)@")
_SAS_SIGNATURE = re.compile(r"(?P<head>[?&;]sig=)[^&\s\"'<>;\\#]+")

# -- name rule: finding candidates -------------------------------------------------------------
# Candidates are found by a stem of a secret word in the lower-cased text, one literal search per
# stem; the whole name around a stem is then checked.
_STEMS = [re.compile(stem) for stem in ("token", "secret", "pass", "pw", "psw", "cred", "auth",
                                         "key", "signature")]
# With deny patterns any name can be secret: every name followed by a separator is a candidate.
_ANY_NAME = re.compile(
    r"(?<![\w.\-])(?:[A-Za-z_][\w.\-]{0,100}+(?=\\*[\"']?\]?[ \t]*[=:,])"
    r"|--?[A-Za-z_][\w.\-]{0,100}+(?=[ \t=]))"
)
_NAME_TAIL = re.compile(r"[\w.\-]*")
_MAX_NAME = 100

# -- name rule: separator and value ------------------------------------------------------------
_SEP = re.compile(
    r"(?P<close>\\*[\"'])?\]?(?P<op>[ \t]*(?:==|=(?![=>])|:(?![:/=])|,)[ \t]*|[ \t]+)"
)
_FLAG_BEFORE = re.compile(r"(?<![\w\-])(?:--?[A-Za-z][\w\-]*|%{1,2}[A-Za-z]\w*|export|set)[ \t]+$")
_QUOTE = re.compile(r"(?P<prefix>[rRbBuUfF]{0,2})(?P<q>\\*[\"'])")
# An unquoted value in code and config; "&" and ";" end it only before the next ``name=``
# (a URL query, a connection string), so ``password: Tr0ub&dor;x`` is one value.
_BARE = re.compile(r"(?:\$\{[^{}\s]*\}|[^\s\"'`,;&()\[\]{}<>\\]"
                   r"|[&;](?![\w.\-]+=)(?=[^\s\"'`,;&()\[\]{}<>\\]))+")
# An unquoted value on a command line or an env line: up to a space, a quote or a bracket.
_BARE_WIDE = re.compile(r"(?:\$\([^()\n]*\)|\$\{[^{}\s]*\}|[^\s\"'`\\\[\](){}])+")
_METAVAR = re.compile(r"[A-Z][A-Z_\-]*")  # --token TOKEN, --password=VALUE: usage text
_ENV_VAR_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")  # TOKEN_ENV = "GITHUB_TOKEN"
_ANNOTATED_DEFAULT = re.compile(
    r"(?:\[[\w., \[\]|]*\])?[ \t]*(?:\|[ \t]*[\w.\[\]]+[ \t]*)*=(?![=>])[ \t]*"
)
_PLACEHOLDER = re.compile(  # ${TOKEN}, $(cat f), {token}, %s, <your key>, ***, xxx, "ghp_..."
    r"\$\w+|\$?\{+[^{}]*\}+|\$\(.*|%\(?\w*\)?[sdr]|<[^<>]*>|\*+|[xX]{3,}|.*(?:\.\.\.|…)"
)
_LITERALS = {"None", "True", "False", "null", "true", "false", "none", "nil", "undefined", "~",
             "|", "|-", "|+", ">", ">-", ">+"}  # the last ones start a YAML block
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+)")
_WORDLIKE = re.compile(r"[A-Za-z_]+(?:\.[A-Za-z_]+)*")  # a variable, attribute or plain word
_AUTH_SCHEMES = {"bearer", "basic", "token", "digest"}
_CONTAINER_STRING = re.compile(r"(?P<q>\\*[\"'])(?P<body>[^\"'\\\n]{8,512})(?P=q)")
_BRACKETS = re.compile(r"[\[\](){}]")
_MAX_LITERAL = 10_000
_MAX_CONTAINER = 20_000


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    """8 to 512 characters without spaces mixing letters with digits or symbols (other than
    ``_ - .``), not too repetitive: ``x9Yz8Wv7``, ``Tr0ub4dor&3``; not ``proxy_auth``, ``2024``."""
    if not 8 <= len(value) <= 512 or any(c.isspace() for c in value):
        return False
    letter = any(c.isalpha() for c in value)
    mixed = any(c.isdigit() or not (c.isalnum() or c in "_-.") for c in value)
    return letter and mixed and _entropy(value) >= 2.5


def _closing_quote(text: str, start: int, quote: str) -> int:
    """Index of the quote closing a one-line literal whose body starts at ``start``, or -1."""
    end_limit = min(len(text), start + _MAX_LITERAL)
    i = start
    while True:
        end = text.find(quote, i, end_limit)
        if end < 0 or text.find("\n", start, end) >= 0:
            return -1
        backslashes = 0
        while len(quote) == 1 and end - backslashes > start and text[end - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return end
        i = end + 1  # an escaped quote inside the literal


def _matching_bracket(text: str, start: int) -> int:
    depth = 0
    limit = min(len(text), start + _MAX_CONTAINER)
    for m in _BRACKETS.finditer(text, start, limit):
        depth += 1 if m[0] in "[({" else -1
        if depth == 0:
            return m.end()
    return limit


def _name_start(text: str, pos: int) -> int:
    """Where the name holding ``text[pos]`` starts. An escape (``\\n`` in a string literal or
    JSON) and a diff's ``-`` at the start of a line are not part of it."""
    start, floor = pos, max(0, pos - _MAX_NAME)
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        if text[start - 1] in "nrt" and start - 2 >= 0 and text[start - 2] == "\\":
            break
        start -= 1
    while text[start] == ".":
        start += 1
    if text[start] == "-" and text[start + 1] != "-" and (start == 0 or text[start - 1] == "\n"):
        start += 1
    return start


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue  # inside a span already replaced
        out += [text[last:start], REDACTED]
        last = end
    out.append(text[last:])
    return "".join(out)


def _url_password(m: re.Match[str]) -> str:
    if _PLACEHOLDER.fullmatch(m["password"]):
        return m[0]
    return f"{m['head']}{REDACTED}@"


def _shape(m: re.Match[str]) -> str:
    groups = m.groupdict()
    return f"{groups.get('keep') or ''}{REDACTED}{groups.get('keep_end') or ''}"


def _redact_shapes(text: str) -> str:
    for shape in _SHAPES:
        text = shape.sub(_shape, text)
    spans = []
    for m in _AZURE_KEY_END.finditer(text):
        start = m.start() - 86
        if start >= 0 and _AZURE_KEY_BODY.fullmatch(text, start, m.start()) and (
                start == 0 or text[start - 1] not in _BASE64_CHARS):
            spans.append((start, m.end()))
    return _replace(text, spans) if spans else text


def _stem_hits(text: str) -> list[tuple[int, int]]:
    """Where a stem of a secret word occurs in ``text``, in any case, sorted."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters lower-case to two characters
        low = text.encode("ascii", "replace").decode("ascii").lower()
    return sorted(m.span() for stem in _STEMS for m in stem.finditer(low))


class Redactor:
    """Replace secrets in keys/values and free text.

    >>> r = Redactor()
    >>> r.value("GITHUB_TOKEN", "abc")
    '***REDACTED***'
    >>> r.value("max_tokens", 512)
    512
    >>> r.text('api_key = "sk-123456789"  # keep this comment')
    'api_key = "***REDACTED***"  # keep this comment'
    >>> r.text("postgresql://ada:pw@db.example.com/prod")
    'postgresql://ada:***REDACTED***@db.example.com/prod'
    """

    def __init__(self, deny: Iterable[str] = (), allow: Iterable[str] = ()) -> None:
        self._deny = [re.compile(p, re.IGNORECASE) for p in deny]
        self._allow = [re.compile(p, re.IGNORECASE) for p in allow]
        self._names: dict[str, bool] = {}

    def secret_name(self, key: str) -> bool:
        """True when ``key`` names a secret under the name rule (after allow/deny).

        >>> r = Redactor()
        >>> [r.secret_name(k) for k in ("DB_PASSWORD", "clientSecret", "x-api-key", "smtp_pass")]
        [True, True, True, True]
        >>> [r.secret_name(k) for k in ("tokenizer", "author", "token_type", "private_key_path")]
        [False, False, False, False]
        """
        known = self._names.get(key)
        if known is None:
            known = self._secret_name(key)
            if len(self._names) < 10_000:
                self._names[key] = known
        return known

    def _secret_name(self, key: str) -> bool:
        if any(p.search(key) for p in self._allow):
            return False
        if any(p.search(key) for p in self._deny):
            return True
        words = _words(key)
        if not words or words[-1] in _DESCRIPTORS:
            return False
        if any(w.endswith(_SECRET_SUFFIXES) or w in _SECRET_COMPOUNDS for w in words):
            return True
        if words[-1] in _SECRET_LAST_WORDS:
            return True
        return any(a in _KEY_OWNERS and b in ("key", "signature")
                   for a, b in zip(words, words[1:], strict=False))

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
        """Redact secret shapes, URL passwords and the values of secret names in free text."""
        if not text:
            return text
        text = _redact_shapes(text)
        if "://" in text:
            text = _URL_PASSWORD.sub(_url_password, text)
        if "sig=" in text:
            text = _SAS_SIGNATURE.sub(rf"\g<head>{REDACTED}", text)
        spans = self._named_values(text)
        return _replace(text, spans) if spans else text

    # -- the name rule ----------------------------------------------------------------------------
    def _named_values(self, text: str) -> list[tuple[int, int]]:
        """Spans of the values assigned to secret names in ``text``."""
        spans: list[tuple[int, int]] = []
        done = 0  # end of the last name looked at: later stems inside it are skipped
        hits = ([m.span() for m in _ANY_NAME.finditer(text)] if self._deny
                else _stem_hits(text))
        for hit_start, hit_end in hits:
            if hit_start < done:
                continue
            end = _NAME_TAIL.match(text, hit_end).end()
            while end > hit_start and text[end - 1] in ".-":
                end -= 1
            done = end
            sep = _SEP.match(text, end)
            if sep is None:
                continue
            start = _name_start(text, hit_start)
            name = text[start:end]
            if len(name) < _MAX_NAME and self.secret_name(name):
                spans += self._value_after(text, start, name, sep)
        return spans

    def _value_after(self, text: str, start: int, name: str, sep: re.Match[str]
                     ) -> list[tuple[int, int]]:
        op = sep["op"].strip()
        dashed = name.startswith("-")
        if (op == "" and not dashed) or (op == "," and sep["close"] is None):
            return []
        if dashed or _FLAG_BEFORE.search(text, max(0, start - 40), start):
            context = "cli"
        elif sep[0] == "=" and name.isupper():
            context = "env"  # NAME=value: an env file or a shell line
        else:
            context = "code"
        return self._value_at(text, sep.end(), op, context)

    def _value_at(self, text: str, pos: int, op: str, context: str) -> list[tuple[int, int]]:
        """Span(s) of the value starting at ``pos`` if it is a secret, else []."""
        strict = op in (",", "==")  # only values that look random
        quote = _QUOTE.match(text, pos)
        if quote:
            body_start = quote.end()
            body_end = _closing_quote(text, body_start, quote["q"])
            if body_end <= body_start:
                return []
            body = text[body_start:body_end]
            if (REDACTED in body or _PLACEHOLDER.fullmatch(body) or _ENV_VAR_NAME.fullmatch(body)
                    or ("f" in quote["prefix"].lower() and "{" in body)
                    or (strict and not _looks_random(body))):
                return []
            return [(body_start, body_end)]
        if strict:
            return []
        if text[pos:pos + 1] in ("[", "(", "{"):
            end = _matching_bracket(text, pos)
            return [m.span("body") for m in _CONTAINER_STRING.finditer(text, pos, end)
                    if REDACTED not in m["body"] and _looks_random(m["body"])]
        bare = (_BARE if context == "code" else _BARE_WIDE).match(text, pos)
        if bare is None:
            return []
        value, end = bare[0], bare.end()
        after = text[end:end + 1]
        if (REDACTED in value or value in _LITERALS or _PLACEHOLDER.fullmatch(value)
                or (len(value) <= 5 and _NUMBER.fullmatch(value))):
            return []
        if value.lower() in _AUTH_SCHEMES and after == " ":  # Authorization: Bearer <token>
            return self._value_at(text, end + 1, "=", "cli")
        if context == "code":
            if op == ":" and _WORDLIKE.fullmatch(value):  # an annotation: api_key: str = "…"
                default = _ANNOTATED_DEFAULT.match(text, end)
                return self._value_at(text, default.end(), "=", "code") if default else []
            if after in ("(", "[") or value[0] in "!%" or _WORDLIKE.fullmatch(value):
                return []  # code: a call, a subscript, an IPython escape, a name
        elif value.startswith("-") or _METAVAR.fullmatch(value):
            return []  # the next flag, or a metavar in usage text: --token TOKEN
        return [(pos, end)]
