# Scheduled jobs: cron and systemd timers fail silently. Cron mails a job's
# output (its only alarm) to a local user, and on a host without a mail
# transfer agent that mail is thrown away; a job whose script was moved
# fails at every run; a timer that was enabled but never started waits for
# a reboot. On a host without cron jobs or timer units these checks pass;
# where systemd is not the init system no timer fires, and the checks of
# their last run and trigger are skipped.

cron "programs-exist" {
  description = "Every cron job's program (and the script its interpreter reads) exists and is executable"
  severity    = "critical"
  require     = ["program"]
}

cron "output-not-lost" {
  description = "No cron job's output goes to mail on a host that has no mail transfer agent to deliver it"
  require     = ["output"]
}

cron "daemon-running" {
  description = "A cron daemon runs when there are cron jobs to run"
  severity    = "critical"
  require     = ["daemon"]
}

timer "programs-exist" {
  description = "Every systemd timer's service exists and its ExecStart= program is executable"
  severity    = "critical"
  require     = ["program"]
}

timer "last-run-succeeded" {
  description = "No systemd timer's service failed the last time it ran"
  require     = ["result"]
}

timer "fires-when-due" {
  description = "No enabled systemd timer has missed its first elapse without ever triggering"
  require     = ["triggered"]
}
