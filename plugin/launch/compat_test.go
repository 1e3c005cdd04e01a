package launch

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// collect is an Output that keeps what a source sends.
type collect struct {
	records     []contract.Record
	checkpoints []string
	completes   []uint64
}

func (c *collect) Emit(_ context.Context, r contract.Record) error {
	c.records = append(c.records, r)
	return nil
}

func (c *collect) Checkpoint(_ context.Context, _ string, s json.RawMessage) error {
	c.checkpoints = append(c.checkpoints, string(s))
	return nil
}

func (c *collect) FullRefreshComplete(_ context.Context, _ string, g uint64) error {
	c.completes = append(c.completes, g)
	return nil
}

func (c *collect) UpdateCredentials(context.Context, contract.Credentials) error { return nil }
func (c *collect) Count(context.Context, string, int64) error                    { return nil }

// TestSourceWrittenForSDK1 runs a connector written as SDK 1.0 documented
// it (testdata/v1source) against today's host side: growing the SDK must
// not break it.
func TestSourceWrittenForSDK1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicator-source-v1source")
	if out, err := exec.Command("go", "build", "-o", path, "./testdata/v1source").CombinedOutput(); err != nil {
		t.Fatalf("a connector written for SDK 1.0 no longer compiles: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Path: path, Kind: KindSource})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, err := c.Source()
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := src.Spec(ctx); err != nil || spec.Name != "v1source" || len(spec.Connect) != 0 ||
		spec.ChangeSignals != nil {
		t.Fatalf("spec %+v, %v", spec, err)
	}
	// The calls of SDK 1.2 are not offered, and say so.
	if _, err := src.(contract.WebAuthorizer).AuthorizeURL(ctx, contract.AuthorizeURLRequest{State: "s"}); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("AuthorizeURL = %v, want ErrUnsupported", err)
	}
	if _, err := src.(contract.Revoker).Revoke(ctx, contract.RevokeRequest{}); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("Revoke = %v, want ErrUnsupported", err)
	}
	web := contract.AuthorizeRequest{Connect: contract.ConnectWeb, Params: map[string]string{"code": "c"}}
	if _, err := src.Authorize(ctx, web); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("Authorize = %v, want ErrUnsupported", err)
	}
	if resp, err := src.Check(ctx, contract.CheckRequest{Client: &contract.OAuthClient{ID: "app"}}); err != nil ||
		resp.Message != "ok" {
		t.Errorf("Check with a client = %+v, %v", resp, err)
	}
	// It cannot watch: the host's client says so as for any optional
	// method, and the host polls.
	w, ok := src.(contract.Watcher)
	if !ok {
		t.Fatal("the host's client of a source does not implement contract.Watcher")
	}
	if _, err := w.Watch(ctx, contract.WatchRequest{}); !errors.Is(err, contract.ErrUnsupported) {
		t.Errorf("Watch of a source built for SDK 1.0: %v, want ErrUnsupported", err)
	}
	if _, err := w.Unwatch(ctx, contract.UnwatchRequest{}); !errors.Is(err, contract.ErrUnsupported) {
		t.Errorf("Unwatch of a source built for SDK 1.0: %v, want ErrUnsupported", err)
	}
	var out collect
	err = src.Read(ctx, contract.ReadRequest{Streams: []contract.ReadStream{{Name: "items", Generation: 7}}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.records) != 3 || len(out.checkpoints) != 1 || len(out.completes) != 1 || out.completes[0] != 7 {
		t.Errorf("read %d records, checkpoints %q, completes %v", len(out.records), out.checkpoints, out.completes)
	}
}
