package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hostdrift/hostdrift/internal/parse/crontab"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// cronFlavour is a cron daemon the collector knows how to read: the unit
// and programs that say it is installed, and the folders it reads.
type cronFlavour struct {
	name string
	// unit is the systemd unit that starts it.
	unit string
	// programs are where its daemon is installed.
	programs []string
	// spool is its folder of user crontabs.
	spool string
	// tableName tells whether the daemon reads a file of the spool by its
	// name, and cronDName one of /etc/cron.d.
	tableName, cronDName func(string) bool
	// cronDSkipped and spoolSkipped say why a file of /etc/cron.d or of
	// the spool is never read for its name; foreignSpool why a file of
	// this daemon's spool is no job where the other daemon is installed.
	cronDSkipped, spoolSkipped, foreignSpool string
}

// The two cron daemons. Debian's cron is vixie cron as Debian patches it:
// it reads only run-parts names in /etc/cron.d, and user crontabs from
// /var/spool/cron/crontabs. cronie (RHEL, Fedora, SUSE) reads user
// crontabs from /var/spool/cron, and in both folders skips hidden files,
// names starting with # or ending with ~, and rpm's leftovers (.rpmsave,
// .rpmorig, .rpmnew), as its database.c not_a_crontab does.
var (
	debianCron = cronFlavour{
		name: snapshot.CronDebian, unit: "cron.service", programs: []string{"/usr/sbin/cron"},
		spool: debianSpool, tableName: debianTableName, cronDName: crontab.RunPartsName,
		cronDSkipped: "cron reads only files of /etc/cron.d named with letters, digits, _ and - (run-parts names); this one is never read",
		foreignSpool: "cronie reads user crontabs from /var/spool/cron only, never from /var/spool/cron/crontabs (Debian's spool): this file is no job here",
	}
	cronie = cronFlavour{
		name: snapshot.CronCronie, unit: "crond.service", programs: []string{"/usr/sbin/crond", "/sbin/crond"},
		spool: rhelSpool, tableName: cronieTableName, cronDName: cronieTableName,
		cronDSkipped: "cronie skips files of /etc/cron.d named with a leading # or a trailing ~, .rpmsave, .rpmorig or .rpmnew; this one is never read",
		spoolSkipped: "cronie skips spool files named with a leading # or a trailing ~, .rpmsave, .rpmorig or .rpmnew; this one is never read",
		foreignSpool: "Debian's cron reads user crontabs from /var/spool/cron/crontabs only, never from /var/spool/cron (cronie's spool): this file is no job here",
	}
	flavours = []cronFlavour{debianCron, cronie}
)

// debianTableName: Debian's cron reads a spool file unless it is hidden
// or crontab(1)'s temporary file.
func debianTableName(name string) bool {
	return !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "tmp.")
}

