package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// UFW runs Debian's ufw commands inside the namespace and then enables it,
// in a private mount namespace where /etc/ufw, /etc/default/ufw and /lib/ufw
// are temporary copies: the machine's own UFW configuration is never touched.
// ufw writes through iptables-nft, whatever the machine's alternatives say.
func (ns *NS) UFW(t TB, commands ...string) { ns.UFWBackend(t, "nft", commands...) }

// UFWBackend is UFW writing through the given iptables backend, nft or
// legacy: inside the private mount namespace the other xtables binary is
// covered by this one, so every iptables command ufw runs is of the backend.
func (ns *NS) UFWBackend(t TB, backend string, commands ...string) {
	t.Helper()
	other := map[string]string{"nft": "legacy", "legacy": "nft"}[backend]
	if other == "" {
		t.Fatalf("UFWBackend: backend %q, want nft or legacy", backend)
	}
	RequireCommand(t, "ufw")
	RequireCommand(t, "unshare")
	tmp := t.TempDir()
	for _, c := range [][]string{
		{"cp", "-a", "/etc/ufw", filepath.Join(tmp, "etc-ufw")},
		{"cp", "-a", "/lib/ufw", filepath.Join(tmp, "lib-ufw")},
		{"cp", "/usr/share/ufw/user.rules", filepath.Join(tmp, "etc-ufw", "user.rules")},
		{"cp", "/usr/share/ufw/user6.rules", filepath.Join(tmp, "etc-ufw", "user6.rules")},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
	def, err := os.ReadFile("/etc/default/ufw")
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "sysctl.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(def), "\n") {
		if strings.HasPrefix(l, "IPT_SYSCTL=") {
			l = "IPT_SYSCTL=" + empty
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(filepath.Join(tmp, "default-ufw"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(tmp, "'\n") {
		t.Fatalf("UFW: temporary directory %q cannot be quoted for sh", tmp)
	}
	script := fmt.Sprintf("set -e; mount --bind '%s/etc-ufw' /etc/ufw; mount --bind '%s/default-ufw' /etc/default/ufw; mount --bind '%s/lib-ufw' /lib/ufw;\n", tmp, tmp, tmp)
	script += fmt.Sprintf("mount --bind /usr/sbin/xtables-%s-multi /usr/sbin/xtables-%s-multi\n", backend, other)
	for _, c := range commands {
		script += "ufw " + c + " >/dev/null\n"
	}
	script += "ufw --force enable >/dev/null\n"
	ns.Run(t, "unshare", "-m", "--propagation", "private", "sh", "-c", script)
}
