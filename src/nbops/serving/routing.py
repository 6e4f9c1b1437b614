"""Deployments: which loaded version answers a request, and following the registry.

    primary   NAME@ALIAS, answers every request not sent to the canary
    canary    another alias (``--canary challenger=10%``): that share of requests, sticky per
              request key (the ``X-Nbops-Key`` header) when one is given
    shadow    another alias (``--shadow challenger``): gets a copy of each request, predicted
              in a process of its own (:mod:`nbops.serving.shadow`); logged, never returned

Blue-green: a watcher thread resolves each alias every ``poll`` seconds. When one moved (a
promotion, ``nbops registry rollback``), it loads and warms the new version beside the old one,
then swaps the slot in one assignment; requests already running finish on the old version. A
version that fails to load is reported and the old one keeps serving. Each swap is written to
the model's alias audit trail (action ``serve``).

A routing file (``nbops serve --config routing.yaml``) holds the same options as the flags::

    model: churn@prod
    canary: challenger=10%        # or {alias: challenger, percent: 10}
    shadow: challenger
    poll: 2
    host: 127.0.0.1
    port: 5000
    workers: 2

Example:
    >>> parse_canary("challenger=10%")
    ('challenger', 10.0)
"""

from __future__ import annotations

import logging
import random
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import UsageError, closest
from nbops.serving.models import Slot, current_version, load_slot

__all__ = ["ROUTING_KEYS", "Deployment", "RouteConfig", "parse_canary", "read_routing",
           "swap_recorder"]

log = logging.getLogger("nbops.serving")


def parse_canary(text: str) -> tuple[str, float]:
    """``ALIAS=PCT%`` (or ``NAME@ALIAS=PCT``) → (reference, percent)."""
    ref, sep, pct = str(text).rpartition("=")
    try:
        percent = float(pct.strip().rstrip("%"))
    except ValueError:
        percent = -1.0
    if not sep or not ref.strip() or not 0 <= percent <= 100:
        raise UsageError(f"--canary takes ALIAS=PERCENT with PERCENT from 0 to 100, like "
                         f"'challenger=10%'; got {text!r}.")
    return ref.strip(), percent


ROUTING_KEYS = {"model": str, "canary": str, "shadow": str, "poll": float, "host": str,
                "port": int, "workers": int}


