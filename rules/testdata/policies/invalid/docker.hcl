docker_network "a" {
  name   = "appnet"
  subnet = "10.99.0.0" # ERROR: is not a CIDR range
}
published_port "b" {
  container = "web"
  port      = 8080
  address   = "localhost" # ERROR: is not an IP address
}
reach "c" {
  to = "127.0.0.1" # ERROR: is not ADDR:PORT
}
reach "d" {
  to        = "127.0.0.1:80"
  container = "web" # ERROR: to or container, not both
}
reach "e" {
  to   = "127.0.0.1:80"
  port = 80 # ERROR: port goes into to
}
reach "f" { # ERROR: needs to = "ADDR:PORT", or container
}
