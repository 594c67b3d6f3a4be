package main

// commandExamples are the examples each command's --help ends with, keyed
// by the flag set's name: real invocations, kept to the flags the commands
// have (TestHelp checks each example's flags against its command's).
var commandExamples = map[string][]string{
	"check": {
		"hostdrift check                                  # the built-in policy and /etc/hostdrift/policies",
		"hostdrift check --format table --format json:latest.json --format junit:report.xml --format html:report.html",
		"hostdrift check --only listener,tag:ssh --skip listener.smtp",
		"hostdrift check --retry-timeout 30s --sleep 1s   # after a restart: wait for the service to come up",
	},
	"serve": {
		"hostdrift serve                                  # 127.0.0.1:8731, the built-in policy and /etc/hostdrift/policies",
		"hostdrift serve --listen :8731 --web-config /etc/hostdrift/web.yml --log-format json",
		"hostdrift serve --policy site.hcl --report-dir /var/lib/hostdrift/reports --listeners-every 5s",
	},
	"snapshot": {
		"hostdrift snapshot --output before.json",
		"hostdrift snapshot --collectors host,listeners,firewall --output fw.json",
	},
	"diff": {
		"hostdrift diff before.json after.json",
		"hostdrift diff before.json after.json --format json --area listeners,firewall",
	},
	"explain": {
		"hostdrift explain out tcp 587 --to 192.0.2.25",
		"hostdrift explain in tcp 22 --from 203.0.113.7",
		"hostdrift explain fwd udp 53 --from 172.17.0.2 --to 192.0.2.53",
	},
	"policy validate": {
		"hostdrift policy validate                        # what check reads by default",
		"hostdrift policy validate site.hcl --var env=prod",
		"hostdrift policy validate /etc/hostdrift/policies --no-builtin",
	},
	"policy init": {
		"hostdrift policy init --output /etc/hostdrift/policies/host.hcl",
		"hostdrift policy init --area listeners,firewall",
	},
	"policy kinds": {
		"hostdrift policy kinds",
		"hostdrift policy kinds listener dns",
	},
	"version": {
		"hostdrift version",
	},
	"completion": {
		"hostdrift completion bash > /etc/bash_completion.d/hostdrift",
		"hostdrift completion zsh > \"${fpath[1]}/_hostdrift\"",
	},
}
