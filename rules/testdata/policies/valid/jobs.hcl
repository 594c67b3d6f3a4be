cron "batch" {
  command = "batch_process.py"
  user    = "root"
  max_age = "25h"
}

cron "programs" {
  regex   = "^/opt/"
  require = ["program", "output"]
}

timer "backup" {
  unit        = "backup.timer"
  max_age     = "26h"
  last_result = "success"
}

timer "all" {
  require = ["result", "triggered"]
}

file "weekly-report" {
  path    = "/var/reports/weekly.csv"
  max_age = "8d"
}
