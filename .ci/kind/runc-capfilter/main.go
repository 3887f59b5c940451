// runc-capfilter is registered as a Docker (or containerd) runtime in place of runc on hosts whose
// capability bounding set lacks capabilities that the engine asks for anyway.
//
// Why: Docker 20.10 gives every --privileged container (and every `docker exec --privileged`
// process) the full list of capabilities it knows, including CAP_SYS_RESOURCE. On a host (here: a
// Firecracker VM) whose bounding set does not hold CAP_SYS_RESOURCE, runc then fails with
// "unable to apply caps: operation not permitted". Nothing can grant a capability outside the
// bounding set, so the only fix is not to ask for it: this program removes from the OCI spec every
// capability that is absent from its own bounding set, then execs the real runc with the original
// arguments.
//
// It edits config.json of the bundle for `create` and `run` (--bundle/-b, default: the current
// directory) and the process spec given to `exec --process/-p`. Every other call is passed through
// untouched. The real runc is $RUNC_CAPFILTER_RUNC, else the first `runc` on PATH.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNames maps capability numbers to the names OCI specs use (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// globalFlagsWithValue are runc's global options that take a separate value argument.
var globalFlagsWithValue = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "runc-capfilter: "+format+"\n", a...)
	os.Exit(1)
}

// missingCaps returns the names of known capabilities that are not in our bounding set.
func missingCaps() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "CapBnd:") {
			continue
		}
		bnd, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "CapBnd:")), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse CapBnd %q: %w", line, err)
		}
		missing := map[string]bool{}
		for i, name := range capNames {
			if bnd&(1<<uint(i)) == 0 {
				missing[name] = true
			}
		}
		return missing, nil
	}
	return nil, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// flagValue finds --name VALUE, --name=VALUE or -s VALUE in args.
func flagValue(args []string, long, short string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if (a == long || (short != "" && a == short)) && i+1 < len(args) {
			return args[i+1], true
		}
		if strings.HasPrefix(a, long+"=") {
			return strings.TrimPrefix(a, long+"="), true
		}
	}
	return "", false
}

// filterCaps removes the missing capabilities from every capability list of a process object.
func filterCaps(process map[string]any, missing map[string]bool) bool {
	caps, ok := process["capabilities"].(map[string]any)
	if !ok {
		return false
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if s, ok := c.(string); ok && missing[s] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	return changed
}

// rewrite edits the JSON file in place (write to a temporary file, then rename). processKey is
// "process" for a bundle's config.json and "" for an exec process spec (the object itself).
func rewrite(path, processKey string, missing map[string]bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 64-bit integers (rlimits, memory limits) exact
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	process := doc
	if processKey != "" {
		p, ok := doc[processKey].(map[string]any)
		if !ok {
			return nil
		}
		process = p
	}
	if !filterCaps(process, missing) {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".capfilter.tmp"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func main() {
	args := os.Args[1:]
	// Find the subcommand: the first argument that is neither a flag nor a global flag's value.
	cmdIdx := -1
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if globalFlagsWithValue[a] {
				i++
			}
			continue
		}
		cmdIdx = i
		break
	}
	if cmdIdx >= 0 {
		sub, rest := args[cmdIdx], args[cmdIdx+1:]
		var path, key string
		switch sub {
		case "create", "run":
			bundle, ok := flagValue(rest, "--bundle", "-b")
			if !ok {
				bundle = "."
			}
			path, key = filepath.Join(bundle, "config.json"), "process"
		case "exec":
			if p, ok := flagValue(rest, "--process", "-p"); ok {
				path = p
			}
		}
		if path != "" {
			missing, err := missingCaps()
			if err != nil {
				die("%v", err)
			}
			if len(missing) > 0 {
				if err := rewrite(path, key, missing); err != nil {
					die("cannot drop capabilities outside the bounding set from %s: %v", path, err)
				}
			}
		}
	}
	runc := os.Getenv("RUNC_CAPFILTER_RUNC")
	if runc == "" {
		var err error
		if runc, err = exec.LookPath("runc"); err != nil {
			die("real runc not found on PATH (%s); set RUNC_CAPFILTER_RUNC", os.Getenv("PATH"))
		}
	}
	if err := syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ()); err != nil {
		die("exec %s: %v", runc, err)
	}
}
