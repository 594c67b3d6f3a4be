package rules_test

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func TestAccountChecks(t *testing.T) {
	yes, no := true, false
	s := saved(t, &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorAccounts, Status: snapshot.StatusOK}},
		Accounts: &snapshot.Accounts{Errors: []string{},
			Users: []snapshot.User{
				{Name: "root", UID: 0, GID: 0, Group: "root", Home: "/root", Shell: "/bin/bash", Groups: []string{}, Locked: &yes},
				{Name: "deploy", UID: 1001, GID: 1001, Group: "deploy", Home: "/home/deploy", Shell: "/bin/bash", Groups: []string{"docker"}, Locked: &no},
				{Name: "toor", UID: 0, GID: 0, Group: "root", Home: "/root", Shell: "/bin/sh", Groups: []string{}, Locked: &no},
			},
			Groups: []snapshot.Group{{Name: "root", GID: 0, Members: []string{}}, {Name: "docker", GID: 999, Members: []string{"deploy"}}, {Name: "deploy", GID: 1001, Members: []string{}}},
		},
	})
	runKindCases(t, s, []kindCase{
		{"exists", `user "deploy" { name = "deploy" }`, finding.Pass, []string{"user deploy: uid 1001 gid 1001 (deploy), home /home/deploy, shell /bin/bash, groups docker, password not locked"}},
		{"shell and lock", `user "deploy" {
  name   = "deploy"
  shell  = "/usr/sbin/nologin"
  locked = true
  groups = ["docker", "sudo"]
}`, finding.Fail, []string{"user deploy: shell is /bin/bash, not /usr/sbin/nologin; not in group(s) sudo; its password is not locked", "usermod -s /usr/sbin/nologin deploy", "usermod -a -G sudo deploy", "passwd -l deploy"}},
		{"absent", `user "x" { name = "nobody" }`, finding.Fail, []string{"no user nobody in /etc/passwd (3 accounts)"}},
		{"must be absent", `user "x" {
  name   = "toor"
  exists = false
}`, finding.Fail, []string{"user toor exists: uid 0 gid 0 (root)", "userdel toor"}},
		{"uid 0 alone", `user "root" {
  name       = "root"
  uid        = 0
  unique_uid = true
}`, finding.Fail, []string{"other account(s) with uid 0: toor"}},
		{"group", `group "docker" {
  name         = "docker"
  members      = ["deploy"]
  only_members = true
}`, finding.Pass, []string{"group docker: gid 999, members deploy"}},
		{"group primary members", `group "root" {
  name         = "root"
  members      = ["root"]
  only_members = true
}`, finding.Fail, []string{"has member(s) outside the list: toor"}},
		{"group gid", `group "docker" {
  name = "docker"
  gid  = 998
}`, finding.Fail, []string{"gid is 999, not 998", "groupmod -g 998 docker"}},
	})
}
