package zoho

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// The host calls Discover, then Read, in one plugin process per run: the
// fields are read once, and the run's api_credits holds every credit the
// org charged, Discover's included.
func TestRunCreditsIncludeDiscover(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 300, Accounts: 40})
	h.authorize(allScopes...)
	before, fields := h.sim.Credits(), h.sim.Calls()["settings/fields"]
	h.catalog()
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1},
		contract.ReadStream{Name: "accounts", Generation: 1})
	if got, want := out.counts["api_credits"], h.sim.Credits()-before; got != want {
		t.Errorf("api_credits %d, the org charged %d", got, want)
	}
	if n := h.sim.Calls()["settings/fields"] - fields; n != 2 {
		t.Errorf("fields metadata read %d times for 2 streams", n)
	}

	// The next run finds the metadata in the credentials, after an hour
	// it reads it again; each counts only its own credits.
	for i, tc := range []struct {
		after  time.Duration
		fields int64
	}{{time.Minute, 2}, {time.Hour, 4}} {
		h.clock.Add(tc.after)
		before = h.sim.Credits()
		h.catalog()
		out = h.mustRead(contract.ReadStream{Name: "contacts", State: out.lastState("contacts"), Generation: uint64(2 + i)})
		if got, want := out.counts["api_credits"], h.sim.Credits()-before; got != want ||
			h.sim.Calls()["settings/fields"]-fields != tc.fields {
			t.Errorf("run %v later: api_credits %d, the org charged %d; fields read %d times in all, want %d",
				tc.after, got, want, h.sim.Calls()["settings/fields"]-fields, tc.fields)
		}
	}
}

// max_credits_per_run bounds Discover's credits too: with a budget that
// Discover uses up, Read stops before its first call.
func TestCreditBudgetCountsDiscover(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 50, Accounts: 5})
	h.authorize(allScopes...)
	h.cfg["max_credits_per_run"] = 2
	before := h.sim.Credits()
	h.catalog()
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	if spent := h.sim.Credits() - before; spent != 2 || out.counts["api_credits"] != 2 {
		t.Errorf("the org charged %d, api_credits %d; want 2 and 2 for Discover alone", spent, out.counts["api_credits"])
	}
	if len(out.records) != 0 {
		t.Errorf("%d records read past the budget", len(out.records))
	}
}

// closedOut is an Output whose calls fail once the host ended the read,
// as they do over the wire when the host cancels the stream.
type closedOut struct {
	*memOut
	ctx context.Context
}

func (o closedOut) Emit(ctx context.Context, r contract.Record) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	return o.memOut.Emit(ctx, r)
}

func (o closedOut) Checkpoint(ctx context.Context, stream string, state json.RawMessage) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	return o.memOut.Checkpoint(ctx, stream, state)
}

func (o closedOut) Count(ctx context.Context, name string, delta int64) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	return o.memOut.Count(ctx, name, delta)
}

// A run the host ends early, because its destination failed, still
// counts the credits spent before: they are reported before records go out.
func TestCreditsOfAFailedRunAreCounted(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 500, Accounts: 20, BulkPageSize: 200})
	h.authorize(allScopes...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mem := &memOut{onEmit: func(int) { cancel() }}
	before := h.sim.Credits()
	err := h.src.Read(
		ctx,
		contract.ReadRequest{
			Config:      h.config(nil),
			Credentials: h.creds,
			Streams:     []contract.ReadStream{{Name: "contacts", Generation: 1}},
		},
		closedOut{mem, ctx},
	)
	if err == nil {
		t.Fatal("a read ended by the host succeeded")
	}
	if got, want := mem.counts["api_credits"], h.sim.Credits()-before; got != want || got == 0 {
		t.Errorf("api_credits %d, the org charged %d", got, want)
	}
}

// Once half of the org's daily credits are spent, Zoho says in each answer
// how many are left. The run warns once with the figure, and stops at a
// checkpoint rather than ask for more than Zoho says is left, saying so;
// a day later the next run reads on from there.
func TestZohoCreditsLeftBoundTheRun(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 4000, Accounts: 5, DailyCredits: 20})
	warned := warnings(h.src)
	h.authorize(allScopes...) // reads the org: 1 credit
	before := h.sim.Credits()
	records := map[string]bool{}
	out, err := h.read(t.Context(),
		map[string]any{"full_sync_method": "records_api"}, contract.ReadStream{Name: "contacts", Generation: 1})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, r := range out.records {
		records[r.Key] = true
	}
	if spent := h.sim.Credits(); spent > 20 || out.counts["api_credits"] != spent-before {
		t.Errorf("the org charged %d credits of its 20 a day, %d before the run; api_credits %d",
			spent, before, out.counts["api_credits"])
	}
	if n := len(records); n == 0 || n == 4000 || out.lastState("contacts") == nil {
		t.Fatalf("%d records read and checkpoint %s, want a run stopped at a checkpoint", n, out.lastState("contacts"))
	}
	if warnings := warned(); len(warnings) != 2 ||
		!strings.Contains(
			warnings[0],
			"more than half of the org's daily Zoho API credits are spent",
		) || !strings.Contains(warnings[0], "zoho_credits_left=10") ||
		!strings.Contains(
			warnings[1],
			"stopping at the last checkpoint: the org's Zoho API credits for the day would run out",
		) || !strings.Contains(warnings[1], "zoho_credits_left=0") {
		t.Errorf("warnings:\n%s", strings.Join(warnings, "\n"))
	}

	// A day later the org's credits are back and the sync reads on.
	h.clock.Add(24 * time.Hour)
	h.src = newSource(h)
	state := out.lastState("contacts")
	out, err = h.read(t.Context(),
		map[string]any{"full_sync_method": "records_api"}, contract.ReadStream{Name: "contacts", Generation: 1, State: state})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.records {
		records[r.Key] = true
	}
	if len(records) != 4000 || len(out.full) != 1 {
		t.Errorf("%d records in all, %d full refreshes completed", len(records), len(out.full))
	}
}
