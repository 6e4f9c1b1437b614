"""Settings: environment variables first, then ``[tool.nbops]`` in pyproject.toml, then defaults.

=======================  =========================  ===========================================
environment              ``[tool.nbops]`` key       default
=======================  =========================  ===========================================
NBOPS_TRACKING_URI,      ``tracking_uri``           ``sqlite:///<home>/mlflow.db`` (embedded)
MLFLOW_TRACKING_URI
NBOPS_REGISTRY_URI,      ``registry_uri``           the tracking URI
MLFLOW_REGISTRY_URI
NBOPS_STORE_TIMEOUT      ``store_timeout``          5 seconds for each call to an MLflow server or
                                                    database (then the store counts as down)
NBOPS_HOME               ``home``                   ``<project root>/.nbops``
NBOPS_EXPERIMENT         ``experiment``             the notebook's name, else ``Default``
NBOPS_NO_CAPTURE         ``no_capture``             nothing (code, git, env, figures, notebook, io)
NBOPS_REDACT_DENY        ``redact_deny``            no extra patterns
NBOPS_REDACT_ALLOW       ``redact_allow``           no exceptions
NBOPS_FLUSH_TIMEOUT      ``flush_timeout``          1 second waited at interpreter exit, then
                                                    a background ``nbops sync`` ships the rest
NBOPS_REGISTRY_WRITES    ``registry_writes``        on; off (``0``/``false``/``off``): models are
                                                    logged in their run but not registered, and
                                                    aliases are not moved (``nbops reproduce``)
=======================  =========================  ===========================================

The project root is the nearest folder, from the working directory up, holding a
``pyproject.toml`` or ``.git``; the working directory itself when there is none.

Kernels nbops starts (pipeline steps, ``nbops reproduce``) get their variables from one
function, :func:`kernel_environment`: the store and experiment above, and where their runs
belong (``NBOPS_PARENT_RUN_ID`` or ``NBOPS_PARENT_UID``, ``NBOPS_NOTEBOOK_PATH``); inside the
kernel, :func:`kernel_context` reads them back.

This module is the only reader of environment variables in nbops: the settings above, the
kernel context, the user (:func:`user_name`), the environment a run records
(:func:`environment_variables`) and a pipeline worker's handshake (:func:`lane_handshake`).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import ConfigError

__all__ = ["CAPTURE_PARTS", "KernelContext", "Settings", "environment_variables",
           "find_project_root", "kernel_context", "kernel_environment", "lane_handshake",
           "load_settings", "user_name"]

#: The file a pipeline step's ``nbops.output()`` appends to (set by the executor).
OUTPUTS_FILE_VAR = "NBOPS_OUTPUTS_FILE"
#: The key and kernel variables a pipeline worker process gets from its executor.
LANE_KEY_VAR, LANE_ENV_VAR = "NBOPS_LANE_KEY", "NBOPS_LANE_ENV"

#: The parts of a run's capture that ``--no-capture`` / ``NBOPS_NO_CAPTURE`` can switch off.
CAPTURE_PARTS = ("code", "git", "env", "figures", "notebook", "io")


@dataclass(frozen=True)
class Settings:
    """Effective nbops settings; build them with :func:`load_settings`."""

    home: Path
    tracking_uri: str
    experiment: str | None = None
    no_capture: frozenset[str] = frozenset()
    redact_deny: tuple[str, ...] = ()
    redact_allow: tuple[str, ...] = ()
    flush_timeout: float = 1.0
    registry_writes: bool = True
    project_root: Path = field(default_factory=Path.cwd)
    registry_uri: str = ""  # empty: the tracking URI
    store_timeout: float = 5.0

    @property
    def model_registry_uri(self) -> str:
        """The model registry's URI: ``registry_uri``, else the tracking URI."""
        return self.registry_uri or self.tracking_uri

    @property
    def embedded(self) -> bool:
        """True when the store is the embedded SQLite store under ``home``."""
        return self.tracking_uri == embedded_uri(self.home)

    @property
    def artifact_root(self) -> Path:
        """Where runs of the embedded store keep their artifacts."""
        return self.home / "artifacts"

    @property
    def spool_path(self) -> Path:
        return self.home / "spool.db"


