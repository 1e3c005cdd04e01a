package zoho

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func TestThrottledAndFailingCallsAreRetried(t *testing.T) {
	for _, f := range []zohosim.Fault{
		{Kind: "429", Count: 8},
		{Kind: "429", Count: 1, RetryAfter: time.Second},
		{Kind: "500", Count: 4},
	} {
		t.Run(f.Kind, func(t *testing.T) {
			h := newHarness(t, zohosim.Options{Contacts: 700, Seed: 2, BulkPageSize: 300})
			h.authorize(allScopes...)
			h.sim.SetFault(f)
			before := h.sim.Credits()
			out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
			if got, want := sorted(out.keys(contract.Upsert)), simIDs(h.sim, "Contacts"); !slices.Equal(got, want) {
				t.Errorf("read %d of %d records", len(got), len(want))
			}
			if spent := h.sim.Credits() - before; out.counts["api_credits"] != spent {
				t.Errorf("reported %d credits, the org charged %d", out.counts["api_credits"], spent)
			}
		})
	}
}

func TestEndlessThrottlingFailsClearly(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 10})
	h.authorize(allScopes...)
	h.sim.SetFault(zohosim.Fault{Kind: "429", Count: 1000})
	_, err := h.read(context.Background(), nil, contract.ReadStream{Name: "contacts", Generation: 1})
	if err == nil || !strings.Contains(err.Error(), "TOO_MANY_REQUESTS") ||
		!strings.Contains(err.Error(), "gave up after 10 attempts") {
		t.Fatalf("Read under a 429 storm: %v", err)
	}
	h.sim.SetFault(zohosim.Fault{Kind: "429", Count: 1, RetryAfter: time.Hour})
	_, err = h.read(context.Background(), nil, contract.ReadStream{Name: "contacts", Generation: 1})
	if err == nil || !strings.Contains(err.Error(), "asks to wait 1h0m0s") {
		t.Fatalf("Read told to wait an hour: %v", err)
	}
}

func TestSlowCallsTimeOutAndAreRetried(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 50})
	h.src.tune.callTimeout = 100 * time.Millisecond
	h.authorize(allScopes...)
	h.sim.SetFault(zohosim.Fault{Kind: "slow", Count: 2, Delay: 5 * time.Second})
	_, err := h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	if err != nil {
		t.Fatalf("Check with two slow calls: %v", err)
	}
}

// Access tokens revoked in the middle of a run: one refresh, and the run
// goes on, handing the host the new token.
func TestTokenRevokedMidRun(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 900, Seed: 4, BulkPageSize: 300})
	h.authorize(allScopes...)
	var before credentials
	_ = json.Unmarshal(h.creds, &before)
	out := &memOut{onCheckpoint: func(n int) {
		if n == 1 {
			h.sim.RevokeAccessTokens()
		}
	}}
	err := h.readInto(context.Background(), out, nil, contract.ReadStream{Name: "contacts", Generation: 1})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got, want := sorted(out.keys(contract.Upsert)), simIDs(h.sim, "Contacts"); !slices.Equal(got, want) {
		t.Errorf("read %d of %d records", len(got), len(want))
	}
	if len(out.creds) == 0 {
		t.Fatal("the new access token was not handed to the host")
	}
	var after credentials
	if err := json.Unmarshal(out.creds[len(out.creds)-1], &after); err != nil {
		t.Fatal(err)
	}
	if after.AccessToken == before.AccessToken || after.RefreshToken != before.RefreshToken || len(after.Mints) != 2 {
		t.Errorf("credentials after the refresh: new token %v, same refresh token %v, mints %d",
			after.AccessToken != before.AccessToken, after.RefreshToken == before.RefreshToken, len(after.Mints))
	}
	if n := h.sim.Calls()["oauth/token"]; n != 2 {
		t.Errorf("%d token requests, want the exchange and one refresh", n)
	}
}

// A fresh token that is rejected too ends the call with a clear error
// instead of refreshing in a loop.
func TestRejectedFreshTokenFails(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5})
	h.authorize(allScopes...)
	h.sim.SetFault(zohosim.Fault{Kind: "expire_tokens", Count: 2})
	_, err := h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	if err == nil || !strings.Contains(err.Error(), "INVALID_TOKEN") ||
		!strings.Contains(err.Error(), "freshly minted access token was rejected too") {
		t.Fatalf("Check with tokens expiring twice: %v", err)
	}
	if n := h.sim.Calls()["oauth/token"]; n != 2 {
		t.Errorf("%d token requests, want the exchange and one refresh", n)
	}
}

// With max_credits_per_run the run stops at a checkpoint before the next
// page would pass the limit; the next run goes on from there.
func TestCreditBudgetStopsAtACheckpoint(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 2500, Seed: 6, BulkPageSize: 1000})
	h.authorize(allScopes...)
	before := h.sim.Credits()
	first, err := h.read(context.Background(),
		map[string]any{"max_credits_per_run": 120}, contract.ReadStream{Name: "contacts", Generation: 1})
	if err != nil {
		t.Fatalf("Read with a budget: %v", err)
	}
	spent := h.sim.Credits() - before
	if spent > 120 || first.counts["api_credits"] != spent {
		t.Errorf("spent %d credits (reported %d) with a budget of 120", spent, first.counts["api_credits"])
	}
	if len(first.full) != 0 || len(first.checkpoints) != 2 || len(first.records) != 2000 {
		t.Fatalf("first run: %d completions, %d checkpoints, %d records",
			len(first.full), len(first.checkpoints), len(first.records))
	}
	if first.checkpoints[1].records != len(first.records) {
		t.Error("records were emitted after the last checkpoint")
	}
	second := h.mustRead(contract.ReadStream{Name: "contacts", State: first.lastState("contacts"), Generation: 2})
	if got, want := sorted(append(first.keys(contract.Upsert), second.keys(contract.Upsert)...)), simIDs(
		h.sim, "Contacts",
	); !slices.Equal(
		got,
		want,
	) {
		t.Errorf("two runs read %d records, the org has %d", len(got), len(want))
	}
	if len(second.full) != 1 || second.full[0].Generation != 1 {
		t.Errorf("completions %+v", second.full)
	}
}

