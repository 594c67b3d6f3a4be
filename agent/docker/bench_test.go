package docker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

const (
	benchNetworks   = 100
	benchContainers = 200
	benchRunning    = 10
)

// BenchmarkCollect measures a collection of 100 networks and 200 containers
// (10 running, the others created, which costs one inspect each) against
// what the docker CLI needs to show the same: docker network inspect of
// every network plus docker inspect of every container.
func BenchmarkCollect(b *testing.B) {
	e := dockertest.Start(b)
	img := e.Busybox(b)
	var nets, ctrs []string
	for i := range benchNetworks {
		nets = append(nets, fmt.Sprintf("hdb-net%03d", i))
	}
	parallel(b, e, nets, func(i int, name string) []string {
		return []string{"network", "create", "--label", dockertest.Label, "--subnet", fmt.Sprintf("10.200.%d.0/24", i), name}
	})
	for i := range benchContainers {
		ctrs = append(ctrs, fmt.Sprintf("hdb-c%03d", i))
	}
	parallel(b, e, ctrs, func(i int, name string) []string {
		verb := []string{"create"}
		if i < benchRunning {
			verb = []string{"run", "-d"}
		}
		args := append(verb, "--name", name, "--label", dockertest.Label, "--network", nets[i%benchNetworks])
		if i%4 == 0 {
			args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:80", 20000+i))
		}
		return append(args, img, "sleep", "3600")
	})

	collect := func() *snapshot.Docker {
		sec, err := (&Collector{Host: e.Host}).Collect(context.Background(), &agent.Env{})
		if err != nil {
			b.Fatalf("collect: %v", err)
		}
		return sec.(*snapshot.Docker)
	}
	d := collect()
	if len(d.Networks) < benchNetworks || len(d.Containers) != benchContainers {
		b.Fatalf("collected %d networks and %d containers, want %d+ and %d", len(d.Networks), len(d.Containers), benchNetworks, benchContainers)
	}
	b.ResetTimer()
	var ours, cli time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		collect()
		ours += time.Since(t0)
		t1 := time.Now()
		e.Docker(b, append([]string{"network", "inspect"}, nets...)...)
		e.Docker(b, append([]string{"inspect"}, ctrs...)...)
		cli += time.Since(t1)
	}
	b.ReportMetric(float64(ours)/float64(b.N)/1e6, "hostdrift-ms/op")
	b.ReportMetric(float64(cli)/float64(b.N)/1e6, "docker-cli-ms/op")
	b.ReportMetric(float64(ours)/float64(cli), "hostdrift/docker-cli")
	if per := ours / time.Duration(b.N); per > time.Second {
		b.Errorf("one collection took %s; the issue asks for under 1 s", per)
	}
}

// parallel runs one docker command per name, four at a time.
func parallel(b *testing.B, e *dockertest.Engine, names []string, args func(i int, name string) []string) {
	b.Helper()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a := args(i, n)
			if out, err := e.Command(a...).CombinedOutput(); err != nil {
				b.Errorf("docker %v: %v: %s", a, err, out)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}
