// Package firewall collects every netfilter ruleset of the host (native
// nftables, iptables-nft and iptables-legacy, IPv4 and IPv6) into the
// normalised snapshot model.
package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	goiptables "github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
)

func init() {
	agent.Register(snapshot.CollectorFirewall, func() agent.Collector { return &Collector{} })
}

// Collector reads the firewall. Tools overrides where the *-save tools live
// (tests point it at missing paths); zero means the Debian locations.
type Collector struct {
	Tools Tools
}

// Follows declares the news after which the firewall is read again: a
// committed nf_tables transaction, and Docker's container and network
// changes, after which dockerd rewrites its chains (through iptables-legacy
// too, which tells no one).
func (*Collector) Follows() []agent.Source { return []agent.Source{agent.NFTables, agent.Docker} }

// Tools are the absolute paths of the read-only dump tools.
type Tools struct {
	IptablesNftSave     string
	Ip6tablesNftSave    string
	IptablesLegacySave  string
	Ip6tablesLegacySave string
}

// DefaultTools are Debian's paths.
var DefaultTools = Tools{
	IptablesNftSave:     "/usr/sbin/iptables-nft-save",
	Ip6tablesNftSave:    "/usr/sbin/ip6tables-nft-save",
	IptablesLegacySave:  "/usr/sbin/iptables-legacy-save",
	Ip6tablesLegacySave: "/usr/sbin/ip6tables-legacy-save",
}

const needPriv = "run hostdrift as root or with CAP_NET_ADMIN"

// needPrivLegacy: iptables-legacy-save reads the tables through a raw socket.
const needPrivLegacy = "run hostdrift as root or with CAP_NET_ADMIN and CAP_NET_RAW (iptables-legacy-save opens a raw socket)"

// Collect reads every backend; what cannot be read is recorded in the
// backend's Reason and makes the result partial.
func (c *Collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	tools := c.Tools
	if tools == (Tools{}) {
		tools = DefaultTools
	}
	fd := 0
	if env != nil && env.NetNS != "" {
		f, err := os.Open(env.NetNS)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", env.NetNS, err)
		}
		defer f.Close()
		fd = int(f.Fd())
	}
	netns := ""
	if env != nil {
		netns = env.NetNS
	}
	fw := &snapshot.Firewall{Tables: []snapshot.Table{}}
	var problems []string

	// iptables-nft-save's reading and every table over netlink, at once
	// (each dumps the same rules from the kernel): who owns a table is
	// decided from what the kernel holds (assignOwners).
	r := &nftReader{fd: fd}
	type kernelRead struct {
		tables []snapshot.Table
		err    error
	}
	fromKernel := make(chan kernelRead, 1)
	go func() {
		tables, err := r.read()
		fromKernel <- kernelRead{tables, err}
	}()
	nftBackend := snapshot.Backend{Name: snapshot.BackendIptablesNft, Available: true}
	var saved []snapshot.Table
	var noTool []string // families whose iptables-nft-save is not installed
	var noToolReason string
	for _, fam := range []struct{ family, tool string }{{"ip", tools.IptablesNftSave}, {"ip6", tools.Ip6tablesNftSave}} {
		res, err := readSave(ctx, netns, fam.tool, snapshot.BackendIptablesNft, fam.family)
		if isToolMissing(err) {
			// Judged below from what netlink shows.
			noTool = append(noTool, fam.family)
			noToolReason = joinReason(noToolReason, err.Error())
			continue
		}
		if err != nil {
			nftBackend.Available = false
			nftBackend.Reason = joinReason(nftBackend.Reason, err.Error())
			addFix(&nftBackend, privilegeFix(err, needPriv))
			continue
		}
		saved = append(saved, res.Tables...)
		fw.Unparsed = append(fw.Unparsed, res.Unparsed...)
	}
	native := snapshot.Backend{Name: snapshot.BackendNftables, Available: true}
	kr := <-fromKernel
	tables, err := kr.tables, kr.err
	if err != nil {
		native.Available = false
		native.Reason = explainNetlink(err)
		addFix(&native, privilegeFix(err, needPriv))
		// Without the kernel's view, the tool's reading is all there is.
		fw.Tables = append(fw.Tables, saved...)
		countInto(&nftBackend, saved)
	} else {
		own := assignOwners(saved, tables, r.xtRules)
		fw.Tables = append(fw.Tables, own.iptables...)
		fw.Tables = append(fw.Tables, own.native...)
		countInto(&nftBackend, own.iptables)
		countInto(&native, own.native)
		native.Note = strings.Join(own.notes, "; ")
		fw.Unparsed = slices.DeleteFunc(fw.Unparsed, func(u snapshot.UnparsedRule) bool {
			return u.Backend == snapshot.BackendIptablesNft && !slices.ContainsFunc(own.iptables, func(t snapshot.Table) bool { return t.Family == u.Family && t.Name == u.Table })
		})
	}
	if len(noTool) > 0 {
		judgeWithoutTool(&nftBackend, noToolReason, noTool, native.Available, tables, r.xt)
	}
	if nftBackend.Reason != "" {
		problems = append(problems, "iptables-nft: "+nftBackend.Reason)
	}
	if native.Reason != "" {
		problems = append(problems, "nftables: "+native.Reason)
	}
	fw.Backends = append(fw.Backends, nftBackend, native)

	legacy := snapshot.Backend{Name: snapshot.BackendIptablesLegacy, Available: true}
	for _, fam := range []struct{ family, tool, names string }{
		{"ip", tools.IptablesLegacySave, "ip_tables_names"},
		{"ip6", tools.Ip6tablesLegacySave, "ip6_tables_names"},
	} {
		names, err := legacyTables(netns, fam.names)
		if err != nil {
			legacy.Available = false
			legacy.Reason = joinReason(legacy.Reason, err.Error())
			addFix(&legacy, privilegeFix(err, needPrivLegacy))
			continue
		}
		if len(names) == 0 {
			continue // nothing loaded: do not run the tool, it would load modules
		}
		res, err := readSave(ctx, netns, fam.tool, snapshot.BackendIptablesLegacy, fam.family)
		if err != nil {
			legacy.Available = false
			legacy.Reason = joinReason(legacy.Reason, err.Error())
			addFix(&legacy, privilegeFix(err, needPrivLegacy))
			if isToolMissing(err) {
				addFix(&legacy, installIptables)
			}
			continue
		}
		fw.Tables = append(fw.Tables, res.Tables...)
		fw.Unparsed = append(fw.Unparsed, res.Unparsed...)
		countInto(&legacy, res.Tables)
	}
	if legacy.Reason != "" {
		problems = append(problems, "iptables-legacy: "+legacy.Reason)
	}
	fw.Backends = append(fw.Backends, legacy)

	if env != nil {
		attributeFirewalld(fw, env.FS())
	} else {
		attributeFirewalld(fw, (&agent.Env{}).FS())
	}
	fw.IptablesCommand = iptablesCommand()
	if err := readRoutes(fd, fw); err != nil {
		problems = append(problems, "addresses and routes: "+err.Error())
	}
	if err := readIPSets(fd, fw); err != nil {
		problems = append(problems, "ipsets: "+err.Error())
	}

	if !nftBackend.Available && !native.Available && !legacy.Available {
		return nil, fmt.Errorf("no firewall backend could be read: %s", strings.Join(problems, "; "))
	}
	if len(problems) > 0 {
		return fw, agent.Partial("%s", strings.Join(problems, "; "))
	}
	return fw, nil
}

