package policygen

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// A cron job that does nothing here (it leaves its work to a systemd timer)
// is not proposed; one that runs is.
func TestProposeCronLeavesInertJobsOut(t *testing.T) {
	s := &snapshot.Snapshot{Jobs: &snapshot.Jobs{Cron: &snapshot.Cron{Jobs: []snapshot.CronJob{
		{File: "/etc/cron.daily/dpkg", Kind: snapshot.CronRunParts, User: "root", Command: "/etc/cron.daily/dpkg", Inert: snapshot.InertUnderSystemd},
		{File: "/etc/cron.d/backup", Line: 1, Kind: snapshot.CronSystem, User: "root", Command: "/usr/local/bin/backup"},
	}}}}
	got := proposeCron(s)
	if len(got) != 1 || !strings.HasPrefix(got[0].Comment, "/etc/cron.d/backup:1") {
		t.Errorf("proposed %+v; want the backup job only", got)
	}
}
