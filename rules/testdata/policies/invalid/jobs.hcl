cron "a" {
  max_age = "soon" # ERROR: Invalid duration for max_age
}
cron "b" {
  regex = "([" # ERROR: Invalid regex
}
cron "c" {
  require = ["program", "fresh"] # ERROR: "fresh" is not something a cron check can require
}
cron "d" {
  require = ["ran"] # ERROR: require = ["ran"] needs max_age
}
timer "e" {
  unit = "[" # ERROR: Invalid unit pattern
}
file "f" {
  path = "reports/weekly.csv" # ERROR: is not an absolute path
}
