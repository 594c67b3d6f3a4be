package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// logRun is one start of a cron job found in a log.
type logRun struct {
	at      time.Time
	user    string
	command string
	source  string
}

// syslogFiles are the syslog files that record cron's CMD lines (Debian's
// syslog, its first rotation, and RHEL's cron log).
var syslogFiles = []string{"/var/log/syslog.1", "/var/log/syslog", "/var/log/cron.log", "/var/log/cron"}

// journalctlPaths are where journalctl may be; it is run by absolute path.
var journalctlPaths = []string{"/usr/bin/journalctl", "/bin/journalctl"}

// journalWindow is how far back the journal is searched.
const journalWindow = "-35d"

// readJournal asks journalctl, read-only and with fixed arguments, for
// cron's messages of the last 35 days: on the live host the system journal,
// below another root its /var/log/journal. It returns nil without error
// when there is no journal to read.
func readJournal(ctx context.Context, fsys rootFS) ([]logRun, error) {
	var bin string
	for _, p := range journalctlPaths {
		if fi, err := os.Stat(p); err == nil && executable(fi) {
			bin = p
			break
		}
	}
	if bin == "" {
		return nil, nil
	}
	args := []string{"--no-pager", "--quiet", "--output=json", "--output-fields=MESSAGE", "--since=" + journalWindow}
	if !fsys.live() {
		// journalctl is handed the folder the root's links lead to.
		dir, err := fsys.Resolve("/var/log/journal")
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		args = append(args, "--directory="+dir)
	} else if !hasJournal(fsys) {
		return nil, nil
	}
	args = append(args, "SYSLOG_IDENTIFIER=CRON", "SYSLOG_IDENTIFIER=CROND", "SYSLOG_IDENTIFIER=crond")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"LC_ALL=C", "SYSTEMD_PAGER="}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	return parseJournalJSON(out), nil
}

// hasJournal reports whether the live host keeps a journal at all.
func hasJournal(fsys rootFS) bool {
	for _, d := range []string{"/run/log/journal", "/var/log/journal"} {
		if _, err := fsys.stat(d); err == nil {
			return true
		}
	}
	return false
}

// parseJournalJSON reads journalctl -o json lines.
func parseJournalJSON(b []byte) []logRun {
	var out []logRun
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e struct {
			Realtime string          `json:"__REALTIME_TIMESTAMP"`
			Message  json.RawMessage `json:"MESSAGE"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		var msg string
		if json.Unmarshal(e.Message, &msg) != nil {
			var raw []byte // non-UTF-8 messages are arrays of bytes
			if json.Unmarshal(e.Message, &raw) != nil {
				continue
			}
			msg = string(raw)
		}
		usec, err := strconv.ParseInt(e.Realtime, 10, 64)
		if err != nil {
			continue
		}
		if user, cmd, ok := cmdMessage(msg); ok {
			out = append(out, logRun{at: time.UnixMicro(usec), user: user, command: cmd, source: "journal"})
		}
	}
	return out
}

// cmdMessage reads cron's "(user) CMD (command)" message.
func cmdMessage(msg string) (string, string, bool) {
	msg = strings.TrimSpace(msg)
	if !strings.HasPrefix(msg, "(") {
		return "", "", false
	}
	user, rest, ok := strings.Cut(msg[1:], ") CMD (")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	return user, rest[:len(rest)-1], true
}

// parseSyslog reads "TIMESTAMP HOST CRON[PID]: (user) CMD (command)"
// lines, with RFC 3339 timestamps or the traditional "Nov 12 03:10:01"
// (whose year is the latest that does not put it in the future).
func parseSyslog(r io.Reader, now time.Time, loc *time.Location) []logRun {
	var out []logRun
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, " CRON[")
		if i < 0 {
			if i = strings.Index(line, " crond["); i < 0 {
				continue
			}
		}
		_, msg, ok := strings.Cut(line[i:], "]: ")
		if !ok {
			continue
		}
		user, cmd, ok := cmdMessage(msg)
		if !ok {
			continue
		}
		head := strings.Fields(line[:i])
		if len(head) < 2 {
			continue
		}
		var at time.Time
		var err error
		if len(head) >= 4 && len(head[0]) == 3 {
			at, err = time.ParseInLocation("Jan 2 15:04:05 2006", strings.Join(head[:3], " ")+" "+strconv.Itoa(now.Year()), loc)
			if err == nil && at.After(now.Add(24*time.Hour)) {
				at = at.AddDate(-1, 0, 0)
			}
		} else {
			at, err = time.Parse(time.RFC3339Nano, head[0])
		}
		if err != nil {
			continue
		}
		out = append(out, logRun{at: at, user: user, command: cmd, source: "syslog"})
	}
	return out
}
