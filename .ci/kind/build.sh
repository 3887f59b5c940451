#!/usr/bin/env bash
# Build a kind node image on a machine that reaches no container registry: every binary from Go
# modules (or C), every image from Debian (debootstrap + docker import) and those binaries.
# Versions come from the tools: section of manifests/versions.yaml. Idempotent: binaries are
# cached per component and version, images carry a content key (pins + the files that make
# them), so a second run only checks and prints.
#
#   Go modules  kind, Kubernetes (kubeadm kubelet kubectl kube-apiserver kube-controller-manager
#               kube-scheduler kube-proxy, one `go build`), etcd, CoreDNS, containerd, runc,
#               CNI plugins, crictl, kube-network-policies; ours: node-net (pod network),
#               smoke-http
#   C           pause
#   images      registry.k8s.io/{kube-*,etcd,coredns/coredns,pause} named exactly as kubeadm
#               expects, node-net, kube-network-policies, smoke-http; a Debian base with systemd
#               (suite tools.debian-suite); the node image
#               (layout of kind's node images: /kind/version, /kind/manifests, preloaded k8s.io
#               containerd namespace, kubelet unit + kubeadm drop-in, entrypoint)
#
# Needs root, Go, and DOCKER_HOST pointing at an engine (up.sh starts one). Prints the node image
# reference as the last line of stdout. Exit 0 ok, 1 a step failed (one line naming it and its log).
set -euo pipefail
# shellcheck source=.ci/kind/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, the preload containerd)"
command -v go >/dev/null 2>&1 || fail "go not on PATH (Go >= the Kubernetes go directive is needed)"
docker info >/dev/null 2>&1 || fail "no Docker engine at ${DOCKER_HOST:-the default socket} (start one with .ci/kind/up.sh)"

K8S="$(pin kubernetes)"; KIND_V="$(pin kind)"; ETCD="$(pin etcd)"; COREDNS="$(pin coredns)"
PAUSE="$(pin pause)"; CONTAINERD="$(pin containerd)"; RUNC="$(pin runc)"; CNI="$(pin cni-plugins)"
CRICTL="$(pin crictl)"; SUITE="$(pin debian-suite)"
JOBS="$(nproc)"
GOV="$(go env GOVERSION)"

# The images' key: every pin, the Go version and every file that goes into or makes an image
# (this script, lib.sh, node/, images/). Anything else changing cannot change the images.
KEY="$( { awk '/^tools:/,0' "$VERSIONS"; echo "$GOV";
          (cd "$KIND_CI_DIR" && find build.sh lib.sh node images -type f -print0 | LC_ALL=C sort -z \
             | xargs -0 sha256sum); } | sha256sum | cut -c1-12)"
NODE_IMAGE="mytsdb-harness.local/kind-node:$K8S-$KEY"
KEY_LABEL="io.mytsdb-harness.key"

# ---------------------------------------------------------------------------------------------
# Go builds. Each component is built in a throwaway wrapper module under $CACHE/src that requires
# the pinned module version: `go install mod@version` refuses modules with replace directives
# (Kubernetes, etcd), and a wrapper also lets us pin Kubernetes' staging modules.
# Globals per call: GO_ENV (array), GO_TAGS, GO_LDFLAGS, GO_MOD_EXTRA. Sets BIN (output dir).

# The go directive of MODULE@VERSION's own go.mod, so the wrapper compiles with the same language
# version (and GODEBUG defaults) as upstream.
go_directive() {
  local gomod
  gomod="$(go mod download -json "$1@$2" 2>"$LOGS/download-$3.log" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')" \
    || true
  [ -n "$gomod" ] || fail "go mod download $1@$2: $(tail -n1 "$LOGS/download-$3.log") (log $LOGS/download-$3.log)"
  awk '$1 == "go" {print $2; exit}' "$gomod"
}

