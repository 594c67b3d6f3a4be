# The built-in default policy: worth running on any host with no configuration.
# hostdrift uses it when no --policy is given and /etc/hostdrift/policies/ holds
# no *.hcl. Copy it there to adapt it.

# A listener whose owner stopped calling accept keeps its port open, so every
# "is it listening" check passes while clients hang: the accept queue is what
# shows it, full or holding a connection longer than stalled_after (10s).
accepting "tcp-listeners" {
  description = "Every TCP listener takes its connections (none has a full accept queue, none keeps one waiting over 10s)"
  severity    = "critical"
}

# Internal-only services: reachable from another machine, they are usually an
# accident (a bind to 0.0.0.0 that was meant to be 127.0.0.1). "public" means
# any address other than loopback. One check per service, named by its key:
# listener.not-public["redis"]. Waive one with a reason and an expiry (the
# quotes inside the name are escaped; listener.not-public[redis] reads too):
#
#   waiver "listener.not-public[\"redis\"]" {
#     reason  = "replica sync over the private network, OPS-142"
#     expires = "2026-12-31"
#   }
#
# A waiver or disable block for "listener.not-public" covers every service.

listener "not-public" {
  for_each = {
    redis                   = { service = "Redis", port = 6379 }
    postgresql              = { service = "PostgreSQL", port = 5432 }
    mysql                   = { service = "MySQL or MariaDB", port = 3306 }
    mongodb                 = { service = "MongoDB", port = 27017 }
    elasticsearch           = { service = "Elasticsearch (HTTP)", port = 9200 }
    elasticsearch-transport = { service = "Elasticsearch (transport)", port = 9300 }
    memcached               = { service = "memcached", port = 11211 }
    memcached-udp           = { service = "memcached over UDP (an amplification vector)", port = 11211, protocol = "udp" }
    rabbitmq                = { service = "RabbitMQ (AMQP)", port = 5672 }
    etcd                    = { service = "etcd", port = 2379 }
    zookeeper               = { service = "ZooKeeper", port = 2181 }
    kafka                   = { service = "Kafka", port = 9092 }
  }
  description = format("%s is an internal service and should not listen on a public address", each.value.service)
  port        = each.value.port
  protocol    = lookup(each.value, "protocol", "tcp")
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}
