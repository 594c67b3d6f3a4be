package passwd

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	users, errs := Parse(strings.NewReader("root:x:0:0:root:/root:/bin/bash\n# comment\n+nis\nbad:x:1\ntoor:x:0:0::/root:/bin/sh\nn:x:nan:0::/:/bin/sh\n"))
	if len(users) != 2 || users[0].Home != "/root" || users[1].Shell != "/bin/sh" {
		t.Errorf("users: %+v", users)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "/etc/passwd:4: 3 fields") || !strings.Contains(errs[1], "/etc/passwd:6") {
		t.Errorf("errors: %q", errs)
	}
	if names := Names(users); len(names) != 1 || names[0] != "root" {
		t.Errorf("the first account of a uid names it: %v", names)
	}
}
