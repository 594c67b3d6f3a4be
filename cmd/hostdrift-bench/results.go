package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
)

// result is everything the bench writes to its JSON file.
type result struct {
	Machine    map[string]string `json:"machine"`
	Runs       int               `json:"runs"`
	Collectors []string          `json:"collectors_registered"`
	Scales     []scaleResult     `json:"scales"`
	Growth     []growthRow       `json:"growth"`
	// Goss is hostdrift against goss on the big host at 1x; GossError says
	// why goss was not run (it could not be built).
	Goss      []compareResult `json:"goss,omitempty"`
	GossError string          `json:"goss_error,omitempty"`
	// Targets is issue 18's table, each target met or not.
	Targets []targetRow `json:"targets"`
	Failed  []string    `json:"failed,omitempty"`
}

type scaleResult struct {
	Scale        int                        `json:"scale"`
	Runs         int                        `json:"runs"`
	Sizes        map[string]int             `json:"sizes"`
	Parts        []partResult               `json:"parts"`
	PolicyChecks int                        `json:"policy_checks"`
	PolicyByKind map[string]int             `json:"policy_by_kind"`
	Collectors   []snapshot.CollectorStatus `json:"collectors,omitempty"`
	Findings     map[string]int             `json:"findings,omitempty"`
	Commands     []commandResult            `json:"commands"`
	Floor        figures                    `json:"floor_total"`
	// Ratios of each hostdrift command's median wall time to the floor's.
	SnapshotX float64  `json:"snapshot_over_floor"`
	CheckX    float64  `json:"check_over_floor"`
	DirectX   float64  `json:"check_no_probes_over_floor"`
	Notes     []string `json:"notes,omitempty"`
	// goss is hostdrift against goss, measured on this host (1x only).
	goss []compareResult
}

type partResult struct {
	Name   string  `json:"name"`
	Status string  `json:"status"` // built, skipped
	BuildS float64 `json:"build_s,omitempty"`
	Note   string  `json:"note,omitempty"`
}

type commandResult struct {
	command
	figures
}

// summarize adds up the floor (wall and CPU summed, RSS the largest: the
// tools run one after another) and the ratios to it.
func (sr *scaleResult) summarize() {
	for _, c := range sr.Commands {
		if c.Role != "floor" {
			continue
		}
		sr.Floor.WallMS += c.WallMS
		sr.Floor.CPUMS += c.CPUMS
		sr.Floor.RSSMB = max(sr.Floor.RSSMB, c.RSSMB)
	}
	for _, c := range sr.Commands {
		switch c.Name {
		case "hostdrift snapshot":
			sr.SnapshotX = c.WallMS / sr.Floor.WallMS
		case "hostdrift check":
			sr.CheckX = c.WallMS / sr.Floor.WallMS
		case "hostdrift check, no probes":
			sr.DirectX = c.WallMS / sr.Floor.WallMS
		}
	}
}

func (sr *scaleResult) command(name string) *commandResult {
	for i := range sr.Commands {
		if sr.Commands[i].Name == name {
			return &sr.Commands[i]
		}
	}
	return nil
}

