package redact

import (
	"slices"
	"testing"
)

func TestCmdline(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Flags with the value attached or in the next word.
		{"long flag equals", "app --password=hunter2 --port 80", "app --password=REDACTED --port 80"},
		{"long flag next word", "app --password hunter2 --port 80", "app --password REDACTED --port 80"},
		{"single dash go flag", "app -token abc123", "app -token REDACTED"},
		{"compound name", "app --db-password=x --auth-token y", "app --db-password=REDACTED --auth-token REDACTED"},
		{"underscore name", "app --client_secret=s3", "app --client_secret=REDACTED"},
		{"api key forms", "a --api-key=k1 --apikey k2 --API_KEY=k3", "a --api-key=REDACTED --apikey REDACTED --API_KEY=REDACTED"},
		{"access and private key", "a --access-key AK --private-key=PK", "a --access-key REDACTED --private-key=REDACTED"},
		{"credentials", "a --credentials=c --credential c2", "a --credentials=REDACTED --credential REDACTED"},
		{"passwd and pass", "a --passwd p --pass q", "a --passwd REDACTED --pass REDACTED"},
		{"auth", "a --auth user:pw", "a --auth REDACTED"},
		{"camel case", "a --dbPassword=x -clientSecret y", "a --dbPassword=REDACTED -clientSecret REDACTED"},
		{"quoted value keeps rest", `a --password='se cret' --x 1`, "a --password=REDACTED --x 1"},
		{"quoted next word", `a --password "se cret" b`, "a --password REDACTED b"},
		{"value ends a shell command", "a --password s3; b --x", "a --password REDACTED; b --x"},
		// Flags with no value here.
		{"flag then flag", "mysql --password --host db", "mysql --password --host db"},
		{"flag at end", "mysql --password", "mysql --password"},
		{"empty value", "app --password= x", "app --password= x"},
		{"then separator", "app --token && next", "app --token && next"},
		// No false positives.
		{"keyboard", "setxkbmap --keyboard us --keymap fr", "setxkbmap --keyboard us --keymap fr"},
		{"passthrough", "qemu -device vfio-pci,passthrough=on --passthrough all", "qemu -device vfio-pci,passthrough=on --passthrough all"},
		{"author", "git --author bob AUTHOR=bob", "git --author bob AUTHOR=bob"},
		{"password file", "app --password-file /run/secrets/db --token-path=/x", "app --password-file /run/secrets/db --token-path=/x"},
		{"ssl key path", "nginx --ssl-key /etc/ssl/private/k.pem --key=./k.pem", "nginx --ssl-key /etc/ssl/private/k.pem --key=./k.pem"},
		{"key that is not a path", "app --key abcd", "app --key REDACTED"},
		{"boolean no-auth", "app --no-auth serve", "app --no-auth serve"},
		{"password stdin", "docker login --password-stdin registry.example", "docker login --password-stdin registry.example"},
		{"port short flag", "ssh -p 2222 host; redis-server -p 6379", "ssh -p 2222 host; redis-server -p 6379"},
		{"tokenizer env", "TOKENIZERS_PARALLELISM=false python x.py", "TOKENIZERS_PARALLELISM=false python x.py"},
		{"ssh auth sock", "SSH_AUTH_SOCK=/run/agent.sock ssh x", "SSH_AUTH_SOCK=/run/agent.sock ssh x"},
		{"pwd", "PWD=/root OLDPWD=/ ls", "PWD=/root OLDPWD=/ ls"},
		{"access key id", "AWS_ACCESS_KEY_ID=AKIA123 aws s3 ls", "AWS_ACCESS_KEY_ID=AKIA123 aws s3 ls"},
		{"plain url", "curl http://host:8080/path?x=a@b", "curl http://host:8080/path?x=a@b"},
		{"ssh url user only", "git clone ssh://git@host/repo", "git clone ssh://git@host/repo"},
		// Environment assignments.
		{"env assignments", "DB_PASSWORD=pw AWS_SECRET_ACCESS_KEY=sk GITHUB_TOKEN=t app", "DB_PASSWORD=REDACTED AWS_SECRET_ACCESS_KEY=REDACTED GITHUB_TOKEN=REDACTED app"},
		{"env rails", "SECRET_KEY_BASE=abc MYSQL_PWD=x API_KEY=y", "SECRET_KEY_BASE=REDACTED MYSQL_PWD=REDACTED API_KEY=REDACTED"},
		{"env through env", "/usr/bin/env REDIS_PASS=x redis-server", "/usr/bin/env REDIS_PASS=REDACTED redis-server"},
		{"java property", "java -Djavax.net.ssl.keyStorePassword=changeit -Dfile.encoding=UTF-8 -jar a.jar", "java -Djavax.net.ssl.keyStorePassword=REDACTED -Dfile.encoding=UTF-8 -jar a.jar"},
		// URL credentials.
		{"url creds", "app --db postgres://app:s3cr3t@db:5432/app", "app --db postgres://app:REDACTED@db:5432/app"},
		{"url creds in env", "DATABASE_URL=mysql://root:pw@localhost/x app", "DATABASE_URL=mysql://root:REDACTED@localhost/x app"},
		{"url creds no user", "redis-cli -u redis://:pw@127.0.0.1:6379", "redis-cli -u redis://:REDACTED@127.0.0.1:6379"},
		{"url password with at", "app amqp://u:p@ss@mq/vhost", "app amqp://u:REDACTED@mq/vhost"},
		{"url query token", "curl https://h/api?user=bob&access_token=abc&x=1", "curl https://h/api?user=bob&access_token=REDACTED&x=1"},
		// Program-specific short flags.
		{"mysql attached -p", "/usr/bin/mysqldump -uroot -pS3cret db > /tmp/x", "/usr/bin/mysqldump -uroot -pREDACTED db > /tmp/x"},
		{"mysql after cd", "cd /x && mysql -pS3 db; ssh -p22 h", "cd /x && mysql -pREDACTED db; ssh -p22 h"},
		{"redis-cli -a", "redis-cli -h r -a s3cret ping", "redis-cli -h r -a REDACTED ping"},
		{"sshpass", "sshpass -p pw ssh host", "sshpass -p REDACTED ssh host"},
		{"curl user", "curl -u admin:pw https://x --user=a:b", "curl -u admin:REDACTED https://x --user=a:REDACTED"},
		{"docker user uid", "docker run --user 1000:1000 img", "docker run --user 1000:1000 img"},
		{"sh -c quoted", `/bin/sh -c 'mysqldump -pS3 db | gzip' --token x`, `/bin/sh -c 'mysqldump -pREDACTED db | gzip' --token REDACTED`},
		{"quoted harmless", `echo "a b" 'c d'`, `echo "a b" 'c d'`},
		// Headers.
		{"auth header", `curl -H "Authorization: Bearer abc.def" https://x`, `curl -H "Authorization: Bearer REDACTED" https://x`},
		{"api key header", `curl -H 'X-Api-Key: k' https://x`, `curl -H 'X-Api-Key: REDACTED' https://x`},
		// Layout kept.
		{"blanks kept", "  app\t--token  t  ", "  app\t--token  REDACTED  "},
		{"empty", "", ""},
		{"already redacted", "app --password=REDACTED", "app --password=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cmdline(tt.in); got != tt.want {
				t.Errorf("Cmdline(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name     string
		in, want []string
	}{
		{"value with blanks is one word", []string{"app", "--password", "a b c", "x"}, []string{"app", "--password", "REDACTED", "x"}},
		{"quotes are literal", []string{"app", `--token='x`}, []string{"app", "--token=REDACTED"}},
		{"sh -c argument", []string{"sh", "-c", "mysql -pX db && curl -u a:b x"}, []string{"sh", "-c", "mysql -pREDACTED db && curl -u a:REDACTED x"}},
		{"env", []string{"env", "DB_PASSWORD=x", "app"}, []string{"env", "DB_PASSWORD=REDACTED", "app"}},
		{"header", []string{"curl", "-H", "Authorization: Basic Zm9v"}, []string{"curl", "-H", "Authorization: Basic REDACTED"}},
		{"nothing", []string{"nginx", "-g", "daemon off;"}, []string{"nginx", "-g", "daemon off;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := Args(in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Args modified its input: %q", in)
			}
		})
	}
}
