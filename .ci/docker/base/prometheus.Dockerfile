# Local stand-in for prom/prometheus:v2.42.0 from Debian bookworm's prometheus package (2.42.0),
# on the debootstrap base. Same interface as the official image: ENTRYPOINT /bin/prometheus,
# config /etc/prometheus/prometheus.yml, data in /prometheus (VOLUME), /bin/promtool, user nobody,
# console dirs under /usr/share/prometheus, port 9090.
ARG BASE=harness-local/debian:bookworm-minbase
FROM ${BASE}
ARG PROMETHEUS_VERSION=2.42.0
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/sbin/policy-rc.d \
 && /bin/prometheus --version 2>&1 | grep -q "version ${PROMETHEUS_VERSION}" \
 && /bin/promtool --version >/dev/null \
 && mkdir -p /usr/share/prometheus /prometheus \
 && ln -s /etc/prometheus/console_libraries /usr/share/prometheus/console_libraries \
 && ln -s /etc/prometheus/consoles /usr/share/prometheus/consoles \
 && chown -R nobody:nogroup /prometheus /etc/prometheus
COPY --chown=nobody:nogroup prometheus.yml /etc/prometheus/prometheus.yml
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", \
     "--web.console.libraries=/usr/share/prometheus/console_libraries", \
     "--web.console.templates=/usr/share/prometheus/consoles"]
