package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/notify"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// eagerService is a source whose service calls a channel back the moment
// it subscribes it, as Zoho may; refuse makes it refuse to subscribe,
// after that first callback.
type eagerService struct {
	contract.UnimplementedSource
	refuse   bool
	answered []int // the status of each callback
}

func (s *eagerService) Watch(ctx context.Context, req contract.WatchRequest) (contract.WatchResponse, error) {
	var resp contract.WatchResponse
	for _, ch := range req.Channels {
		body := strings.NewReader(`{"token":"` + ch.Secret + `"}`)
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.URL, body)
		if err != nil {
			return resp, err
		}
		answer, err := http.DefaultClient.Do(r)
		if err != nil {
			return resp, err
		}
		answer.Body.Close()
		s.answered = append(s.answered, answer.StatusCode)
		resp.Channels = append(resp.Channels,
			contract.Watched{ID: ch.ID, Streams: req.Streams, Expires: time.Now().Add(time.Hour)})
	}
	if s.refuse {
		return contract.WatchResponse{}, errors.New("the service refuses the channel")
	}
	return resp, nil
}

func (s *eagerService) Unwatch(context.Context, contract.UnwatchRequest) (contract.UnwatchResponse, error) {
	return contract.UnwatchResponse{}, nil
}

// A channel is known, on this host and in the store other hosts read,
// before the service is asked to subscribe it: a callback that comes at
// once is verified and wakes the pipeline. One the service refuses is
// forgotten.
func TestANewChannelIsKnownBeforeTheServiceSubscribesIt(t *testing.T) {
	store, err := state.OpenFile(filepath.Join(t.TempDir(), "state.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	channels := &notify.Channels{Load: store.Channels}
	woken := make(chan string, 10)
	e := &notify.Endpoint{
		Channels: channels,
		Signal:   func(_ context.Context, ch state.Channel, _ time.Time) { woken <- ch.Pipeline },
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go e.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle(notify.PathPrefix+"{key}", e)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	w := &notify.Watching{Channels: channels}
	want := notify.Want{
		Pipeline: "tenant", SourceRef: "source.zoho.tenant", Streams: []string{"contacts"},
		Signals: &contract.ChangeSignals{SecretField: "token"}, PublicURL: srv.URL,
	}
	src := &eagerService{}
	if err := w.Sync(ctx, src, store, state.NoFence, want); err != nil {
		t.Fatal(err)
	}
	if len(src.answered) != 1 || src.answered[0] != http.StatusNoContent {
		t.Fatalf("the callback during the subscription was answered %v, want 204", src.answered)
	}
	select {
	case p := <-woken:
		if p != "tenant" {
			t.Errorf("woke %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the callback during the subscription woke nothing")
	}

	refused := want
	refused.Pipeline, refused.SourceRef = "other", "source.zoho.other"
	if err := w.Sync(ctx, &eagerService{refuse: true}, store, state.NoFence, refused); err == nil {
		t.Fatal("a refused subscription was no error")
	}
	if chs := channels.Of("other"); len(chs) != 0 {
		t.Errorf("the refused channel is still known: %+v", chs)
	}
	all, err := store.Channels(ctx)
	if err != nil || len(all) != 1 || all[0].Pipeline != "tenant" {
		t.Errorf("stored channels %+v, %v; want the tenant's only", all, err)
	}
}
