package snapshot

import "testing"

// TestCopyReading: a collector's reading replaces the old one, status and
// section, and leaves the other collectors' alone; cron and timers share
// the jobs section without taking each other's part.
func TestCopyReading(t *testing.T) {
	dst := &Snapshot{
		Collectors: []CollectorStatus{{Name: CollectorCron, Status: StatusError, Reason: "old"}, {Name: CollectorListeners, Status: StatusOK}},
		Listeners:  &Listeners{Source: "old"},
		Jobs:       &Jobs{Cron: &Cron{}, Timers: &Timers{}},
	}
	oldTimers := dst.Jobs.Timers
	src := &Snapshot{
		Collectors: []CollectorStatus{{Name: CollectorCron, Status: StatusOK}, {Name: CollectorMounts, Status: StatusOK}},
		Jobs:       &Jobs{Cron: &Cron{Daemon: "new"}},
		Mounts:     &Mounts{Live: true},
	}
	for _, c := range []string{CollectorCron, CollectorMounts, CollectorListeners} {
		dst.CopyReading(src, c)
	}
	if st, _ := dst.Collector(CollectorCron); st.Status != StatusOK || dst.Jobs.Cron != src.Jobs.Cron {
		t.Errorf("cron: %+v %+v, want the new reading", st, dst.Jobs.Cron)
	}
	if dst.Jobs.Timers != oldTimers {
		t.Error("copying cron's reading replaced the timers'")
	}
	if _, ok := dst.Collector(CollectorMounts); !ok || dst.Mounts != src.Mounts {
		t.Error("mounts: the new collector's reading was not added")
	}
	if dst.Listeners.Source != "old" {
		t.Error("listeners, which src did not run, changed")
	}
	if len(dst.Collectors) != 3 || dst.Collectors[0].Name != CollectorCron || dst.Collectors[2].Name != CollectorMounts {
		t.Errorf("collectors %+v, want cron, listeners, mounts", dst.Collectors)
	}
}
