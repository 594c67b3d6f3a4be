package mounts

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

const mountinfo = `22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro
25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4010000k,mode=755
40 22 0:35 / /srv/my\040data rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=1024k
41 40 0:36 / /srv/my\040data rw,relatime - tmpfs other rw
`

func TestParseMountinfo(t *testing.T) {
	got, err := ParseMountinfo(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.Mount{
		{MountPoint: "/", Source: "/dev/sda2", FSType: "ext4", Options: []string{"rw", "relatime"}, SuperOptions: []string{"rw", "errors=remount-ro"}},
		{MountPoint: "/dev", Source: "udev", FSType: "devtmpfs", Options: []string{"rw", "nosuid"}, SuperOptions: []string{"rw", "size=4010000k", "mode=755"}},
		// Mounted over: the top one counts.
		{MountPoint: "/srv/my data", Source: "other", FSType: "tmpfs", Options: []string{"rw", "relatime"}, SuperOptions: []string{"rw"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"1 2 3\n", "22 1 8:2 / / rw - ext4\n", "22 1 8:2 / / rw ext4 /dev/sda rw\n"} {
		if _, err := ParseMountinfo(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseFstab(t *testing.T) {
	got, err := ParseFstab(strings.NewReader(`# /etc/fstab
UUID=1234-abcd /               ext4    errors=remount-ro 0       1

/dev/sdb1      /srv/my\040data xfs     noexec,nodev      0 2
tmpfs          /tmp            tmpfs
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.FstabEntry{
		{Line: 2, Source: "UUID=1234-abcd", MountPoint: "/", FSType: "ext4", Options: []string{"errors=remount-ro"}},
		{Line: 4, Source: "/dev/sdb1", MountPoint: "/srv/my data", FSType: "xfs", Options: []string{"noexec", "nodev"}},
		{Line: 5, Source: "tmpfs", MountPoint: "/tmp", FSType: "tmpfs", Options: []string{"defaults"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := ParseFstab(strings.NewReader("\n/dev/sda1 /\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("short line: %v", err)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `\134`: `\`, `\04`: `\04`, `x\999`: `x\999`, `\011\012`: "\t\n"} {
		if got := unescape(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(mountinfo)
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := ParseMountinfo(strings.NewReader(in))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.MountPoint] || m.FSType == "" {
				t.Fatalf("%+v", ms)
			}
			seen[m.MountPoint] = true
		}
	})
}

func FuzzParseFstab(f *testing.F) {
	f.Add("UUID=1 / ext4 defaults 0 1\n# c\n/dev/sdb /x\\040y xfs noexec\n")
	f.Fuzz(func(t *testing.T, in string) {
		es, _ := ParseFstab(strings.NewReader(in))
		for _, e := range es {
			if e.Line < 1 || len(e.Options) == 0 || e.FSType == "" {
				t.Fatalf("%+v", e)
			}
		}
	})
}