// judgeWithoutTool decides what iptables-nft holds in the families whose
// iptables-nft-save is not installed, from the nf_tables tables netlink
// showed: none that iptables-nft made means it holds no rules there (the
// backend stays available, with a note saying how that was judged); any
// such table, or netlink unreadable, is a real gap, since only the tool
// reads those tables whole.
func judgeWithoutTool(b *snapshot.Backend, missing string, families []string, netlinkRead bool, tables []snapshot.Table, xt map[string]bool) {
	if !netlinkRead {
		b.Available = false
		b.Reason = joinReason(b.Reason, missing+" (and nf_tables could not be read over netlink to tell whether iptables-nft holds anything)")
		addFix(b, installIptables)
		return
	}
	if compat := xtCompatTables(tables, xt, families); len(compat) > 0 {
		b.Available = false
		b.Reason = joinReason(b.Reason, fmt.Sprintf("%s; netlink shows tables iptables-nft made (%s), which only it reads whole", missing, strings.Join(compat, ", ")))
		addFix(b, installIptables)
		return
	}
	b.Note = fmt.Sprintf("%s; netlink shows no table that iptables-nft made in %s, so it holds no rules there", missing, strings.Join(families, " and "))
}

// installIptables closes a gap left by a missing dump tool.
const installIptables = "install the iptables package: its *-save tools read the tables iptables made"

// privilegeFix returns hint when err says the read was refused for want of
// privilege, and "" otherwise: a missing privilege is one cause among many.
func privilegeFix(err error, hint string) string {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, os.ErrPermission) {
		return hint
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "permission denied") || strings.Contains(msg, "operation not permitted") {
		return hint
	}
	return ""
}

// addFix records what would close a backend's gap, once.
func addFix(b *snapshot.Backend, fix string) {
	if fix != "" && !slices.Contains(b.Fix, fix) {
		b.Fix = append(b.Fix, fix)
	}
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func countInto(b *snapshot.Backend, tables []snapshot.Table) {
	for _, t := range tables {
		b.Tables++
		for _, c := range t.Chains {
			b.Rules += len(c.Rules)
		}
	}
}

func explainNetlink(err error) string {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, os.ErrPermission) {
		return fmt.Sprintf("%v: %s", err, needPriv)
	}
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Sprintf("%v: the kernel has no nf_tables support", err)
	}
	return err.Error()
}