// cronieTableName is cronie's not_a_crontab, negated.
func cronieTableName(name string) bool {
	if name == "" || name[0] == '.' || name[0] == '#' || strings.HasSuffix(name, "~") {
		return false
	}
	for _, s := range []string{".rpmsave", ".rpmorig", ".rpmnew"} {
		if len(name) > len(s) && strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// findUnit finds a unit's file in systemd's folders, the first winning;
// masked reports a unit linked to /dev/null or empty, which never starts.
func findUnit(fsys rootFS, unit string) (p string, masked bool) {
	for _, dir := range unitDirs {
		q := path.Join(dir, unit)
		fi, err := fsys.stat(q)
		if err != nil {
			if t, lerr := fsys.Readlink(q); lerr == nil && t == "/dev/null" {
				return q, true
			}
			continue
		}
		if t, err := fsys.Readlink(q); err == nil && t == "/dev/null" || fi.Size() == 0 {
			return q, true
		}
		return q, false
	}
	return "", false
}

// detectCron decides which cron daemon is installed, from what is there,
// never from the distribution's name: first the systemd units that start
// one (crond.service for cronie, cron.service for Debian's cron; a masked
// unit does not count), and where neither unit is installed, the daemon's
// program (/usr/sbin/crond or /sbin/crond, /usr/sbin/cron). It returns
// the flavour, why, and the flavours whose layout is read: the one found,
// or both when both or neither are installed.
func detectCron(fsys rootFS) (name, why string, read []cronFlavour) {
	var byUnit, byProgram []cronFlavour
	var unitWhy, progWhy, masked []string
	for _, f := range flavours {
		if p, m := findUnit(fsys, f.unit); p != "" {
			if m {
				masked = append(masked, fmt.Sprintf("%s is masked (%s)", f.unit, p))
				continue
			}
			byUnit = append(byUnit, f)
			unitWhy = append(unitWhy, fmt.Sprintf("%s is installed (%s)", f.unit, p))
		}
		for _, p := range f.programs {
			if fi, err := fsys.stat(p); err == nil && executable(fi) {
				byProgram = append(byProgram, f)
				progWhy = append(progWhy, p+" is installed")
				break
			}
		}
	}
	found, whys := byUnit, unitWhy
	if len(found) == 0 {
		found, whys = byProgram, progWhy
	}
	whys = append(whys, masked...)
	switch len(found) {
	case 1:
		f := found[0]
		other := cronie
		if f.name == snapshot.CronCronie {
			other = debianCron
		}
		why = strings.Join(whys, "; ")
		switch {
		case len(masked) > 0:
		case len(byUnit) == 1:
			why += "; " + other.unit + " is not"
		default:
			why += "; neither " + f.unit + " nor " + other.unit + " is"
		}
		return f.name, why, found
	case 0:
		why = "no cron daemon is installed (no cron.service or crond.service unit, no /usr/sbin/cron or /usr/sbin/crond)"
		if len(masked) > 0 {
			why += "; " + strings.Join(masked, "; ")
		}
		return "", why + ": both Debian's and cronie's layouts are read", flavours
	default:
		return "", strings.Join(whys, "; ") + ": both Debian's cron and cronie are installed, and both layouts are read", flavours
	}
}

// crondSysconfig holds cronie's arguments (CRONDARGS), which
// crond.service passes it.
const crondSysconfig = "/etc/sysconfig/crond"

// syslogOutput marks the output cronie writes to syslog instead of
// mailing it: crond does so for every job when started with -s, and when
// /usr/sbin/sendmail is not executable at its start and no mailer was
// given with -m (cronie's cron.c, since 1.4.5: "Syslog will be used
// instead of sendmail."). Debian's cron throws such output away. Only the
// tables crond reads are marked here; run-parts scripts take their
// trigger's, and anacron mails its jobs' output itself.
func syslogOutput(fsys rootFS, cr *snapshot.Cron) {
	if cr.Flavour != snapshot.CronCronie {
		return
	}
	args, err := crondArgs(fsys)
	if err != nil {
		cr.Errors = append(cr.Errors, snapshot.FileError{Path: crondSysconfig, Error: err.Error()})
		return
	}
	_, mailer := args["-m"]
	_, toSyslog := args["-s"]
	sendmail := false
	if fi, err := fsys.stat("/usr/sbin/sendmail"); err == nil && executable(fi) {
		sendmail = true
	}
	switch {
	case toSyslog:
		cr.SyslogOutput = "crond runs with -s (" + crondSysconfig + "): it writes job output to syslog"
	case !sendmail && !mailer:
		cr.SyslogOutput = "cronie finds no /usr/sbin/sendmail and no mailer is set with -m: crond writes job output to syslog"
	default:
		return
	}
	for i := range cr.Jobs {
		if k := cr.Jobs[i].Kind; k == snapshot.CronSystem || k == snapshot.CronUser {
			cr.Jobs[i].Output.Syslog = true
		}
	}
}

// crondArgs reads the options of CRONDARGS in /etc/sysconfig/crond, each
// with its value ("-m" → "off"); none when the file is absent.
func crondArgs(fsys rootFS) (map[string]string, error) {
	out := map[string]string{}
	b, err := fsys.readFile(crondSysconfig)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := crontab.EnvLine(strings.TrimSpace(line))
		if !ok || name != "CRONDARGS" {
			continue
		}
		// getopt as crond reads it: -m and -x take a value.
		fields := strings.Fields(value)
		for i := 0; i < len(fields); i++ {
			f := fields[i]
			if len(f) < 2 || f[0] != '-' {
				continue
			}
			for k := 1; k < len(f); k++ {
				opt := "-" + string(f[k])
				if f[k] != 'm' && f[k] != 'x' {
					out[opt] = ""
					continue
				}
				val := f[k+1:]
				if val == "" && i+1 < len(fields) {
					i++
					val = fields[i]
				}
				out[opt] = val
				break
			}
		}
	}
	return out, nil
}
