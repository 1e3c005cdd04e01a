// Command zoho-sim serves a simulated Zoho CRM org on loopback for demos,
// benchmarks and manual tests. The first line on stdout is
// "zoho-sim listening on http://127.0.0.1:PORT"; point the Zoho source's
// accounts_url at http://127.0.0.1:PORT/accounts/{dc} and its api_url at
// http://127.0.0.1:PORT, and get a grant code with
//
//	curl -X POST http://127.0.0.1:PORT/admin/grant-codes -d '{"scopes":["ZohoCRM.modules.contacts.READ"]}'
//
// The admin API (records, faults, credits) is described in the zohosim
// package documentation.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zoho-sim:", err)
		stop()
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zoho-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	dc := fs.String("dc", zohosim.DefaultDC, "data centre of the simulated org: us, eu, in, au, jp, cn, ca, sa or uk")
	clientID := fs.String("client-id", zohosim.DefaultClientID, "client id the accounts server accepts")
	clientSecret := fs.String("client-secret", zohosim.DefaultClientSecret, "client secret the accounts server accepts")
	contacts := fs.Int("contacts", 1000, "number of generated contacts")
	accounts := fs.Int("accounts", 200, "number of generated accounts")
	seed := fs.Int64("seed", 1, "seed of the generated data")
	bulkStep := fs.Duration("bulk-step",
		zohosim.DefaultBulkStepDelay, "time a Bulk Read job spends in each state before COMPLETED (negative: none)")
	bulkPage := fs.Int("bulk-page-size", zohosim.DefaultBulkPageSize, "rows per Bulk Read job")
	maxConcurrent := fs.Int("max-concurrent",
		zohosim.DefaultMaxConcurrent, "concurrent API calls before 429 (negative: no limit)")
	clockOffset := fs.Duration("clock-offset",
		0,
		"shift the org's clock from this machine's; -58s makes changes look a minute old at once, past a source's "+
			"one-minute lag")
	apiHosts := fs.String("api-hosts",
		"",
		"comma-separated host names the CRM API answers at besides loopback and the data centre's zohoapis hosts (others "+
			"get INVALID_HOST), for serving it on another address")
	verbose := fs.Bool("v", false, "log every request (method, path, status, duration) to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag, see -h", fs.Args())
	}

	opts := zohosim.Options{
		DC:            *dc,
		ClientID:      *clientID,
		ClientSecret:  *clientSecret,
		Contacts:      *contacts,
		Accounts:      *accounts,
		Seed:          *seed,
		BulkStepDelay: *bulkStep,
		BulkPageSize:  *bulkPage,
		MaxConcurrent: *maxConcurrent,
	}
	for h := range strings.SplitSeq(*apiHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opts.APIHosts = append(opts.APIHosts, h)
		}
	}
	if *clockOffset != 0 {
		offset := *clockOffset
		opts.Now = func() time.Time { return time.Now().Add(offset) }
	}
	if *verbose {
		opts.Logger = log.New(stderr, "zoho-sim: ", log.LstdFlags|log.Lmicroseconds)
	}
	sim, err := zohosim.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "zoho-sim listening on %s\n", base)
	fmt.Fprintf(stdout, "accounts_url %s/accounts/{dc}  api_url %s  dc %s  client_id %s\n", base, base, sim.DC(),
		sim.ClientID())
	fmt.Fprintf(stdout, "%d contacts, %d accounts, org %s\n", *contacts, *accounts, sim.OrgDomainName())

	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
