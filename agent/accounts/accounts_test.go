package accounts

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/passwd"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

const passwdText = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
deploy:x:1001:1001:Deploy,,,:/home/deploy:/usr/sbin/nologin
toor:x:0:0::/root:/bin/sh
+nisuser::::::
broken:x:abc:1::/:/bin/sh
short:x:1
`

const group = `root:x:0:
sudo:x:27:deploy,alice
docker:x:999:deploy
deploy:x:1001:
bad:x:
`

// A locked, a no-password, an empty and a hashed password.
const shadow = `root:*:19000:0:99999:7:::
deploy:!$y$j9T$abcdefgh$ijklmnop:19000:0:99999:7:::
toor:$6$salt$hashhashhash:19000:0:99999:7:::
daemon::19000::::::
`

func TestParse(t *testing.T) {
	users, errs := passwd.Parse(strings.NewReader(passwdText))
	groups, gerrs := ParseGroup(strings.NewReader(group))
	a := &snapshot.Accounts{Users: users, Groups: groups}
	Resolve(a)
	if len(users) != 4 || len(errs) != 2 || !strings.Contains(errs[0], "/etc/passwd:7") || !strings.Contains(errs[1], "/etc/passwd:8: 3 fields") {
		t.Fatalf("users %+v errors %q", users, errs)
	}
	if len(groups) != 4 || len(gerrs) != 1 || !strings.Contains(gerrs[0], "/etc/group:5") {
		t.Fatalf("groups %+v errors %q", groups, gerrs)
	}
	d, _ := a.User("deploy")
	want := snapshot.User{Name: "deploy", UID: 1001, GID: 1001, Home: "/home/deploy", Shell: "/usr/sbin/nologin", Group: "deploy", Groups: []string{"sudo", "docker"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("deploy: %+v, want %+v", d, want)
	}
	locks := ParseShadowLocks(strings.NewReader(shadow))
	if !reflect.DeepEqual(locks, map[string]bool{"root": true, "deploy": true, "toor": false, "daemon": false}) {
		t.Errorf("locks %v", locks)
	}
}

// TestFixtureRoot reads a fixture root through --root and checks that no
// password hash reaches the snapshot.
func TestFixtureRoot(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{"etc/passwd": passwdText, "etc/group": group, "etc/shadow": shadow})
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: root})
	if err == nil || !strings.Contains(err.Error(), "3 account line(s)") {
		t.Fatalf("want a partial for the broken lines, got %v", err)
	}
	a := sec.(*snapshot.Accounts)
	toor, _ := a.User("toor")
	if toor.Locked == nil || *toor.Locked || toor.UID != 0 {
		t.Errorf("toor: %+v", toor)
	}
	b, _ := json.Marshal(a)
	if strings.Contains(string(b), "$") || strings.Contains(string(b), "hash") {
		t.Errorf("a password hash reached the snapshot: %s", b)
	}
	if sec, err := (collector{}).Collect(context.Background(), &agent.Env{Root: t.TempDir()}); err != nil || !strings.Contains(sec.(*snapshot.Accounts).Absent, "no /etc/passwd") {
		t.Errorf("a root without passwd: %v", err)
	}
}

func FuzzParseAccounts(f *testing.F) {
	f.Add(passwdText, group, shadow)
	f.Fuzz(func(t *testing.T, pw, gr, sh string) {
		users, _ := passwd.Parse(strings.NewReader(pw))
		groups, _ := ParseGroup(strings.NewReader(gr))
		Resolve(&snapshot.Accounts{Users: users, Groups: groups})
		for name := range ParseShadowLocks(strings.NewReader(sh)) {
			if name == "" {
				t.Fatal("a lock without a user")
			}
		}
		for _, u := range users {
			if u.Name == "" || u.UID < 0 {
				t.Fatalf("bad user %+v", u)
			}
		}
	})
}

// TestDebootstrappedRoot reads a real Debian root's accounts through
// --root: root alone at uid 0, its password locked (debootstrap sets none).
func TestDebootstrappedRoot(t *testing.T) {
	root := debroot.Cached(t)
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	a := sec.(*snapshot.Accounts)
	if a.ShadowError != "" {
		t.Fatalf("shadow: %s", a.ShadowError)
	}
	var uid0 []string
	for _, u := range a.Users {
		if u.UID == 0 {
			uid0 = append(uid0, u.Name)
		}
	}
	if !reflect.DeepEqual(uid0, []string{"root"}) {
		t.Errorf("uid 0: %v", uid0)
	}
	r, _ := a.User("root")
	if r.Locked == nil || !*r.Locked || r.Group != "root" || r.Home != "/root" {
		t.Errorf("root: %+v", r)
	}
	if g, ok := a.Group("sudo"); !ok || g.GID != 27 {
		t.Errorf("sudo group: %+v %v", g, ok)
	}
}
