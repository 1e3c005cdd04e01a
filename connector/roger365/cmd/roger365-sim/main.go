// Command roger365-sim serves the simulated ROGER365 ingest API on loopback
// for demos and benchmarks. The first line on stdout is the URL it listens on:
//
//	roger365-sim listening on http://127.0.0.1:43123
//
// Flags: -addr (default 127.0.0.1:0), -key (repeatable, or ROGER365_SIM_KEY),
// -replicator id[,name[,source_type[,entity]]] (repeatable), -data file,
// -persist-every, -sync and -log. SIGINT or SIGTERM writes the data file and
// exits. A lookup from a shell:
//
//	curl -s -H "Authorization: Bearer $KEY" "$URL/v1/lookup?number=%2B31201234567"
//
// Faults and counters are under /admin/ (see package rogersim).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "roger365-sim:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, printing the listening line to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roger365-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts rogersim.Options
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	logs := fs.Bool("log", false, "log every API request to stderr (never the key)")
	fs.StringVar(&opts.DataFile, "data", "", "JSON file keeping the phonebook between restarts (empty: memory only)")
	fs.DurationVar(&opts.PersistEvery, "persist-every", time.Second, "write the data file at most this often")
	fs.BoolVar(&opts.SyncWrites, "sync", false, "write the data file before answering each mutating request")
	fs.Func("key", "accept this API key (repeatable); ROGER365_SIM_KEY is used too", func(v string) error {
		if v == "" {
			return errors.New("the key is empty")
		}
		opts.Keys = append(opts.Keys, v)
		return nil
	})
	fs.Func("replicator", "configure a replicator as id[,name[,source_type[,entity]]] (repeatable)", func(v string) error {
		r, err := parseReplicator(v)
		if err != nil {
			return err
		}
		opts.Replicators = append(opts.Replicators, r)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see -h", fs.Args())
	}
	if k := os.Getenv("ROGER365_SIM_KEY"); k != "" {
		opts.Keys = append(opts.Keys, k)
	}
	if len(opts.Keys) == 0 {
		return errors.New("no API key: give -key or set ROGER365_SIM_KEY")
	}
	opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "roger365-sim", Output: stderr, Level: hclog.Info})
	opts.LogRequests = *logs

	sim, err := rogersim.New(opts)
	if err != nil {
		return err
	}
	if err := sim.Start(*addr); err != nil {
		sim.Close()
		return err
	}
	fmt.Fprintf(stdout, "roger365-sim listening on %s\n", sim.URL())
	<-ctx.Done()
	if err := sim.Close(); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

func parseReplicator(v string) (rogersim.Replicator, error) {
	parts := strings.Split(v, ",")
	if len(parts) > 4 || strings.TrimSpace(parts[0]) == "" {
		return rogersim.Replicator{}, fmt.Errorf("replicator %q: want id[,name[,source_type[,entity]]]", v)
	}
	r := rogersim.Replicator{
		ID:         strings.TrimSpace(parts[0]),
		Name:       "Replicator " + strings.TrimSpace(parts[0]),
		SourceType: "crm",
		Entity:     "contacts",
	}
	fields := []*string{&r.Name, &r.SourceType, &r.Entity}
	for i, p := range parts[1:] {
		if p = strings.TrimSpace(p); p != "" {
			*fields[i] = p
		}
	}
	return r, nil
}
