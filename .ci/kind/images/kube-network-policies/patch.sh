#!/usr/bin/env bash
# patch.sh DIR: make the kube-network-policies source in DIR (a writable copy of the module) queue
# packets with the xt NFQUEUE target instead of the nftables queue expression (see
# nfqueue_compat.go.in for why). Fails when the upstream code no longer has the expected shape.
set -euo pipefail
dir="$1"; here="$(cd "$(dirname "$0")" && pwd)"
np="$dir/pkg/networkpolicy"
perl -0pi -e 's/queue := &expr\.Queue\{Num: uint16\(c\.config\.QueueID\)\}\n\s*if c\.config\.FailOpen \{\n\s*queue\.Flag = expr\.QueueFlagBypass\n\s*\}/queue := nfqueueExpr(uint16(c.config.QueueID), c.config.FailOpen)/g' "$np/controller.go"
perl -0pi -e 's/&expr\.Queue\{Num: uint16\(n\.nfQueueID\), Flag: expr\.QueueFlagBypass\}/nfqueueExpr(uint16(n.nfQueueID), true)/g' "$np/dnsagent.go"
cp "$here/nfqueue_compat.go.in" "$np/zz_nfqueue_compat.go"
if grep -rn 'expr\.Queue{' "$np"/*.go; then
  echo "patch.sh: kube-network-policies still builds nftables queue expressions (upstream changed)" >&2
  exit 1
fi
