"""The production deployment in docker/: no Docker engine runs here, so check what can be
checked: the compose file parses and wires the services as documented, and the images pin the
same versions as pyproject.toml."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yaml").read_text())


def _arg(dockerfile: str, name: str) -> str:
    m = re.search(rf"^ARG {name}=(\S+)$", (DOCKER / dockerfile).read_text(), re.M)
    assert m, f"{dockerfile} has no ARG {name}"
    return m.group(1)


def test_compose_has_the_airflow_and_spark_services() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "postgres",
        "airflow-init",
        *AIRFLOW_SERVICES,
        "spark-master",
        "spark-worker",
        "visitonce-watch",
    }
    commands = {s: services[s]["command"] for s in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_airflow_components_share_executor_database_and_jwt_secret() -> None:
    services = _compose()["services"]
    envs = [services[s]["environment"] for s in (*AIRFLOW_SERVICES, "airflow-init")]
    for env in envs:
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "${AIRFLOW_JWT_SECRET}"
        assert "spark://spark-master:7077" in env["AIRFLOW_CONN_VISITONCE_SPARK"]
    assert "AIRFLOW_JWT_SECRET" in (DOCKER / ".env.example").read_text()


def test_driver_and_executors_see_the_same_paths() -> None:
    services = _compose()["services"]
    mounts = {
        s: sorted(services[s]["volumes"])
        for s in ("airflow-scheduler", "spark-master", "spark-worker")
    }
    assert len({tuple(m) for m in mounts.values()}) == 1, mounts
    assert "landing:/data/landing" in mounts["spark-worker"]


def test_images_pin_the_versions_of_pyproject() -> None:
    assert _arg("spark.Dockerfile", "SPARK_VERSION") == version("pyspark")
    assert "apache/spark:${SPARK_VERSION}" in (DOCKER / "spark.Dockerfile").read_text()
    assert _arg("airflow.Dockerfile", "AIRFLOW_VERSION") == version("apache-airflow")
    assert _compose()["services"]["spark-master"]["image"].endswith(f":{version('pyspark')}")
    # Both images install from the same constraints file as `make setup`.
    for dockerfile in ("airflow.Dockerfile", "spark.Dockerfile"):
        assert "constraints.txt" in (DOCKER / dockerfile).read_text()


def test_driver_and_executors_run_the_same_python_minor() -> None:
    """PySpark refuses Python workers of another minor version than the driver's."""
    minor = _arg("airflow.Dockerfile", "PYTHON_VERSION")
    assert _arg("spark.Dockerfile", "PYTHON_VERSION") == minor
    assert re.fullmatch(r"3\.\d+", minor), minor
    spark = (DOCKER / "spark.Dockerfile").read_text()
    assert "ENV PYSPARK_PYTHON=python${PYTHON_VERSION}" in spark
    assert "python${PYTHON_VERSION} -m pip install" in spark
    env = _compose()["x-airflow"]["environment"]
    assert env["PYSPARK_PYTHON"] == f"python{minor}"


def test_airflow_image_copies_only_what_exists() -> None:
    root = DOCKER.parent
    for line in (DOCKER / "airflow.Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                if not src.startswith("--"):
                    assert (root / src).exists(), src
