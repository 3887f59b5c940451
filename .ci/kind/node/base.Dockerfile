# Base of the harness's kind node image: the Debian rootfs from debootstrap (build.sh imports it
# as BASE) plus what a Kubernetes node needs at boot: systemd as PID 1, kernel/network tools that
# kubeadm's preflight and the kubelet call, libseccomp for runc. Kubernetes, containerd, runc and
# the CNI plugins are our own builds and come in the node image on top.
ARG BASE
FROM ${BASE}
ENV container=docker DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends \
      systemd systemd-sysv dbus libseccomp2 \
      ethtool socat iproute2 iptables nftables conntrack ebtables kmod \
      mount util-linux procps findutils bash ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \
 # Units that make no sense in a container: consoles, udev (no /lib/modules, devices come from
 # the engine), time sync (the host keeps time), and mounts the engine already provides.
 && systemctl mask getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
      systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-modules-load.service \
      systemd-timesyncd.service systemd-remount-fs.service sys-kernel-debug.mount \
      sys-kernel-tracing.mount dev-hugepages.mount systemd-firstboot.service \
 && systemctl set-default multi-user.target \
 # every boot generates its own machine id (the entrypoint), never the image's
 && rm -f /etc/machine-id /var/lib/dbus/machine-id && touch /etc/machine-id