// readSave runs a read-only dump tool (absolute path, no arguments, no
// shell) in the namespace and parses its output as it streams in, so a huge
// ruleset is never held twice and one over MaxRules stops the tool early.
func readSave(ctx context.Context, netns, tool, backend, family string) (*SaveResult, error) {
	if _, err := os.Stat(tool); err != nil {
		return nil, &toolMissingError{tool}
	}
	var stderr bytes.Buffer
	var res *SaveResult
	var parseErr error
	err := setns.Run(netns, func() error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		cmd := exec.CommandContext(ctx, tool)
		cmd.Stderr = &stderr
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		res, parseErr = ParseSave(out, backend, family)
		if parseErr != nil {
			cancel() // stop the tool; its output is no longer wanted
			_, _ = io.Copy(io.Discard, out)
		}
		return cmd.Wait()
	})
	if parseErr != nil {
		return nil, fmt.Errorf("%s: %w", tool, parseErr)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Permission denied") || strings.Contains(msg, "Operation not permitted") || os.Geteuid() != 0 {
			hint := needPriv
			if strings.Contains(tool, "legacy") {
				hint = needPrivLegacy
			}
			return nil, fmt.Errorf("%s: %v: %s: %s", tool, err, msg, hint)
		}
		return nil, fmt.Errorf("%s: %v: %s", tool, err, msg)
	}
	return res, nil
}

// legacyTables lists the tables iptables-legacy holds, from /proc/net/*_tables_names.
func legacyTables(netns, file string) ([]string, error) {
	var data []byte
	err := setns.Run(netns, func() error {
		var err error
		data, err = os.ReadFile("/proc/thread-self/net/" + file)
		return err
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // ip_tables not loaded: legacy holds nothing
	}
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/%s: %w", file, err)
	}
	return strings.Fields(string(data)), nil
}

// readRoutes records the local addresses and main routes of the namespace.
func readRoutes(fd int, fw *snapshot.Firewall) error {
	h, err := newHandle(fd)
	if err != nil {
		return err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		fw.LocalAddresses = append(fw.LocalAddresses, snapshot.LocalAddress{Prefix: netip.PrefixFrom(ip.Unmap(), ones), Interface: names[a.LinkIndex]})
	}
	routes, err := h.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	for _, r := range routes {
		rt := snapshot.Route{Interface: names[r.LinkIndex]}
		if r.Dst != nil {
			ip, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			rt.Dst = netip.PrefixFrom(ip.Unmap(), ones)
		} else if r.Family == unix.AF_INET6 {
			rt.Dst = netip.MustParsePrefix("::/0")
		} else {
			rt.Dst = netip.MustParsePrefix("0.0.0.0/0")
		}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			rt.Gateway = gw.Unmap()
		}
		fw.Routes = append(fw.Routes, rt)
	}
	sort.SliceStable(fw.Routes, func(i, j int) bool { return fw.Routes[i].Dst.Bits() > fw.Routes[j].Dst.Bits() })
	return nil
}

func nsHandle(fd int) netns.NsHandle { return netns.NsHandle(fd) }

// newHandle opens a netlink handle in the namespace of fd (0: the
// caller's).
func newHandle(fd int) (*netlink.Handle, error) {
	if fd > 0 {
		return netlink.NewHandleAt(nsHandle(fd))
	}
	return netlink.NewHandle()
}

// linkInfo is one interface: its index, name, link-layer type as netlink
// names it (ether, loopback, ...) and device group.
type linkInfo struct {
	index, group uint32
	name, encap  string
}

// readLinks lists the interfaces of the namespace of fd (0: the
// caller's); nil when they cannot be read.
func readLinks(fd int) []linkInfo {
	h, err := newHandle(fd)
	if err != nil {
		return nil
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil
	}
	out := make([]linkInfo, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		out = append(out, linkInfo{index: uint32(a.Index), group: a.Group, name: a.Name, encap: a.EncapType})
	}
	return out
}

// iptablesPath is the host's iptables command (Debian's alternatives link).
const iptablesPath = "/usr/sbin/iptables"

// iptablesCommand describes the host's iptables command: the backend that
// UFW, Docker and anyone typing "iptables" write to. go-iptables reads its
// version (it runs "iptables --version", which only prints); the backend is
// the alternatives link's target, xtables-nft-multi or xtables-legacy-multi.
func iptablesCommand() *snapshot.IptablesCommand {
	if _, err := os.Stat(iptablesPath); err != nil {
		return nil
	}
	cmd := &snapshot.IptablesCommand{Path: iptablesPath, Mode: "legacy"}
	if target, err := filepath.EvalSymlinks(iptablesPath); err == nil && strings.Contains(filepath.Base(target), "nft") {
		cmd.Mode = "nf_tables"
	}
	ipt, err := goiptables.New(goiptables.Path(iptablesPath))
	if err != nil {
		cmd.Version = "unknown: " + err.Error()
		return cmd
	}
	v1, v2, v3 := ipt.GetIptablesVersion()
	cmd.Version = fmt.Sprintf("%d.%d.%d", v1, v2, v3)
	return cmd
}
