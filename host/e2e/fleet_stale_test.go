//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

// stalePipelineConfig is pipeline crm, Zoho CRM contacts into ROGER365 on
// an hourly interval, in the database named by $FLEET_DATABASE_URL with a
// takeover bound of 2 s. ROGER365's key is read from keyVar, so that the
// simulator tells the hosts apart. Small batches, one at a time: the run
// is still writing when its first request is held.
func stalePipelineConfig(sim *zohosim.Server, zohoURL, rogerURL, keyVar string) string {
	return fmt.Sprintf(`state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
  takeover_after = "2s"
}

source "zoho" "crm" {
  domain        = %q
  client_id     = %q
  client_secret = env("ZOHO_CLIENT_SECRET")
  accounts_url  = "%s/accounts/{dc}"
  api_url       = %q
}

destination "roger365" "phonebook" {
  api_url       = %q
  api_key       = env(%q)
  replicator_id = %q
  batch_size    = 5
  concurrency   = 1
}

pipeline "crm" {
  source      = source.zoho.crm
  destination = destination.roger365.phonebook
  streams     = ["contacts"]
  interval    = "1h"
}
`, fleetKey, sim.DC(), sim.ClientID(), zohoURL, zohoURL, rogerURL, keyVar, crmReplicator)
}

// upsertGate stands in front of the ROGER365 simulator and holds the
// first upsert sent with one host's key, as a slow network or a busy
// server would, until released; the simulator then applies it as it
// would any request that reached it. It counts that host's upserts sent
// after it resumed.
type upsertGate struct {
	next    http.Handler
	key     string // the held host's bearer token
	held    chan ingest.UpsertRequest
	release chan struct{}
	answer  chan ingest.UpsertResponse

	mu      sync.Mutex
	first   bool // the held request arrived
	resumed bool // the held host was let go on
	later   int  // the held host's upserts since it resumed
}

func (g *upsertGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/contacts") ||
		r.Header.Get("Authorization") != "Bearer "+g.key {
		g.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	hold := !g.first
	g.first = true
	if g.resumed {
		g.later++
	}
	g.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !hold {
		g.next.ServeHTTP(w, r)
		return
	}
	var req ingest.UpsertRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.held <- req
	<-g.release
	// The sender may be gone by now; what reached the server is applied.
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	var resp ingest.UpsertResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	g.answer <- resp
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (g *upsertGate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.resumed = true
}

func (g *upsertGate) laterUpserts() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.later
}

// TestFleetPostgresFrozenHostLeavesTheNewestContact: host A copies Zoho
// CRM contacts into ROGER365 and is paused (SIGSTOP) while its first
// upsert is on its way, held before the simulator. A contact in that
// upsert then changes in Zoho; host B takes the pipeline over once A's
// claim is gone and writes the contact's new version. A resumes, and its
// request reaches ROGER365 after B's: ROGER365 answers the older version
// stale, and the phonebook keeps the newest. A, its claim lost, ends its
// plugins at once and sends nothing more.
func TestFleetPostgresFrozenHostLeavesTheNewestContact(t *testing.T) {
	const keyA, keyB = "e2e-roger365-key-a", "e2e-roger365-key-b"
	fleetDatabase(t)
	sim, err := zohosim.New(zohosim.Options{Contacts: 60, Accounts: 1})
	if err != nil {
		t.Fatal(err)
	}
	zs := httptest.NewServer(sim.Handler())
	t.Cleanup(zs.Close)
	roger, err := rogersim.New(rogersim.Options{
		Keys:        []string{keyA, keyB},
		Replicators: []rogersim.Replicator{{ID: crmReplicator, Name: "Zoho CRM", SourceType: "crm", Entity: "contacts"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	gate := &upsertGate{
		next: roger.Handler(), key: keyA,
		held: make(chan ingest.UpsertRequest, 1), release: make(chan struct{}), answer: make(chan ingest.UpsertResponse, 1),
	}
	rs := httptest.NewServer(gate)
	released := false
	t.Cleanup(func() {
		if !released {
			close(gate.release)
		}
		rs.Close()
		_ = roger.Close()
	})
	t.Setenv("ZOHO_CLIENT_SECRET", sim.ClientSecret())
	t.Setenv("ROGER_KEY_A", keyA)
	t.Setenv("ROGER_KEY_B", keyB)
	w := newWorkspace(t, stalePipelineConfig(sim, zs.URL, rs.URL, "ROGER_KEY_A"),
		"replicator-source-zoho", "replicator-destination-roger365")
	w.write("b.hcl", stalePipelineConfig(sim, zs.URL, rs.URL, "ROGER_KEY_B"))
	w.mustRun("init")
	authorize := w.command(t.Context(), "authorize", "zoho.crm")
	authorize.Stdin = strings.NewReader(sim.IssueGrantCode(zohoScopes...) + "\n")
	if out, err := authorize.CombinedOutput(); err != nil {
		t.Fatalf("authorize: %v\n%s", err, out)
	}

	// A's first upsert reaches the gate: A is mid-write. It is paused.
	a, aLog := w.startRun()
	defer func() { _ = a.Process.Signal(syscall.SIGCONT) }()
	var held ingest.UpsertRequest
	select {
	case held = <-gate.held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("host A sent no upsert within two minutes:\n%s", aLog.String())
	}
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, a.Process.Pid)
	if len(held.Contacts) == 0 {
		t.Fatal("the held upsert has no contacts")
	}
	old := held.Contacts[0]

	// The contact changes in Zoho after A read it.
	if err := sim.Update("Contacts", old.SourceID, map[string]any{"Last_Name": "Newest"}); err != nil {
		t.Fatal(err)
	}
	stored := func() ingest.Contact {
		for _, c := range roger.Contacts(crmReplicator) {
			if c.Contact.SourceID == old.SourceID {
				return c.Contact
			}
		}
		return ingest.Contact{}
	}

	// B takes the pipeline over once A's claim is gone, and writes the
	// new version.
	b, bLog := w.startRun("-config", "b.hcl")
	waitLog(t, bLog, "run finished: pipeline=crm", 1)
	newest := stored()
	if !strings.Contains(newest.DisplayName, "Newest") || newest.DisplayName == old.DisplayName {
		t.Fatalf("after B's run the phonebook holds %q for contact %s, want its new name (A read %q)",
			newest.DisplayName, old.SourceID, old.DisplayName)
	}

	// A resumes and finds its claim lost; its request, sent before the
	// pause, reaches ROGER365 after B's.
	gate.resume()
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitLog(t, aLog, "its claim was lost", 1)
	close(gate.release)
	released = true
	var answer ingest.UpsertResponse
	select {
	case answer = <-gate.answer:
	case <-time.After(time.Minute):
		t.Fatal("the held upsert was not answered within a minute")
	}
	if len(answer.Results) == 0 || answer.Results[0].SourceID != old.SourceID || answer.Results[0].Status != ingest.StatusStale {
		t.Errorf("ROGER365 answered A's older version of contact %s with %+v, want it stale", old.SourceID, answer.Results)
	}
	stop(t, a, aLog)
	stop(t, b, bLog)
	if got := stored(); got.DisplayName != newest.DisplayName || got.UpdatedAt != newest.UpdatedAt {
		t.Errorf("the phonebook holds %q (updated_at %s) for contact %s, want the newest version %q (%s)",
			got.DisplayName, got.UpdatedAt, old.SourceID, newest.DisplayName, newest.UpdatedAt)
	}
	if n := gate.laterUpserts(); n > 0 {
		t.Errorf("host A sent %d upserts after it resumed, having lost its claim:\n%s", n, aLog.String())
	}
}
