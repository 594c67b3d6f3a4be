docker_network "app" {
  name     = "appnet"
  driver   = "bridge"
  subnet   = "10.99.0.0/24"
  internal = false
}

published_port "web" {
  container = "web"
  port      = 8080
  address   = "127.0.0.1"
}

reach "host-to-web" {
  to       = "127.0.0.1:8080"
  protocol = "tcp"
  expect   = "allow"
}

reach "host-to-web-container" {
  container = "web"
  port      = 80
}

docker_firewall_bypass "bypass" {}
docker_subnet_overlap "overlap" {}
docker_stopped_ports "idle" {}
