package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// Duration and count flags declare the values they accept where they are
// defined, and a value outside them is a usage error while the flags are
// parsed: one way for every such flag, before anything is read.

// durationValue is a duration flag with its accepted range: at least min,
// or exactly 0 when zero says what 0 means ("no limit").
type durationValue struct {
	p    *time.Duration
	min  time.Duration
	zero string
}

// durationFlag defines a duration flag that accepts 0 (meaning zero) when
// zero is not empty, and otherwise values of at least min.
func durationFlag(fs *flag.FlagSet, p *time.Duration, name string, def, min time.Duration, zero, usage string) {
	*p = def
	fs.Var(&durationValue{p: p, min: min, zero: zero}, name, usage)
}

func (v *durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) argName() string { return "DURATION" }

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if n, nerr := strconv.ParseFloat(s, 64); nerr == nil && n != 0 {
			return fmt.Errorf("add a unit: %ss (or ms, m, h)", s)
		}
		return fmt.Errorf("not a duration (30s, 2m, 1h30m); it must be %s", v.accepted())
	}
	if (d == 0 && v.zero != "") || d >= v.min && d > 0 {
		*v.p = d
		return nil
	}
	return fmt.Errorf("it must be %s", v.accepted())
}

// accepted renders the range: "0 (no limit) or more", "more than 0",
// "at least 1s".
func (v *durationValue) accepted() string {
	switch {
	case v.min > time.Nanosecond && v.zero != "":
		return fmt.Sprintf("0 (%s) or at least %s", v.zero, v.min)
	case v.min > time.Nanosecond:
		return "at least " + v.min.String()
	case v.zero != "":
		return fmt.Sprintf("0 (%s) or more", v.zero)
	}
	return "more than 0"
}

// countValue is an integer flag with its accepted range: at least min, or
// exactly 0 when zero says what 0 means ("keep all").
type countValue struct {
	p    *int
	min  int
	zero string
}

// countFlag defines an integer flag that accepts 0 (meaning zero) when zero
// is not empty, and otherwise values of at least min.
func countFlag(fs *flag.FlagSet, p *int, name string, def, min int, zero, usage string) {
	*p = def
	fs.Var(&countValue{p: p, min: min, zero: zero}, name, usage)
}

func (v *countValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *countValue) argName() string { return "N" }

func (v *countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a whole number; it must be %s", v.accepted())
	}
	if (n == 0 && v.zero != "") || n >= v.min && n > 0 {
		*v.p = n
		return nil
	}
	return fmt.Errorf("it must be %s", v.accepted())
}

func (v *countValue) accepted() string {
	switch {
	case v.zero != "" && v.min <= 1:
		return fmt.Sprintf("0 (%s) or more", v.zero)
	case v.zero != "":
		return fmt.Sprintf("0 (%s) or at least %d", v.zero, v.min)
	}
	return fmt.Sprintf("%d or more", max(v.min, 1))
}
