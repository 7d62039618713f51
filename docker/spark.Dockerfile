# Spark master and workers: the official image at the Spark version of pyspark in
# pyproject.toml, plus the Python the driver runs and the libraries pandas UDFs need on
# executors. PySpark refuses Python workers of another minor version than the driver's, and the
# official image ships the distribution's python3 (3.10 on Ubuntu 22.04), so the driver's minor
# version (airflow.Dockerfile PYTHON_VERSION; tests/test_docker.py checks they agree) is
# installed beside it and made the executors' interpreter. The visitonce package itself travels
# with each job (visitonce.spark ships it with addPyFile), so workers need no rebuild when it
# changes.
ARG SPARK_VERSION=4.2.0
ARG PYTHON_VERSION=3.11
FROM apache/spark:${SPARK_VERSION}-python3
ARG PYTHON_VERSION

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent curl \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends python${PYTHON_VERSION} python${PYTHON_VERSION}-venv \
 && curl -sS https://bootstrap.pypa.io/get-pip.py | python${PYTHON_VERSION} \
 && rm -rf /var/lib/apt/lists/*
COPY constraints.txt /tmp/constraints.txt
RUN python${PYTHON_VERSION} -m pip install --no-cache-dir -c /tmp/constraints.txt \
      pandas pyarrow numpy scikit-learn scipy \
 && rm /tmp/constraints.txt
ENV PYSPARK_PYTHON=python${PYTHON_VERSION}
USER spark
