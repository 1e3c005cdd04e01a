// Command zoho-sim serves a simulated Zoho CRM org on loopback for demos,
// benchmarks and manual tests. The first line on stdout is
// "zoho-sim listening on http://127.0.0.1:PORT"; point the Zoho source's
// accounts_url at http://127.0.0.1:PORT/accounts/{dc} and its api_url at
// http://127.0.0.1:PORT, and get a grant code with
//
//	curl -X POST http://127.0.0.1:PORT/admin/grant-codes -d '{"scopes":["ZohoCRM.modules.contacts.READ"]}'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "zoho-sim:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	dc := flag.String("dc", zohosim.DefaultDC, "data centre of the simulated org: us, eu, in, au, jp, cn, ca, sa or uk")
	clientID := flag.String("client-id", zohosim.DefaultClientID, "client id the accounts server accepts")
	clientSecret := flag.String("client-secret", zohosim.DefaultClientSecret, "client secret the accounts server accepts")
	contacts := flag.Int("contacts", 1000, "number of generated contacts")
	accounts := flag.Int("accounts", 200, "number of generated accounts")
	seed := flag.Int64("seed", 1, "seed of the generated data")
	bulkStep := flag.Duration("bulk-step", zohosim.DefaultBulkStepDelay, "time a Bulk Read job spends in each state before COMPLETED")
	bulkPage := flag.Int("bulk-page-size", zohosim.DefaultBulkPageSize, "rows per Bulk Read job")
	maxConcurrent := flag.Int("max-concurrent", zohosim.DefaultMaxConcurrent, "concurrent API calls before 429 (negative: no limit)")
	verbose := flag.Bool("v", false, "log every request (method, path, status, duration) to stderr")
	flag.Parse()

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
	if *verbose {
		opts.Logger = log.New(os.Stderr, "zoho-sim: ", log.LstdFlags|log.Lmicroseconds)
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
	fmt.Printf("zoho-sim listening on %s\n", base)
	fmt.Printf("accounts_url %s/accounts/{dc}  api_url %s  dc %s  client_id %s\n", base, base, sim.DC(), sim.ClientID())
	fmt.Printf("%d contacts, %d accounts, org %s\n", *contacts, *accounts, sim.OrgDomainName())

	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
