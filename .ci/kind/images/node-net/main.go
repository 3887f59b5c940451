// node-net is the pod network of the harness's offline kind node image (kind's own kindnetd is
// not a published Go module). It runs as a DaemonSet on every node and keeps two things true:
//
//   - the CNI config (bridge + host-local IPAM over this node's spec.podCIDR, portmap) exists in
//     the node's CNI config directory, so the kubelet reports the network ready;
//   - every other node's pod CIDR is routed via that node's InternalIP, so pods reach each other
//     across nodes (a single-node cluster has no such routes).
//
// It talks to the API server directly (CONTROL_PLANE_ENDPOINT, which kind injects into the
// DaemonSet, else the in-cluster Service) with the pod's ServiceAccount token, so it works before
// kube-proxy has programmed Service routing. Standard library only.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func apiClient() (*http.Client, string, error) {
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, "", fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	host := os.Getenv("CONTROL_PLANE_ENDPOINT")
	if host == "" {
		host = net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	return client, "https://" + host, nil
}

func listNodes(client *http.Client, base string) (*nodeList, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token")) // re-read: projected tokens rotate
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var nodes nodeList
	return &nodes, json.NewDecoder(resp.Body).Decode(&nodes)
}

// conflist renders the CNI configuration for this node's pod CIDRs.
func conflist(cidrs []string) ([]byte, error) {
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, c := range cidrs {
		ip, _, err := net.ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		ranges = append(ranges, []map[string]string{{"subnet": c}})
		if ip.To4() != nil {
			routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
		} else {
			routes = append(routes, map[string]string{"dst": "::/0"})
		}
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "node-net",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      "cni0",
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true, // a pod reaches itself through its own Service
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": ranges,
					"routes": routes,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// writeIfChanged replaces path atomically when its content differs.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

func sync(client *http.Client, base, self, confPath string) error {
	nodes, err := listNodes(client, base)
	if err != nil {
		return err
	}
	found := false
	for _, n := range nodes.Items {
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		if n.Metadata.Name == self {
			found = true
			if len(cidrs) == 0 {
				return fmt.Errorf("node %s has no spec.podCIDR yet (controller-manager allocates it)", self)
			}
			data, err := conflist(cidrs)
			if err != nil {
				return err
			}
			if changed, err := writeIfChanged(confPath, data); err != nil {
				return err
			} else if changed {
				log.Printf("wrote %s for pod CIDRs %v", confPath, cidrs)
			}
			continue
		}
		for _, cidr := range cidrs {
			for _, a := range n.Status.Addresses {
				if a.Type != "InternalIP" {
					continue
				}
				ip := net.ParseIP(a.Address)
				_, podNet, err := net.ParseCIDR(cidr)
				if ip == nil || err != nil || (ip.To4() == nil) != (podNet.IP.To4() == nil) {
					continue
				}
				if out, err := exec.Command("ip", "route", "replace", cidr, "via", a.Address).CombinedOutput(); err != nil {
					log.Printf("route %s via %s (%s): %v: %s", cidr, a.Address, n.Metadata.Name, err, out)
				}
			}
		}
	}
	if !found {
		return fmt.Errorf("node %s not in the node list", self)
	}
	return nil
}

func main() {
	self := os.Getenv("NODE_NAME")
	if self == "" {
		log.Fatal("NODE_NAME is not set (downward API spec.nodeName)")
	}
	confPath := filepath.Join(env("CNI_CONF_DIR", "/etc/cni/net.d"), "10-node-net.conflist")
	client, base, err := apiClient()
	if err != nil {
		log.Fatalf("API client: %v", err)
	}
	log.Printf("node-net on %s: API %s, CNI config %s", self, base, confPath)
	for {
		if err := sync(client, base, self, confPath); err != nil {
			log.Printf("sync: %v", err)
			time.Sleep(2 * time.Second)
			continue
		}
		time.Sleep(10 * time.Second)
	}
}