build_go() {  # build_go NAME MODULE VERSION PKG...
  local name="$1" module="$2" version="$3"; shift 3
  local key out src lang log="$LOGS/build-$name.log"
  key="$(printf '%s|' "$GOV" "$module@$version" "${GO_ENV[*]}" "$GO_TAGS" "$GO_LDFLAGS" "$GO_MOD_EXTRA" "$@" \
         | sha256sum | cut -c1-12)"
  out="$CACHE/bin/$name-$version-$key"
  BIN="$out"
  if [ -f "$out/.done" ]; then say "$name $version: cached"; return 0; fi
  lang="$(go_directive "$module" "$version" "$name")"
  src="$CACHE/src/$name-$version"
  mkdir -p "$src"
  printf 'module mytsdb-harness.local/build/%s\n\ngo %s\n\nrequire %s %s\n%s\n' \
    "$name" "$lang" "$module" "$version" "$GO_MOD_EXTRA" >"$src/go.mod"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  say "$name $version: go build (log $log)"
  if ! (cd "$src" && env "${GO_ENV[@]}" go build -p "$JOBS" -trimpath -tags "$GO_TAGS" \
          -ldflags "-s -w $GO_LDFLAGS" -o "$out.tmp/" "$@") >"$log" 2>&1; then
    fail "go build $name $version: $(grep -v '^\s*$' "$log" | tail -n1) (log $log)"
  fi
  touch "$out.tmp/.done" && rm -rf "$out" && mv "$out.tmp" "$out"
}

build_local_go() {  # build_local_go NAME DIR: one of our own stdlib-only programs
  local name="$1" dir="$2" key out log
  log="$LOGS/build-$name.log"
  key="$(cat "$dir"/go.mod "$dir"/*.go | { cat; echo "$GOV"; } | sha256sum | cut -c1-12)"
  out="$CACHE/bin/$name-$key"
  BIN="$out"
  [ -f "$out/.done" ] && return 0
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$out.tmp/$name" .) >"$log" 2>&1 \
    || fail "go build $name: $(tail -n1 "$log") (log $log)"
  touch "$out.tmp/.done" && rm -rf "$out" && mv "$out.tmp" "$out"
}

# kube-network-policies enforces NetworkPolicy with NFQUEUE. Kernels without CONFIG_NFT_QUEUE
# (Firecracker's) reject its nftables "queue" rules, so there the source is patched to use the xt
# NFQUEUE target through nft_compat (images/kube-network-policies/patch.sh); elsewhere it is
# built as released.
knp_build() {
  local v dir src mode=native
  v="$(pin kube-network-policies)"
  if ! zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_NFT_QUEUE=[ym]'; then mode=xt-compat; fi
  GO_MOD_EXTRA=""
  if [ "$mode" = xt-compat ]; then
    dir="$(go mod download -json "sigs.k8s.io/kube-network-policies@$v" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$dir" ] || fail "go mod download sigs.k8s.io/kube-network-policies@$v"
    src="$CACHE/src/kube-network-policies-$v-$(cat "$KIND_CI_DIR"/images/kube-network-policies/* | sha256sum | cut -c1-12)"
    if [ ! -f "$src/.patched" ]; then
      rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
      "$KIND_CI_DIR/images/kube-network-policies/patch.sh" "$src" >"$LOGS/knp-patch.log" 2>&1 \
        || fail "patching kube-network-policies $v: $(tail -n1 "$LOGS/knp-patch.log") (log $LOGS/knp-patch.log)"
      touch "$src/.patched"
    fi
    GO_MOD_EXTRA="replace sigs.k8s.io/kube-network-policies => $src"
  fi
  say "kube-network-policies $v: NFQUEUE via $mode"
  build_go kube-network-policies sigs.k8s.io/kube-network-policies "$v" sigs.k8s.io/kube-network-policies/cmd
  BIN_KNP="$BIN"
  GO_MOD_EXTRA=""
}