// verify runs snapshot and check once with their output kept, and makes
// sure the host is what the bench claims: the rule and socket counts, every
// collector OK. It also warms the caches the timed runs will find warm.
func verify(ctx context.Context, ns *setns.Handle, h *host, cmds []command, sr *scaleResult) error {
	dir := h.sc.TempDir()
	snapCmd, checkCmd := cmds[4], cmds[5]
	snapFile, repFile := filepath.Join(dir, "snapshot.json"), filepath.Join(dir, "report.json")
	snapCmd.Argv = append(slices.Clone(snapCmd.Argv), "--output", snapFile)
	checkCmd.Argv = append(slices.Clone(checkCmd.Argv), "--output", repFile)
	for _, c := range []command{snapCmd, checkCmd} {
		if _, err := run(ctx, ns, c); err != nil {
			return err
		}
	}
	f, err := os.Open(snapFile)
	if err != nil {
		return err
	}
	defer f.Close()
	snap, err := snapshot.Decode(f)
	if err != nil {
		return fmt.Errorf("decode the snapshot: %w", err)
	}
	sr.Collectors = snap.Collectors
	var bad []string
	for _, c := range snap.Collectors {
		switch c.Status {
		case snapshot.StatusOK:
		case snapshot.StatusSkipped:
			// The built-in policy reads areas a fixture root does not
			// have (processes are read on the live host only).
			sr.Notes = append(sr.Notes, fmt.Sprintf("collector %s skipped: %s", c.Name, c.Reason))
		default:
			bad = append(bad, fmt.Sprintf("collector %s: %s: %s", c.Name, c.Status, c.Reason))
		}
	}
	want := func(what string, got, want int) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s: the snapshot has %d, the bench built %d", what, got, want))
		}
	}
	if fw := snap.Firewall; fw != nil {
		for backend, key := range map[string]string{snapshot.BackendIptablesNft: "iptables_nft_rules", snapshot.BackendIptablesLegacy: "iptables_legacy_rules", snapshot.BackendNftables: "nft_rules"} {
			bk, _ := fw.Backend(backend)
			want(backend+" rules", bk.Rules, h.sizes[key])
		}
	}
	if l := snap.Listeners; l != nil {
		tcp := 0
		for _, s := range l.Sockets {
			if s.Protocol == "tcp" {
				tcp++
			}
		}
		want("TCP listeners", tcp, h.sizes["listeners"])
	}
	if len(bad) > 0 {
		return fmt.Errorf("the snapshot does not show the big host:\n  %s", strings.Join(bad, "\n  "))
	}
	rf, err := os.Open(repFile)
	if err != nil {
		return err
	}
	defer rf.Close()
	var rep report.Report
	if err := json.NewDecoder(rf).Decode(&rep); err != nil {
		return fmt.Errorf("decode the report: %w", err)
	}
	sr.Findings = map[string]int{"pass": rep.Summary.Pass, "fail": rep.Summary.Fail, "error": rep.Summary.Error, "waived": rep.Summary.Waived, "skip": rep.Summary.Skip}
	errKinds := map[string]int{}
	for _, f := range rep.Findings {
		if f.Status == "error" {
			errKinds[f.Kind]++
		}
	}
	for k, n := range errKinds {
		sr.Notes = append(sr.Notes, fmt.Sprintf("%d %s checks could not be evaluated (error)", n, k))
	}
	return nil
}

// profile runs hostdrift snapshot and check once more each, writing CPU
// and heap profiles to dir.
func profile(ctx context.Context, h *host, cmds []command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range cmds {
		if c.Role != "hostdrift" {
			continue
		}
		name := strings.NewReplacer("hostdrift ", "", ", ", "-", " ", "-").Replace(c.Name)
		prefix := filepath.Join(dir, fmt.Sprintf("%s-%dx", name, h.scale))
		c.env = append(slices.Clone(c.env), "HOSTDRIFT_CPUPROFILE="+prefix+".cpu.pprof", "HOSTDRIFT_MEMPROFILE="+prefix+".mem.pprof")
		if _, err := run(ctx, nil, c); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "hostdrift-bench: profiles in %s.{cpu,mem}.pprof (go tool pprof -top %s.cpu.pprof)\n", prefix, prefix)
	}
	return nil
}

func printScale(w io.Writer, sr *scaleResult) {
	fmt.Fprintf(w, "\n== %dx: ", sr.Scale)
	var sizes []string
	for _, k := range []string{"iptables_nft_rules", "iptables_legacy_rules", "nft_rules", "nft_set_elements", "listeners", "established_connections", "cron_entries", "timers", "dns_names", "docker_networks", "docker_containers"} {
		if n, ok := sr.Sizes[k]; ok {
			sizes = append(sizes, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), n))
		}
	}
	fmt.Fprintf(w, "%s; policy of %d checks; medians of %d runs\n", strings.Join(sizes, ", "), sr.PolicyChecks, sr.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\twall ms\tcpu ms\tpeak rss MB\tx floor wall\t")
	for _, c := range sr.Commands {
		if c.Role == "floor" {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.1f\t\t\n", c.Name, c.WallMS, c.CPUMS, c.RSSMB)
		}
	}
	fmt.Fprintf(tw, "floor total\t%.0f\t%.0f\t%.1f\t1.00\t\n", sr.Floor.WallMS, sr.Floor.CPUMS, sr.Floor.RSSMB)
	for _, c := range sr.Commands {
		if c.Role == "hostdrift" {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.1f\t%.2f\t\n", c.Name, c.WallMS, c.CPUMS, c.RSSMB, c.WallMS/sr.Floor.WallMS)
		}
	}
	tw.Flush()
	if sr.Findings != nil {
		fmt.Fprintf(w, "check findings: %d pass, %d fail, %d error, %d skip\n", sr.Findings["pass"], sr.Findings["fail"], sr.Findings["error"], sr.Findings["skip"])
	}
	if len(sr.Collectors) > 0 {
		var cs []string
		for _, c := range sr.Collectors {
			cs = append(cs, fmt.Sprintf("%s %.0f ms", c.Name, c.DurationMS))
		}
		fmt.Fprintf(w, "collectors (one snapshot, concurrent): %s\n", strings.Join(cs, ", "))
	}
	for _, n := range sr.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
