"""nbops: notebook-native MLOps on MLflow."""
__version__ = "0.1.0"
