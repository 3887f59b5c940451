# Local stand-in for python:3.11-slim, built on the debootstrap base (no registry pull possible).
# Compatible where our Dockerfiles rely on it: python/python3/pip on PATH (also under
# /usr/local/bin), `python -m venv` with ensurepip, `pip install` allowed (no PEP 668 marker),
# LANG=C.UTF-8, passwd tools for non-root users. Python is Debian bookworm's 3.11.
# extra-ca/ holds the CI host's local CAs (/usr/local/share/ca-certificates), so pip trusts the
# same TLS egress as the host does; empty elsewhere.
ARG BASE=harness-local/debian:bookworm-minbase
FROM ${BASE}
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      python3 python3-venv python3-pip python-is-python3 ca-certificates \
 && update-ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/sbin/policy-rc.d \
 && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED \
 && for b in python python3 pip pip3; do ln -s /usr/bin/$b /usr/local/bin/$b; done \
 && python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
ENV LANG=C.UTF-8 PYTHON_VERSION=3.11
CMD ["python3"]
