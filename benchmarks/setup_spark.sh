#!/bin/sh
# Setup of the Spark MLlib side of benchmarks/dask_spark.py: pyspark from PyPI
# (benchmarks/requirements-spark.txt) and a Java runtime from Debian (openjdk-17-jre-headless)
# when none is installed. Usage, from the repository root:
#     PYTHON=.venv/bin/python sh benchmarks/setup_spark.sh
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
here=$(dirname "$0")
"$PYTHON" -m pip install -r "$here/requirements-spark.txt"
if command -v java >/dev/null 2>&1; then
    java -version 2>&1 | head -n 1
elif command -v apt-get >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends openjdk-17-jre-headless
else
    echo "no Java runtime: install one (17 or later) for pyspark" >&2
    exit 1
fi
