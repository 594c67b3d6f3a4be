package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// scope is the life of one big host: it gives the nstest and dockertest
// helpers the nstest.TB they want, and undoes what they made, last first,
// when closed. Their Fatal and Skip unwind to the nearest try.
type scope struct {
	mu       sync.Mutex
	cleanups []func()
	closed   bool
}

// stop is what Fatal and Skip panic with; try turns it back into an error.
type stop struct {
	skip bool
	msg  string
}

// errSkipped marks an error from a helper's Skip: what it needs is missing.
var errSkipped = errors.New("missing here")

func (s *scope) Helper() {}

func (s *scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *scope) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hostdrift-bench: "+format+"\n", args...)
}

func (s *scope) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hostdrift-bench: "+format+"\n", args...)
}

func (s *scope) Fatal(args ...any) { panic(stop{msg: fmt.Sprint(args...)}) }

func (s *scope) Fatalf(format string, args ...any) {
	panic(stop{msg: fmt.Sprintf(format, args...)})
}

func (s *scope) Skip(args ...any) { panic(stop{skip: true, msg: fmt.Sprint(args...)}) }

// TempDir makes a folder that the scope removes when it closes.
func (s *scope) TempDir() string {
	dir, err := os.MkdirTemp("", "hostdrift-bench-")
	if err != nil {
		s.Fatal(err)
	}
	s.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// try runs fn and returns the reason a helper called Fatal (or, wrapping
// errSkipped, Skip); other panics go on.
func (s *scope) try(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			st, ok := p.(stop)
			if !ok {
				panic(p)
			}
			if st.skip {
				err = fmt.Errorf("%w: %s", errSkipped, st.msg)
			} else {
				err = errors.New(st.msg)
			}
		}
	}()
	return fn()
}

// close runs the cleanups, last first; a failing one does not stop the
// others.
func (s *scope) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if p := recover(); p != nil {
					fmt.Fprintf(os.Stderr, "hostdrift-bench: teardown: %v\n", p)
				}
			}()
			cleanups[i]()
		}()
	}
}