go_builds() {
  local v p
  GO_ENV=(CGO_ENABLED=0); GO_TAGS=""; GO_LDFLAGS=""; GO_MOD_EXTRA=""
  build_go kind sigs.k8s.io/kind "$KIND_V" sigs.k8s.io/kind
  BIN_KIND="$BIN"

  # Kubernetes: pin every staging module (k8s.io/api, ...) to v0.<minor>.<patch>, as the
  # Kubernetes go.mod replaces them with ./staging paths that only exist in its own repo. The
  # version variables make `kubelet --version` etc. report the release (kubeadm compares them).
  local staging
  staging="$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  GO_MOD_EXTRA="$(awk -v v="v0.${K8S#v1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "replace " $1 " => " $1 " " v}' "$staging")"
  [ -n "$GO_MOD_EXTRA" ] || fail "no staging replace directives found in k8s.io/kubernetes@$K8S go.mod"
  v="${K8S#v}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    GO_LDFLAGS+=" -X $p.gitVersion=$K8S -X $p.gitMajor=${v%%.*} -X $p.gitMinor=$(cut -d. -f2 <<<"$v")"
    GO_LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  # One invocation for all seven: they share most compiled packages.
  build_go kubernetes k8s.io/kubernetes "$K8S" \
    k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
  BIN_K8S="$BIN"
  GO_MOD_EXTRA=""; GO_LDFLAGS=""

  build_go etcd go.etcd.io/etcd/server/v3 "$ETCD" go.etcd.io/etcd/server/v3
  BIN_ETCD="$BIN"
  build_go coredns github.com/coredns/coredns "$COREDNS" github.com/coredns/coredns
  BIN_COREDNS="$BIN"

  # containerd: no btrfs/devmapper/zfs snapshotters (cgo, and the node uses overlayfs).
  GO_TAGS="no_btrfs no_devmapper no_zfs"
  GO_LDFLAGS="-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD"
  build_go containerd github.com/containerd/containerd/v2 "$CONTAINERD" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr
  BIN_CONTAINERD="$BIN"

  # runc with seccomp (pods may ask for RuntimeDefault): cgo against Debian's libseccomp, the same
  # suite as the node's base, which installs libseccomp2.
  apt_install libseccomp-dev pkg-config gcc libc6-dev
  GO_ENV=(CGO_ENABLED=1); GO_TAGS="seccomp"; GO_LDFLAGS="-X main.version=${RUNC#v}"
  build_go runc github.com/opencontainers/runc "$RUNC" github.com/opencontainers/runc
  BIN_RUNC="$BIN"
  GO_ENV=(CGO_ENABLED=0); GO_TAGS=""

  GO_LDFLAGS="-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI"
  p=github.com/containernetworking/plugins/plugins
  build_go cni-plugins github.com/containernetworking/plugins "$CNI" \
    $p/main/bridge $p/main/loopback $p/main/ptp $p/ipam/host-local $p/meta/portmap
  BIN_CNI="$BIN"

  GO_LDFLAGS="-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL"
  build_go crictl sigs.k8s.io/cri-tools "$CRICTL" sigs.k8s.io/cri-tools/cmd/crictl
  BIN_CRICTL="$BIN"
  GO_LDFLAGS=""

  knp_build

  build_local_go node-net "$KIND_CI_DIR/images/node-net"; BIN_NODENET="$BIN"
  build_local_go smoke-http "$KIND_CI_DIR/images/smoke-http"; BIN_SMOKE="$BIN"

  # pause: static C, a few KB of code; no Go runtime in every pod sandbox.
  local src="$KIND_CI_DIR/images/pause/pause.c" key
  key="$( { cat "$src"; echo "$PAUSE"; } | sha256sum | cut -c1-12)"
  BIN_PAUSE="$CACHE/bin/pause-$PAUSE-$key"
  if [ ! -x "$BIN_PAUSE/pause" ]; then
    apt_install gcc libc6-dev
    mkdir -p "$BIN_PAUSE"
    gcc -Os -static -DVERSION="\"$PAUSE\"" -o "$BIN_PAUSE/pause.tmp" "$src" >"$LOGS/build-pause.log" 2>&1 \
      || fail "gcc pause: $(tail -n1 "$LOGS/build-pause.log") (log $LOGS/build-pause.log)"
    mv "$BIN_PAUSE/pause.tmp" "$BIN_PAUSE/pause"
  fi
}

# Sanity: the Kubernetes binaries must report the pinned release, or kubeadm refuses them.
check_versions() {
  local got
  got="$("$BIN_K8S/kubelet" --version 2>&1)"
  [ "$got" = "Kubernetes $K8S" ] || fail "kubelet --version says '$got', want 'Kubernetes $K8S'"
  got="$("$BIN_K8S/kubeadm" version -o short 2>&1)"
  [ "$got" = "$K8S" ] || fail "kubeadm version says '$got', want '$K8S'"
}

# ---------------------------------------------------------------------------------------------
# Debian base: debootstrap (minbase + what kube-proxy and node-net need) -> docker import.
# The tarball is cached by suite, mirror and package list; the .debs in rootfs/debs.

# The mirror apt already uses (deb822 .sources first, then one-line lists), else deb.debian.org.
debian_mirror() {
  local m
  m=$(grep -hs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | grep '/debian' | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb\s+(\[[^]]*\]\s+)?https?://\S+/debian\s' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/^deb\s+(\[[^]]*\]\s+)?//' | awk '{print $1}' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

NET_PACKAGES="iptables,nftables,conntrack,iproute2,ca-certificates"
base_images() {
  local mirror key tarball rootfs
  mirror="$(debian_mirror)"
  key="$(printf '%s|' "$SUITE" "$mirror" "$NET_PACKAGES" | sha256sum | cut -c1-12)"
  NET_IMAGE="mytsdb-harness.local/debian-net:$SUITE-$key"
  if ! docker image inspect "$NET_IMAGE" >/dev/null 2>&1; then
    tarball="$CACHE/rootfs/$SUITE-net-$key.tar"
    if [ ! -s "$tarball" ]; then
      apt_install debootstrap
      mkdir -p "$CACHE/rootfs/debs"
      rootfs="$(mktemp -d /tmp/kind-rootfs.XXXXXX)"
      say "debootstrap $SUITE from $mirror (log $LOGS/debootstrap.log)"
      debootstrap --variant=minbase --include="$NET_PACKAGES" --cache-dir="$CACHE/rootfs/debs" \
        "$SUITE" "$rootfs" "$mirror" >"$LOGS/debootstrap.log" 2>&1 \
        || { rm -rf "$rootfs"; fail "debootstrap $SUITE: $(tail -n1 "$LOGS/debootstrap.log") (log $LOGS/debootstrap.log)"; }
      # No package lists or .debs in the image; apt-get update brings the lists back when needed.
      rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
             "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
      tar --numeric-owner -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
          -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
      rm -rf "$rootfs"
    fi
    docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' "$tarball" "$NET_IMAGE" >/dev/null \
      || fail "docker import $tarball"
  fi

  # "static": the few files a static Go binary may want (users, /tmp, CA bundle), nothing else.
  local ctx="$OUT/static-rootfs"
  rm -rf "$ctx" && mkdir -p "$ctx/etc/ssl/certs" "$ctx/tmp" && chmod 1777 "$ctx/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$ctx/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$ctx/etc/group"
  printf 'hosts: files dns\n' >"$ctx/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/etc/ssl/certs/" 2>/dev/null || touch "$ctx/etc/ssl/certs/ca-certificates.crt"
  key="$(cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
  STATIC_IMAGE="mytsdb-harness.local/static:$key"
  if ! docker image inspect "$STATIC_IMAGE" >/dev/null 2>&1; then
    tar --numeric-owner --owner=0 --group=0 -C "$ctx" -cf - . \
      | docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$STATIC_IMAGE" >/dev/null \
      || fail "docker import $STATIC_IMAGE"
  fi
}

# ---------------------------------------------------------------------------------------------
# image REF BASE [ENTRYPOINT-JSON] -- SRC:DEST...: a one-layer image of files on BASE, built only
# when REF is missing or was built with another key (label), since kubeadm's names are fixed.
image() {
  local ref="$1" base="$2" entry="$3" ctx spec; shift 3
  [ "$1" = "--" ] && shift
  local k
  k="$(printf '%s|' "$KEY" "$base" "$entry" "$@" | sha256sum | cut -c1-12)"
  if [ "$(docker image inspect -f "{{index .Config.Labels \"$KEY_LABEL\"}}" "$ref" 2>/dev/null)" = "$k" ]; then
    return 0
  fi
  ctx="$(mktemp -d /tmp/kind-image.XXXXXX)"
  {
    echo "FROM $base"
    for spec in "$@"; do
      mkdir -p "$ctx/$(dirname "${spec#*:}")"
      cp -a "${spec%%:*}" "$ctx/${spec#*:}"
      echo "COPY ${spec#*:} ${spec#*:}"
    done
    [ -z "$entry" ] || echo "ENTRYPOINT $entry"
    echo "LABEL $KEY_LABEL=$k"
  } >"$ctx/Dockerfile"
  docker build -q -t "$ref" "$ctx" >"$LOGS/image.log" 2>&1 \
    || { rm -rf "$ctx"; fail "docker build $ref: $(tail -n1 "$LOGS/image.log") (log $LOGS/image.log)"; }
  rm -rf "$ctx"
  say "built $ref"
}

component_images() {
  local reg=registry.k8s.io c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    image "$reg/$c:$K8S" "$STATIC_IMAGE" "" -- "$BIN_K8S/$c:/usr/local/bin/$c"
  done
  # kube-proxy needs iptables/conntrack; its launcher picks the iptables backend the node uses.
  image "$reg/kube-proxy:$K8S" "$NET_IMAGE" "" -- \
    "$BIN_K8S/kube-proxy:/usr/local/libexec/kube-proxy" \
    "$KIND_CI_DIR/images/kube-proxy/kube-proxy:/usr/local/bin/kube-proxy"
  image "$reg/etcd:${ETCD#v}-0" "$STATIC_IMAGE" "" -- "$BIN_ETCD/server:/usr/local/bin/etcd"
  image "$reg/coredns/coredns:$COREDNS" "$STATIC_IMAGE" '["/coredns"]' -- "$BIN_COREDNS/coredns:/coredns"
  image "$reg/pause:$PAUSE" scratch '["/pause"]' -- "$BIN_PAUSE/pause:/pause"
  NODENET_IMAGE="mytsdb-harness.local/node-net:$KEY"
  image "$NODENET_IMAGE" "$NET_IMAGE" '["/usr/local/bin/node-net"]' -- "$BIN_NODENET/node-net:/usr/local/bin/node-net"
  KNP_IMAGE="mytsdb-harness.local/kube-network-policies:$KEY"
  image "$KNP_IMAGE" "$STATIC_IMAGE" '["/usr/local/bin/kube-network-policies"]' -- \
    "$BIN_KNP/cmd:/usr/local/bin/kube-network-policies"
  SMOKE_IMAGE="mytsdb-harness.local/smoke-http:$KEY"
  image "$SMOKE_IMAGE" "$STATIC_IMAGE" '["/smoke-http"]' -- "$BIN_SMOKE/smoke-http:/smoke-http"

  # Exactly the images kubeadm of this version will ask the node for.
  local want missing=()
  want="$("$BIN_K8S/kubeadm" config images list --kubernetes-version "$K8S" 2>"$LOGS/kubeadm-images.log")" \
    || fail "kubeadm config images list: $(tail -n1 "$LOGS/kubeadm-images.log")"
  for c in $want; do docker image inspect "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ "${#missing[@]}" = 0 ] || fail "kubeadm $K8S wants images this build does not make: ${missing[*]} (check tools.etcd/coredns/pause)"
  read -r -a PRELOAD_IMAGES <<<"$(echo $want) $NODENET_IMAGE $KNP_IMAGE"
}

# ---------------------------------------------------------------------------------------------
# The node's preloaded containerd store: a private containerd on the host (our build, its own
# root/state/socket under $OUT, CRI and snapshotters unused) imports `docker save` archives into
# the k8s.io namespace without unpacking (the node unpacks on first use), then stops. The node
# image copies that root to /var/lib/containerd.
preload_store() {
  local store="$OUT/node-ctx/store" run="$OUT/preload-run" log="$LOGS/preload-containerd.log" pid
  rm -rf "$store" "$run" && mkdir -p "$store" "$run"
  cat >"$run/config.toml" <<EOF
version = 3
root = "$store"
state = "$run/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images",
  "io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$run/containerd.sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  "$BIN_CONTAINERD/containerd" --config "$run/config.toml" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    "$BIN_CONTAINERD/ctr" --address "$run/containerd.sock" version >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "preload containerd exited: $(tail -n1 "$log") (log $log)"
    sleep 0.2
  done
  local img rc=0
  for img in "${PRELOAD_IMAGES[@]}"; do
    docker save "$img" | "$BIN_CONTAINERD/ctr" --address "$run/containerd.sock" -n k8s.io \
      images import --no-unpack --all-platforms - >>"$LOGS/preload-import.log" 2>&1 || { rc=1; break; }
  done
  "$BIN_CONTAINERD/ctr" --address "$run/containerd.sock" -n k8s.io images ls -q >"$OUT/preloaded.txt" 2>/dev/null || rc=1
  kill "$pid" && wait "$pid" 2>/dev/null || true
  rm -rf "$run"
  [ "$rc" = 0 ] || fail "ctr import of $img into the preload store: $(tail -n1 "$LOGS/preload-import.log") (log $LOGS/preload-import.log)"
}

# ---------------------------------------------------------------------------------------------
node_image() {
  NODE_BASE="mytsdb-harness.local/kind-node-base:$SUITE-$(cat "$KIND_CI_DIR/node/base.Dockerfile" | { cat; echo "$NET_IMAGE"; } | sha256sum | cut -c1-12)"
  if ! docker image inspect "$NODE_BASE" >/dev/null 2>&1; then
    say "building $NODE_BASE (apt, log $LOGS/node-base.log)"
    # --network host: apt reaches the host's Debian mirror even when the engine has no NAT.
    docker build --network host --build-arg "BASE=$NET_IMAGE" -t "$NODE_BASE" \
      -f "$KIND_CI_DIR/node/base.Dockerfile" "$KIND_CI_DIR/node" >"$LOGS/node-base.log" 2>&1 \
      || fail "docker build $NODE_BASE: $(tail -n1 "$LOGS/node-base.log") (log $LOGS/node-base.log)"
  fi
  if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
    say "node image $NODE_IMAGE: cached"; return 0
  fi
  timed "preload containerd store" preload_store

  local ctx="$OUT/node-ctx" r
  r="$ctx/rootfs"
  rm -rf "$r" && mkdir -p "$r"
  cp -a "$KIND_CI_DIR/node/files/." "$r/"
  mkdir -p "$r/usr/bin" "$r/usr/local/bin" "$r/usr/local/sbin" "$r/opt/cni/bin" "$r/kind"
  cp "$BIN_K8S"/{kubeadm,kubelet,kubectl} "$r/usr/bin/"
  cp "$BIN_CONTAINERD"/{containerd,containerd-shim-runc-v2,ctr} "$r/usr/local/bin/"
  cp "$BIN_RUNC/runc" "$r/usr/local/sbin/runc"
  cp "$BIN_CRICTL/crictl" "$r/usr/local/bin/"
  cp "$BIN_CNI"/{bridge,loopback,ptp,host-local,portmap} "$r/opt/cni/bin/"
  echo "$K8S" >"$r/kind/version"
  sed -e "s|@NODE_NET_IMAGE@|$NODENET_IMAGE|g" -e "s|@KNP_IMAGE@|$KNP_IMAGE|g" "$KIND_CI_DIR/node/default-cni.yaml.in" \
    >"$r/kind/manifests/default-cni.yaml"
  sed -i -e "s|@PAUSE_IMAGE@|registry.k8s.io/pause:$PAUSE|g" "$r/etc/containerd/config.toml"
  # What went into this image, for `docker run --rm IMAGE cat /kind/build-info`.
  { echo "key=$KEY"; awk '/^tools:/,0' "$VERSIONS" | grep -vE '^\s*#'; echo "go=$GOV"; echo "preloaded:";
    sed 's/^/  /' "$OUT/preloaded.txt"; } >"$r/kind/build-info"
  chmod 0755 "$r/usr/local/bin/entrypoint"
  cp "$KIND_CI_DIR/node/Dockerfile" "$ctx/Dockerfile"
  docker build --build-arg "BASE=$NODE_BASE" -t "$NODE_IMAGE" "$ctx" >"$LOGS/node-image.log" 2>&1 \
    || fail "docker build $NODE_IMAGE: $(tail -n1 "$LOGS/node-image.log") (log $LOGS/node-image.log)"
  rm -rf "$ctx"
  say "built $NODE_IMAGE"
}

# `build.sh base` builds only the Debian base images (no Go needed), e.g. ahead of a long Go build.
if [ "${1:-}" = base ]; then timed "base images" base_images; exit 0; fi
timed "go builds" go_builds
check_versions
timed "base images" base_images
timed "component images" component_images
timed "node image" node_image
# Images of earlier keys are superseded: drop them (and dangling layers) so the engine's data root
# does not grow with every change. The current ones stay as the cache.
prune_images() {
  local old
  old="$(docker images --format '{{.Repository}}:{{.Tag}}' \
         | grep -E '^mytsdb-harness\.local/(kind-node|node-net|kube-network-policies|smoke-http):' \
         | grep -vE "[:-]$KEY\$" || true)"
  [ -z "$old" ] || docker rmi $old >/dev/null 2>&1 || true
  docker image prune -f >/dev/null 2>&1 || true
}
timed "prune superseded images" prune_images
# Keep the binaries where up.sh and the harness find them without knowing cache keys.
mkdir -p "$CACHE/bin/current"
ln -sfn "$BIN_KIND/kind" "$CACHE/bin/current/kind"
ln -sfn "$BIN_K8S/kubectl" "$CACHE/bin/current/kubectl"
echo "SMOKE_IMAGE=$SMOKE_IMAGE" >"$OUT/images.env"
echo "NODE_IMAGE=$NODE_IMAGE" >>"$OUT/images.env"
echo "$NODE_IMAGE"
