# Certificates: a certificate can run out while every port still answers.
# The built-in policy shakes hands once with each listener on a port that
# speaks TLS from the first byte (443, 465, 636, 853, 993, 995, 6443 and 8443
# unless tls_ports says otherwise); nothing else is connected to.
#
# It does not knock on every listener's door: a listener whose owner stopped
# calling accept is found without touching it, from the connections waiting
# in its queue (accepting "tcp-listeners" in listeners.hcl). A policy that
# wants a real connection to every listener names it:
#
#   listeners_respond "tcp" {
#     timeout = "3s"
#   }

listeners_tls "certificates" {
  description   = "Every TLS listener's certificate stays valid for at least 14 days"
  cert_min_days = 14
}
