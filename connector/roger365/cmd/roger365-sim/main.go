// Command roger365-sim serves the simulated ROGER365 ingest API on loopback
// for demos and benchmarks. The first line on stdout is the URL it listens on:
//
//	roger365-sim listening on http://127.0.0.1:43123
//
// A lookup from a shell:
//
//	curl -s -H "Authorization: Bearer $KEY" "$URL/v1/lookup?number=%2B31201234567"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "roger365-sim:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		opts rogersim.Options
		addr = flag.String("addr", "127.0.0.1:0", "address to listen on")
		logs = flag.Bool("log", false, "log every API request to stderr (never the key)")
	)
	flag.StringVar(&opts.DataFile, "data", "", "JSON file keeping the phonebook between restarts (empty: memory only)")
	flag.DurationVar(&opts.PersistEvery, "persist-every", time.Second, "write the data file at most this often")
	flag.BoolVar(&opts.SyncWrites, "sync", false, "write the data file before answering each mutating request")
	flag.Func("key", "accept this API key (repeatable); ROGER365_SIM_KEY is used too", func(v string) error {
		if v == "" {
			return errors.New("the key is empty")
		}
		opts.Keys = append(opts.Keys, v)
		return nil
	})
	flag.Func("replicator", "configure a replicator as id[,name[,source_type[,entity]]] (repeatable)", func(v string) error {
		r, err := parseReplicator(v)
		if err != nil {
			return err
		}
		opts.Replicators = append(opts.Replicators, r)
		return nil
	})
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see -h", flag.Args())
	}
	if k := os.Getenv("ROGER365_SIM_KEY"); k != "" {
		opts.Keys = append(opts.Keys, k)
	}
	if len(opts.Keys) == 0 {
		return errors.New("no API key: give -key or set ROGER365_SIM_KEY")
	}
	opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "roger365-sim", Output: os.Stderr, Level: hclog.Info})
	opts.LogRequests = *logs

	sim, err := rogersim.New(opts)
	if err != nil {
		return err
	}
	if err := sim.Start(*addr); err != nil {
		sim.Close()
		return err
	}
	fmt.Printf("roger365-sim listening on %s\n", sim.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
	r := rogersim.Replicator{ID: strings.TrimSpace(parts[0]), Name: "Replicator " + strings.TrimSpace(parts[0]), SourceType: "crm", Entity: "contacts"}
	fields := []*string{&r.Name, &r.SourceType, &r.Entity}
	for i, p := range parts[1:] {
		if p = strings.TrimSpace(p); p != "" {
			*fields[i] = p
		}
	}
	return r, nil
}