func TestStartTimeLeavesOlderRecordsOut(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 400, Seed: 8})
	h.authorize(allScopes...)
	start := parseTime(mustRecord(t, h, 250)["Modified_Time"].(string))
	out, err := h.read(context.Background(),
		map[string]any{"start_time": start.Format(time.RFC3339)}, contract.ReadStream{Name: "contacts", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for id, r := range h.sim.Records("Contacts") {
		if !parseTime(r["Modified_Time"].(string)).Before(start) {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	if got := sorted(out.keys(contract.Upsert)); !slices.Equal(got, want) {
		t.Errorf("read %d records, %d were modified since start_time", len(got), len(want))
	}
}

// A download cut off half way is tried again.
func TestBrokenDownloadIsRetried(t *testing.T) {
	var broken atomic.Int32
	cut := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/result") || broken.Add(1) > 1 {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body[:len(body)/2])
			panic(http.ErrAbortHandler)
		})
	}
	h := newHarnessWith(t, zohosim.Options{Contacts: 300, Seed: 1}, cut)
	h.authorize(allScopes...)
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	if got, want := sorted(out.keys(contract.Upsert)), simIDs(h.sim, "Contacts"); !slices.Equal(got, want) {
		t.Errorf("read %d of %d records", len(got), len(want))
	}
	if n := h.sim.Calls()["bulk/result"]; n != 2 {
		t.Errorf("%d downloads, want the broken one and a retry", n)
	}
}

// The records API fallback reads field groups side by side, never more at
// once than the cap: an org allowing two concurrent calls sees no 429.
func TestConcurrencyIsCapped(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 450, Seed: 13, MaxConcurrent: 2})
	h.src.tune.concurrency = 2
	h.src.tune.maxColumns = 8
	h.src.tune.attempts = 1 // a 429 would fail the read
	h.authorize(slices.DeleteFunc(slices.Clone(allScopes), func(s string) bool { return s == "ZohoCRM.bulk.READ" })...)
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	if got, want := sorted(out.keys(contract.Upsert)), simIDs(h.sim, "Contacts"); !slices.Equal(got, want) {
		t.Errorf("read %d of %d records", len(got), len(want))
	}
	var st streamState
	_ = json.Unmarshal(out.checkpoints[0].state, &st)
	if groups := len(st.Full.Groups); groups < 4 || h.sim.Calls()["records"] != int64(3*groups) {
		t.Errorf("%d field groups, %d records calls for 3 pages", groups, h.sim.Calls()["records"])
	}
}

// Each retry of a throttled or failing call is a warning at the plugin's
// default level, with its attempt, the most allowed and the status.
func TestRetriesWarnWithAttemptAndStatus(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 20})
	warned := warnings(h.src)
	h.authorize(allScopes...)
	h.sim.SetFault(zohosim.Fault{Kind: "429", Count: 2})
	h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	h.sim.SetFault(zohosim.Fault{Kind: "500", Count: 1})
	h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	warnings := slices.DeleteFunc(warned(), func(line string) bool { return !strings.Contains(line, "retrying") })
	want := []string{
		"attempt=1 max_attempts=10 status=429", "attempt=2 max_attempts=10 status=429",
		"attempt=1 max_attempts=10 status=500",
	}
	if len(warnings) != len(want) {
		t.Fatalf("%d retry warnings, want %d:\n%s", len(warnings), len(want), strings.Join(warnings, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(warnings[i], w) {
			t.Errorf("warning %q lacks %q", warnings[i], w)
		}
	}
}

// A call that reaches Zoho at a host other than the data centre's API
// host (a wrong api_url, a proxy that rewrites the host) is 400
// INVALID_HOST; the error says where the calls must go.
func TestInvalidHostIsExplained(t *testing.T) {
	webHost := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/crm/") {
				r.Host = "crm.zoho.eu"
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarnessWith(t, zohosim.Options{Contacts: 10}, webHost)
	h.authorize(allScopes...)
	want := []string{"INVALID_HOST", "https://www.zohoapis.eu", "api_url"}
	_, err := h.read(context.Background(), nil, contract.ReadStream{Name: "contacts", Generation: 1})
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Read error %v lacks %q", err, w)
		}
	}
	_, err = h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Check error %v lacks %q", err, w)
		}
	}
}

// Zoho CRM's token validity page names INVALID_OAUTHTOKEN for an access
// token it invalidated (the oldest past a refresh token's live ones); the
// token is replaced as for INVALID_TOKEN.
func TestInvalidOAuthTokenIsReplaced(t *testing.T) {
	var rejected atomic.Bool
	rejectOnce := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/crm/") && rejected.CompareAndSwap(false, true) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write(
					[]byte(`{"code":"INVALID_OAUTHTOKEN","details":{},"message":"invalid oauth token","status":"error"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarnessWith(t, zohosim.Options{Contacts: 20}, rejectOnce)
	h.authorize(allScopes...)
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	if len(out.records) != 20 || !rejected.Load() {
		t.Errorf("%d records read, token rejected %v", len(out.records), rejected.Load())
	}
	if n := h.sim.Calls()["oauth/token"]; n != 2 {
		t.Errorf("%d token requests, want the exchange and one refresh", n)
	}
}
