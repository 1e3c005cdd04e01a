package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/internal/logbuf"
)

// One failed ping is no outage (a pooled connection the server ended, a
// process stopped mid-ping); two in a row are, warned of once however
// long it lasts, and its end once.
func TestStoreHealthWarnsOncePerOutage(t *testing.T) {
	var log logbuf.Buffer
	var answers []error // what the next pings say; nil once they run out
	s := &storeHealth{
		log: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Info}),
		ping: func(context.Context) error {
			if len(answers) == 0 {
				return nil
			}
			err := answers[0]
			answers = answers[1:]
			return err
		},
	}
	down := errors.New("connection refused")
	ctx := context.Background()

	answers = []error{down}
	if err := s.check(ctx); err != nil {
		t.Fatalf("one failed ping: %v, want no outage", err)
	}
	answers = []error{down, down, down, down, down, down}
	for range 3 {
		if err := s.check(ctx); err == nil || !strings.Contains(err.Error(), "does not answer since") {
			t.Fatalf("pings failing: %v, want the outage", err)
		}
	}
	if _, isDown := s.down(); !isDown {
		t.Fatal("the outage is not known")
	}
	if err := s.check(ctx); err != nil {
		t.Fatalf("the database answers again: %v", err)
	}
	for msg, want := range map[string]int{"does not answer": 1, "answers again": 1, "[WARN]": 2} {
		if n := strings.Count(log.String(), msg); n != want {
			t.Errorf("%q logged %d times, want %d:\n%s", msg, n, want, log.String())
		}
	}
}
