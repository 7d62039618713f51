# Airflow 3 with visitonce installed: runs the scheduler, API server, DAG processor, triggerer,
# and the Spark driver of every job (client mode against the Spark master of the compose file).
# Versions follow pyproject.toml / constraints.txt (tests/test_docker.py checks they agree).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER root
# Spark 4 needs Java 17+ on the driver.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

USER airflow
WORKDIR /opt/visitonce
COPY --chown=airflow:root pyproject.toml constraints.txt README.md ./
COPY --chown=airflow:root visitonce ./visitonce
COPY --chown=airflow:root schemas ./schemas
COPY --chown=airflow:root jobs ./jobs
COPY --chown=airflow:root dags ./dags
# -e keeps schemas/ beside the package, where visitonce.schemas looks for it.
RUN pip install --no-cache-dir -c constraints.txt -e .

ENV VISITONCE_JOBS=/opt/visitonce/jobs \
    VISITONCE_LANDING=/data/landing \
    VISITONCE_WAREHOUSE=/data/warehouse \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/visitonce/dags
