# Spark master and workers: the official image at the Spark version of pyspark in
# pyproject.toml, plus the Python libraries pandas UDFs need on executors. The Python minor
# version must equal the driver's (airflow.Dockerfile PYTHON_VERSION): PySpark refuses to run
# Python workers of another minor version. The visitonce package itself travels with each job
# (visitonce.spark ships it with addPyFile), so workers need no rebuild when it changes.
ARG SPARK_VERSION=4.2.0
FROM apache/spark:${SPARK_VERSION}-python3

USER root
COPY constraints.txt /tmp/constraints.txt
RUN pip install --no-cache-dir -c /tmp/constraints.txt pandas pyarrow numpy scikit-learn scipy \
 && rm /tmp/constraints.txt
USER spark
