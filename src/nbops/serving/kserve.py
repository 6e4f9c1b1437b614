"""``nbops serve NAME@ALIAS --export kserve``: the same deployment as a KServe InferenceService.

The manifest serves the ONNX package of the version behind the alias with KServe's ONNX runtime
(``modelFormat: onnx``, Open Inference Protocol v2). With a canary, it points the predictor at
the challenger's package and sets ``canaryTrafficPercent``: KServe then sends that share to the
new revision and the rest to the revision already deployed (the primary's manifest, applied
first). ``storageUri`` is where MLflow keeps the package's files; a cluster must be able to read
it (an S3 / GCS artifact store of a shared MLflow server), so a local ``file://`` location is
flagged and can be replaced with ``storage_uri``.

Example:
    >>> print(export_kserve("churn@prod"))                 # doctest: +SKIP
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    ...
"""

from __future__ import annotations

import re
from typing import Any

from nbops.exceptions import NotFoundError, UsageError
from nbops.serving.routing import RouteConfig

__all__ = ["API_VERSION", "export_manifest", "inference_service"]

API_VERSION = "serving.kserve.io/v1beta1"
KINDS = ("kserve",)


def _package_uri(ref: str) -> tuple[str, str, str]:
    """(version, package 'name/v', storage URI of the package's files) for ``ref``."""
    from nbops.registry.resolve import parse_ref, resolve_version
    from nbops.serving.models import find_package
    from nbops.store import open_store
    from nbops.store import tags as T

    store = open_store()
    mv = resolve_version(ref, store=store)
    name, version = parse_ref(ref).name, str(mv.version)
    package = (name, version) if mv.tags.get(T.PACKAGE) == "onnx" else \
        find_package(name, version)
    if package is None:
        raise NotFoundError(f"{name}/{version} (behind {ref}) has no ONNX package, which KServe's "
                            f"ONNX runtime needs. Package it with `nbops package {name}/"
                            f"{version}`, then export again.")
    uri = store.model_version_download_uri(*package)
    return version, "/".join(package), str(uri)


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    if not name:
        raise UsageError(f"Cannot make a Kubernetes name from {text!r}; name the model with "
                         "letters and digits.")
    return name


def inference_service(config: RouteConfig, storage_uri: str | None = None) -> dict[str, Any]:
    """The InferenceService as a dict (camelCase keys, as ``kubectl apply`` reads it)."""
    version, package, uri = _package_uri(config.ref)
    annotations = {"nbops/model": config.ref, "nbops/version": version, "nbops/package": package}
    predictor: dict[str, Any] = {}
    if config.canary:
        version, package, uri = _package_uri(config.canary)
        predictor["canaryTrafficPercent"] = round(config.canary_percent)
        annotations.update({"nbops/canary": config.canary, "nbops/canary-version": version,
                            "nbops/canary-package": package})
    predictor["model"] = {"modelFormat": {"name": "onnx"}, "protocolVersion": "v2",
                          "storageUri": storage_uri or uri}
    return {"apiVersion": API_VERSION, "kind": "InferenceService",
            "metadata": {"name": _dns_name(config.model), "annotations": annotations},
            "spec": {"predictor": predictor}}


def export_manifest(config: RouteConfig, kind: str = "kserve",
                    storage_uri: str | None = None) -> str:
    """The deployment manifest of ``config`` as YAML text."""
    import yaml

    if kind not in KINDS:
        raise UsageError(f"--export {kind!r} is not known; choose one of {', '.join(KINDS)}.")
    manifest = inference_service(config, storage_uri)
    text = yaml.safe_dump(manifest, sort_keys=False)
    stored = manifest["spec"]["predictor"]["model"]["storageUri"]
    if not re.match(r"^(s3|gs|https?|pvc|hdfs|webhdfs|oci|hf)://", stored):
        text = (f"# storageUri {stored} is on this machine; copy the package's files where the "
                "cluster can read them\n# (s3://, gs://, pvc://) and pass --storage-uri, or use "
                "a shared MLflow server with an object-store artifact root.\n" + text)
    if config.shadow:
        text = ("# --shadow has no KServe equivalent here: the challenger is not exported\n"
                + text)
    return text
