package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func processSnapshot() *snapshot.Snapshot {
	return &snapshot.Snapshot{Schema: snapshot.Schema,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorProcesses, Status: snapshot.StatusOK}},
		Processes: &snapshot.Processes{Processes: []snapshot.RunningProcess{
			{PID: 10, Name: "nginx", Command: "nginx: master process", UID: 0, User: "root", Host: true},
			{PID: 11, Name: "nginx", Command: "nginx: worker process", UID: 33, User: "www-data", Host: true},
			{PID: 12, Name: "nginx", Command: "nginx: worker process", UID: 33, User: "www-data", Host: true},
			{PID: 90, Name: "postgres", Command: "postgres -D /var/lib/postgresql", UID: 999, Host: false},
			{PID: 91, Name: "redis-server", UID: 999, NSError: "its namespaces could not be read: permission denied"},
		}}}
}

func TestProcessCounts(t *testing.T) {
	s := processSnapshot()
	for _, c := range []struct {
		src    string
		status finding.Status
		want   string
	}{
		{`process "p" {
  name = "nginx"
  user = "www-data"
  min  = 2
  max  = 4
}`, finding.Pass, "2 processes named nginx as www-data run on this host: pid 11 nginx (www-data), pid 12 nginx (www-data)"},
		{`process "p" {
  command = "master"
  max     = 1
}`, finding.Pass, "1 process with a command matching /master/ runs"},
		{`process "p" {
  name = "nginx"
  max  = 1
}`, finding.Fail, "3 processes named nginx run on this host, more than 1"},
		{`process "p" {
  name = "postgres"
}`, finding.Fail, "no process named postgres runs on this host; 1 more in other PID or mount namespaces (containers), which do not count: pid 90 postgres (999)"},
		{`process "p" {
  name = "redis-server"
}`, finding.Error, "1 more match whose namespaces could not be read"},
		{`process "p" {
  name = "telnetd"
  max  = 0
}`, finding.Pass, "0 processes named telnetd run on this host"},
	} {
		f := one(t, c.src, s)
		if f.Status != c.status || !strings.Contains(f.Explanation, c.want) {
			t.Errorf("%s\n%s, want %s with %q:\n%s", c.src, f.Status, c.status, c.want, f.Explanation)
		}
	}
}
