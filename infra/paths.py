"""Where the infrastructure code finds the project's other parts: it reads them by path, never by import."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = "cdk.json"
FUNCTIONS_DIR = "functions"
LAYER_SOURCE_DIR = "layers/ttai"
STORAGE_LAYOUT = "layers/ttai/storage.json"
