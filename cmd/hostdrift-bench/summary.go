package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Targets from issue 18, all ratios measured in the same run but the peak
// RSS.
const (
	targetCheckX        = 0.5  // hostdrift check's wall time over the floor's, at 1x and 4x
	targetSnapshotX     = 0.5  // hostdrift snapshot's wall time over the floor's
	targetCheckRSSMB    = 60.0 // hostdrift check's peak RSS at 1x
	targetSnapshotRSSMB = 80.0 // hostdrift snapshot's peak RSS at 1x
	targetGrowthX       = 20.0 // check's wall time at 16x over 1x's
	targetGossRatio     = 0.5  // hostdrift's wall time over goss's on the same checks
)

// Statuses of a target.
const (
	statusMet         = "met"
	statusNotMet      = "not met"
	statusNotMeasured = "not measured"
)

// targetRow is one line of the table: what, the figure this run
// measured, the target, and whether it is met.
type targetRow struct {
	What   string  `json:"what"`
	Figure string  `json:"figure"`
	Value  float64 `json:"value,omitempty"`
	Target string  `json:"target"`
	Max    float64 `json:"max"`
	Status string  `json:"status"`
	Note   string  `json:"note,omitempty"`
}

// judge fills the row's figure and status from a value that must be at
// most the target; ok false means there is no figure.
func judge(what, unit string, value, target float64, ok bool, why string) targetRow {
	r := targetRow{What: what, Max: target}
	format := func(v float64) string {
		if unit == "MB" {
			return fmt.Sprintf("%.1f MB", v)
		}
		return fmt.Sprintf("%.2f%s", v, unit)
	}
	r.Target = "<= " + format(target)
	if unit == "MB" {
		r.Target = fmt.Sprintf("<= %.0f MB", target)
	}
	if !ok {
		r.Figure, r.Status, r.Note = "-", statusNotMeasured, why
		return r
	}
	r.Value, r.Figure = value, format(value)
	r.Status = statusNotMet
	if value <= target {
		r.Status = statusMet
	}
	return r
}

// targetRows is the table for this run: a target whose figure
// this run did not measure (the scale was not run, goss did not build) is
// "not measured", with the reason.
func targetRows(res *result) []targetRow {
	var rows []targetRow
	scale := func(s int) *scaleResult {
		for i := range res.Scales {
			if res.Scales[i].Scale == s {
				return &res.Scales[i]
			}
		}
		return nil
	}
	notRun := func(s int) string { return fmt.Sprintf("%dx was not measured in this run", s) }
	for _, s := range []int{1, 4} {
		sr := scale(s)
		ok := sr != nil && sr.command("hostdrift check") != nil && sr.Floor.WallMS > 0
		var v float64
		if ok {
			v = sr.CheckX
		}
		rows = append(rows, judge(fmt.Sprintf("hostdrift check / floor, %dx", s), "x", v, targetCheckX, ok, notRun(s)))
	}
	for _, s := range []int{1, 4} {
		sr := scale(s)
		ok := sr != nil && sr.command("hostdrift snapshot") != nil && sr.Floor.WallMS > 0
		var v float64
		if ok {
			v = sr.SnapshotX
		}
		rows = append(rows, judge(fmt.Sprintf("hostdrift snapshot / floor, %dx", s), "x", v, targetSnapshotX, ok, notRun(s)))
	}
	for _, c := range []struct {
		name   string
		target float64
	}{{"hostdrift check", targetCheckRSSMB}, {"hostdrift snapshot", targetSnapshotRSSMB}} {
		var cr *commandResult
		if sr := scale(1); sr != nil {
			cr = sr.command(c.name)
		}
		var v float64
		if cr != nil {
			v = cr.RSSMB
		}
		rows = append(rows, judge(strings.TrimPrefix(c.name, "hostdrift ")+" peak RSS, 1x", "MB", v, c.target, cr != nil, notRun(1)))
	}
	var g float64
	ok := false
	why := notRun(16)
	if b, t := scale(1), scale(16); b == nil {
		why = notRun(1)
	} else if t != nil {
		bc, tc := b.command("hostdrift check"), t.command("hostdrift check")
		if bc != nil && tc != nil && bc.WallMS > 0 {
			g, ok = tc.WallMS/bc.WallMS, true
		}
	}
	rows = append(rows, judge("growth of check's wall time, 1x -> 16x", "x", g, targetGrowthX, ok, why))
	for _, name := range []string{"listeners", "dns"} {
		what := fmt.Sprintf("hostdrift / goss, %d listener checks", compareListeners)
		if name == "dns" {
			what = fmt.Sprintf("hostdrift / goss, %d DNS names", compareNames)
		}
		i := slices.IndexFunc(res.Goss, func(c compareResult) bool { return c.Name == name })
		switch {
		case i >= 0 && res.Goss[i].Error == "":
			rows = append(rows, judge(what, "", res.Goss[i].Ratio, targetGossRatio, true, ""))
		case i >= 0:
			r := judge(what, "", 0, targetGossRatio, false, res.Goss[i].Error)
			// A tool that did not pass is a failed row, not a missing one.
			r.Status = statusNotMet
			rows = append(rows, r)
		case res.GossError != "":
			rows = append(rows, judge(what, "", 0, targetGossRatio, false, res.GossError))
		default:
			rows = append(rows, judge(what, "", 0, targetGossRatio, false, "the comparison runs on the big host at 1x, which was not measured"))
		}
	}
	return rows
}

