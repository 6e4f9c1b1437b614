"""MLflow's entity types, for annotations only: ``if TYPE_CHECKING: from nbops.store.types
import ModelVersion``. Importing this module at run time imports MLflow."""

from mlflow.entities import Experiment, LoggedModel, Metric, Run
from mlflow.entities.model_registry import ModelVersion, RegisteredModel

__all__ = ["Experiment", "LoggedModel", "Metric", "ModelVersion", "RegisteredModel", "Run"]