def embedded_uri(home: Path) -> str:
    return f"sqlite:///{home / 'mlflow.db'}"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder from ``start`` (default: cwd) up holding pyproject.toml or .git."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return here


def _pyproject_table(root: Path) -> dict:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Fix the TOML syntax or remove the file.") from None
    table = data.get("tool", {}).get("nbops", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.nbops] in {path} must be a table of settings.")
    return table


def _split(value: str | list | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return tuple(str(p) for p in value)


def _flag(name: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false); got {value!r}.")


def load_settings(cwd: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the settings in force for ``cwd`` (default: the working directory)."""
    env = os.environ if env is None else env
    root = find_project_root(cwd)
    table = _pyproject_table(root)
    known = {"tracking_uri", "home", "experiment", "no_capture", "redact_deny", "redact_allow",
             "flush_timeout", "registry_writes", "registry_uri", "store_timeout"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {unknown} in [tool.nbops] of {root / 'pyproject.toml'}; "
            f"known keys are {sorted(known)}."
        )

    home_value = env.get("NBOPS_HOME") or table.get("home")
    home = Path(home_value).expanduser() if home_value else root / ".nbops"
    if not home.is_absolute():
        home = root / home
    uri = env.get("NBOPS_TRACKING_URI") or env.get("MLFLOW_TRACKING_URI") or table.get(
        "tracking_uri"
    ) or embedded_uri(home)

    no_capture = frozenset(_split(env.get("NBOPS_NO_CAPTURE", table.get("no_capture"))))
    bad = sorted(no_capture - set(CAPTURE_PARTS))
    if bad:
        raise ConfigError(
            f"NBOPS_NO_CAPTURE / no_capture names unknown part(s) {bad}; choose from "
            f"{', '.join(CAPTURE_PARTS)}."
        )
    try:
        flush_timeout = float(env.get("NBOPS_FLUSH_TIMEOUT", table.get("flush_timeout", 1.0)))
    except ValueError as exc:
        raise ConfigError(f"NBOPS_FLUSH_TIMEOUT must be a number of seconds: {exc}") from None

    try:
        store_timeout = float(env.get("NBOPS_STORE_TIMEOUT", table.get("store_timeout", 5.0)))
    except ValueError as exc:
        raise ConfigError(f"NBOPS_STORE_TIMEOUT must be a number of seconds: {exc}") from None
    if store_timeout <= 0:
        raise ConfigError(f"NBOPS_STORE_TIMEOUT must be more than 0 seconds; got {store_timeout}.")
    registry_uri = env.get("NBOPS_REGISTRY_URI") or env.get("MLFLOW_REGISTRY_URI") or table.get(
        "registry_uri") or ""

    registry_writes = _flag("NBOPS_REGISTRY_WRITES / registry_writes",
                            env.get("NBOPS_REGISTRY_WRITES", table.get("registry_writes", True)))

    return Settings(
        home=home,
        tracking_uri=str(uri),
        experiment=env.get("NBOPS_EXPERIMENT") or table.get("experiment"),
        no_capture=no_capture,
        redact_deny=_split(env.get("NBOPS_REDACT_DENY", table.get("redact_deny"))),
        redact_allow=_split(env.get("NBOPS_REDACT_ALLOW", table.get("redact_allow"))),
        flush_timeout=flush_timeout,
        registry_writes=registry_writes,
        project_root=root,
        registry_uri=str(registry_uri),
        store_timeout=store_timeout,
    )


def kernel_environment(settings: Settings, experiment: str, *, parent_uid: str | None = None,
                       parent_run_id: str | None = None, notebook: str | Path | None = None,
                       registry_writes: bool | None = None,
                       jupyter_path: str | None = None) -> dict[str, str]:
    """The variables of a kernel nbops starts, so that the runs its notebook creates go to
    ``settings``' store, in ``experiment``, under the run that started it.

    ``parent_uid`` names that run by its nbops id (a kernel sharing this machine's spool),
    ``parent_run_id`` by its MLflow id; ``notebook`` is the notebook's path (the kernel cannot
    see it); ``registry_writes`` switches model registration on or off; ``jupyter_path`` is a
    folder of kernelspecs to search first.

    >>> kernel_environment(load_settings(), "demo", parent_run_id="3f2a")  # doctest: +SKIP
    {'NBOPS_TRACKING_URI': 'sqlite:///...', 'NBOPS_HOME': '...', 'NBOPS_EXPERIMENT': 'demo',
     'NBOPS_PARENT_RUN_ID': '3f2a'}
    """
    env = {"NBOPS_TRACKING_URI": settings.tracking_uri, "NBOPS_HOME": str(settings.home),
           "NBOPS_EXPERIMENT": experiment}
    if parent_uid:
        env["NBOPS_PARENT_UID"] = parent_uid
    if parent_run_id:
        env["NBOPS_PARENT_RUN_ID"] = parent_run_id
    if notebook:
        env["NBOPS_NOTEBOOK_PATH"] = str(notebook)
    if registry_writes is not None:
        env["NBOPS_REGISTRY_WRITES"] = "1" if registry_writes else "0"
    if jupyter_path:
        env["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (jupyter_path, os.environ.get("JUPYTER_PATH")) if p)
    return env


@dataclass(frozen=True)
class KernelContext:
    """What the process that started this kernel told it (:func:`kernel_environment`; all
    None in a kernel nbops did not start)."""

    parent_uid: str | None = None  # NBOPS_PARENT_UID: the nbops id of the run above
    parent_run_id: str | None = None  # NBOPS_PARENT_RUN_ID: its MLflow id
    notebook_path: str | None = None  # NBOPS_NOTEBOOK_PATH: the notebook being run
    outputs_file: str | None = None  # NBOPS_OUTPUTS_FILE: where a step's outputs go
    session_name: str | None = None  # JPY_SESSION_NAME: set by jupyter_server for a notebook


def kernel_context(env: Mapping[str, str] | None = None) -> KernelContext:
    """The :class:`KernelContext` in force now (read at each call: a warm kernel receives its
    step's variables after it started)."""
    env = os.environ if env is None else env
    return KernelContext(
        parent_uid=env.get("NBOPS_PARENT_UID") or None,
        parent_run_id=env.get("NBOPS_PARENT_RUN_ID") or None,
        notebook_path=env.get("NBOPS_NOTEBOOK_PATH") or None,
        outputs_file=env.get(OUTPUTS_FILE_VAR) or None,
        session_name=env.get("JPY_SESSION_NAME") or None,
    )


def user_name(env: Mapping[str, str] | None = None) -> str | None:
    """``JUPYTERHUB_USER``, else ``NBOPS_USER``, else None (the OS user is the fallback)."""
    env = os.environ if env is None else env
    return env.get("JUPYTERHUB_USER") or env.get("NBOPS_USER") or None


def environment_variables() -> dict[str, str]:
    """The process environment, as a run records it (redacted, ``environment/env.txt``)."""
    return dict(os.environ)


def _on(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def io_hooks_off() -> bool:
    """``NBOPS_NO_IO_HOOKS=1``: no data I/O hooks (reads and writes are not recorded)."""
    return _on(os.environ.get("NBOPS_NO_IO_HOOKS"))


def mlflow_file_store_allowed() -> bool:
    """``MLFLOW_ALLOW_FILE_STORE=true``: MLflow 3 accepts its file store only with this."""
    return _on(os.environ.get("MLFLOW_ALLOW_FILE_STORE"))


def user_cache_dir() -> Path:
    """nbops' folder in the user's cache: ``$XDG_CACHE_HOME/nbops``, else ``~/.cache/nbops``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nbops"


def handed_config(var: str) -> dict[str, Any]:
    """The JSON a parent process put in ``var`` for this one (``nbops serve`` for its workers
    and its shadow)."""
    text = os.environ.get(var)
    if not text:
        raise ConfigError(f"{var} is not set: this process is started by `nbops serve`, not by "
                          "hand.")
    return json.loads(text)


def lane_handshake() -> tuple[bytes, dict[str, str]]:
    """A pipeline worker process's connection key and kernel variables, as its executor set
    them (``NBOPS_LANE_KEY``, ``NBOPS_LANE_ENV``)."""
    key = os.environ.get(LANE_KEY_VAR)
    if not key:
        raise ConfigError(f"{LANE_KEY_VAR} is not set: this process is started by nbops' local "
                          "executor (`nbops run`), not by hand.")
    return bytes.fromhex(key), json.loads(os.environ.get(LANE_ENV_VAR) or "{}")