// printTargets writes the table.
func printTargets(w io.Writer, rows []targetRow) {
	fmt.Fprintln(w, "\n== targets (issue 18)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "what\tfigure\ttarget\tmet/not met\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.What, r.Figure, r.Target, r.Status)
	}
	tw.Flush()
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.What, r.Note)
		}
	}
}

// growthRow is one command's or collector's figure at every scale measured
// and its ratio to 1x's.
type growthRow struct {
	What string `json:"what"`
	Unit string `json:"unit"` // ms or MB
	// Values and OverBase are keyed by scale ("4x"); OverBase is the value
	// over 1x's.
	Values   map[string]float64 `json:"values"`
	OverBase map[string]float64 `json:"over_1x,omitempty"`
}

// growthTable lists every command's median wall time, the floor's total,
// every collector's duration in the checked snapshot, every command's CPU
// time and the peak RSS of hostdrift's commands, at each scale, with the
// growth from 1x.
func growthTable(scales []scaleResult) []growthRow {
	var rows []growthRow
	find := func(what, unit string) *growthRow {
		for i := range rows {
			if rows[i].What == what && rows[i].Unit == unit {
				return &rows[i]
			}
		}
		rows = append(rows, growthRow{What: what, Unit: unit, Values: map[string]float64{}})
		return &rows[len(rows)-1]
	}
	for _, sr := range scales {
		key := scaleKey(sr.Scale)
		for _, c := range sr.Commands {
			find(c.Name, "ms").Values[key] = c.WallMS
		}
		if sr.Floor.WallMS > 0 {
			find("floor total", "ms").Values[key] = sr.Floor.WallMS
		}
	}
	for _, sr := range scales {
		for _, c := range sr.Collectors {
			find("collector "+c.Name, "ms").Values[scaleKey(sr.Scale)] = c.DurationMS
		}
	}
	// CPU time too: on a shared machine a command's wall time also holds
	// what it waited for the cores.
	for _, sr := range scales {
		for _, c := range sr.Commands {
			find(c.Name+" CPU", "ms").Values[scaleKey(sr.Scale)] = c.CPUMS
		}
	}
	for _, sr := range scales {
		for _, c := range sr.Commands {
			if c.Role == "hostdrift" {
				find(c.Name+" peak RSS", "MB").Values[scaleKey(sr.Scale)] = c.RSSMB
			}
		}
	}
	for i := range rows {
		base, ok := rows[i].Values[scaleKey(1)]
		if !ok || base <= 0 {
			continue
		}
		rows[i].OverBase = map[string]float64{}
		for k, v := range rows[i].Values {
			rows[i].OverBase[k] = v / base
		}
	}
	return rows
}

func scaleKey(s int) string { return fmt.Sprintf("%dx", s) }

// printGrowth writes the growth table: each scale's figure and, past 1x,
// its ratio to 1x's.
func printGrowth(w io.Writer, scales []int, rows []growthRow) {
	if len(scales) < 2 || len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n== growth (figure, and its ratio to 1x)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"what"}
	for _, s := range scales {
		head = append(head, scaleKey(s))
		if s != 1 {
			head = append(head, scaleKey(s)+"/1x")
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		cells := []string{r.What + " (" + r.Unit + ")"}
		for _, s := range scales {
			v, ok := r.Values[scaleKey(s)]
			cell := "-"
			if ok {
				cell = fmt.Sprintf("%.0f", v)
				if r.Unit == "MB" {
					cell = fmt.Sprintf("%.1f", v)
				}
			}
			cells = append(cells, cell)
			if s == 1 {
				continue
			}
			g, ok := r.OverBase[scaleKey(s)]
			cell = "-"
			if ok {
				cell = fmt.Sprintf("%.1fx", g)
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
}

// printGoss writes hostdrift against goss, per check set.
func printGoss(w io.Writer, res *result) {
	if res.GossError == "" && len(res.Goss) == 0 {
		return
	}
	fmt.Fprintf(w, "\n== hostdrift against goss %s on the big host (1x), both started in its namespace; medians of %d interleaved runs\n", gossVersion, res.Runs)
	if res.GossError != "" {
		fmt.Fprintln(w, "goss:", res.GossError)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "check set\thostdrift ms\tgoss ms\thostdrift RSS MB\tgoss RSS MB\thostdrift/goss\t")
	for _, c := range res.Goss {
		if c.Error != "" {
			fmt.Fprintf(tw, "%s (%d)\t-\t-\t-\t-\tFAILED\t\n", c.Name, c.Checks)
			continue
		}
		fmt.Fprintf(tw, "%s (%d)\t%.0f\t%.0f\t%.1f\t%.1f\t%.2f\t\n", c.Name, c.Checks, c.Hostdrift.WallMS, c.Goss.WallMS, c.Hostdrift.RSSMB, c.Goss.RSSMB, c.Ratio)
	}
	tw.Flush()
	for _, c := range res.Goss {
		if c.Error != "" {
			fmt.Fprintf(w, "FAILED %s: %s\n", c.Name, c.Error)
		}
	}
}