def read_routing(path: str | Path) -> dict[str, Any]:
    """The options of a routing file (YAML), checked; its keys are the flags of ``nbops serve``
    (``model`` is the NAME@ALIAS argument). ``canary`` may be ``{alias: ..., percent: ...}``."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"Routing file {str(file)!r} does not exist. Write one with keys "
                         f"{', '.join(ROUTING_KEYS)}, like 'model: churn@prod'.")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"{file}: not valid YAML ({exc}).") from None
    if not isinstance(data, dict):
        raise UsageError(f"{file}: expected options like 'model: churn@prod', one per line; got "
                         f"{type(data).__name__}.")
    options: dict[str, Any] = {}
    for key, value in data.items():
        kind = ROUTING_KEYS.get(str(key))
        if kind is None:
            raise UsageError(f"{file}: unknown key {key!r}.{closest(str(key), ROUTING_KEYS)} "
                             f"Known keys: {', '.join(ROUTING_KEYS)}.")
        if key == "canary" and isinstance(value, dict):
            if set(value) != {"alias", "percent"}:
                raise UsageError(f"{file}: canary takes ALIAS=PERCENT or {{alias: ..., percent: "
                                 f"...}}; got the keys {', '.join(map(str, value))}.")
            value = f"{value['alias']}={value['percent']}%"
        number = kind is not str and isinstance(value, int | float) and not isinstance(value, bool)
        if not (isinstance(value, str) if kind is str else number) or (
                kind is int and not float(value).is_integer()):
            raise UsageError(f"{file}: {key} must be {'text' if kind is str else 'a number'}"
                             f"{' (whole)' if kind is int else ''}; got {value!r}.")
        options[key] = kind(value)
    if "canary" in options:
        try:
            parse_canary(options["canary"])
        except UsageError as exc:
            raise UsageError(f"{file}: {str(exc).replace('--canary', 'canary')}") from None
    return options


def _full_ref(primary: str, ref: str) -> str:
    """``challenger`` → ``churn@challenger`` (the primary's model); full references kept."""
    from nbops.registry.resolve import parse_ref

    if "@" in ref or "/" in ref:
        return ref
    return f"{parse_ref(primary).name}@{ref}"


@dataclass(frozen=True)
class RouteConfig:
    """What a server serves; plain data so worker processes can rebuild it from JSON."""

    ref: str
    canary: str | None = None
    canary_percent: float = 0.0
    shadow: str | None = None
    poll: float = 2.0
    max_body: int = 8 * 1024 * 1024
    home: str = ""
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.canary:
            object.__setattr__(self, "canary", _full_ref(self.ref, self.canary))
        if self.shadow:
            object.__setattr__(self, "shadow", _full_ref(self.ref, self.shadow))

    @property
    def model(self) -> str:
        from nbops.registry.resolve import parse_ref

        return parse_ref(self.ref).name


class Deployment:
    """The loaded slots and the routing choice; slots are swapped whole by the watcher."""

    def __init__(self, config: RouteConfig, cache: Path) -> None:
        self.config = config
        self.cache = cache
        self.slots: dict[str, Slot | None] = {"primary": load_slot(config.ref, cache)}
        self.slots["canary"] = load_slot(config.canary, cache) if config.canary else None
        self.last_error: str | None = None
        self._threshold = int(config.canary_percent * 100)  # out of 10,000
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def choose(self, key: str | None) -> tuple[str, Slot]:
        """(route, slot) for one request; the same key always lands on the same route."""
        canary = self.slots["canary"]
        if canary is not None and self._threshold:
            bucket = zlib.crc32(key.encode()) % 10_000 if key else random.randrange(10_000)
            if bucket < self._threshold:
                return "canary", canary
        return "primary", self.slots["primary"]  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        return {"routes": {route: slot.describe() for route, slot in self.slots.items() if slot},
                "canary_percent": self.config.canary_percent if self.slots["canary"] else 0.0,
                "poll_seconds": self.config.poll, "last_error": self.last_error}

    # -- following the registry ------------------------------------------------------------

    def start_watching(self, recorder: Any = None) -> None:
        """Poll the aliases in a thread; ``recorder(slot_before, slot_after)`` writes the audit."""
        if self.config.poll <= 0:
            return
        self._recorder = recorder
        self._thread = threading.Thread(target=self._watch, name="nbops-serve-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.config.poll):
            for route in ("primary", "canary"):
                slot = self.slots[route]
                if slot is not None:
                    self.follow(route, slot)

    def follow(self, route: str, slot: Slot) -> bool:
        """Swap ``route`` to the version its alias points to now; True when it moved."""
        try:
            version = current_version(slot.ref)
            if version == slot.version:
                return False
            new = load_slot(slot.ref, self.cache, version)
        except Exception as exc:  # a bad version or a store hiccup must not stop serving
            message = f"{route} {slot.ref}: kept v{slot.version}: {exc}"
            if message != self.last_error:
                log.error("could not follow %s", message)
            self.last_error = message
            return False
        self.slots[route] = new  # the swap: one assignment; running requests keep the old slot
        self.last_error = None
        log.warning("%s %s: now serving v%s (was v%s)", route, slot.ref, new.version,
                    slot.version)
        if self._recorder is not None:
            try:
                self._recorder(route, slot, new)
            except Exception as exc:
                log.error("could not record the swap of %s in the audit trail: %s", slot.ref, exc)
        return True


def swap_recorder(url: str, route: str | None = None) -> Any:
    """``record(route, slot_before, slot_after)`` writing a swap of the server at ``url`` to the
    alias audit trail (action ``serve``); ``route`` names the route when the caller knows better
    (the shadow's process follows its alias as its own primary)."""

    def record(followed: str, before: Slot, after: Slot) -> None:
        from nbops.registry.audit import record as audit
        from nbops.registry.resolve import parse_ref

        alias = parse_ref(after.ref).alias
        if alias:
            audit(after.name, alias, before.version, after.version, "serve",
                  f"nbops serve {url} ({route or followed}) swapped to v{after.version} after "
                  f"the alias moved; requests in flight finished on v{before.version}")

    return record
