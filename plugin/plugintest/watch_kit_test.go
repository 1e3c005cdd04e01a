package plugintest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// Flaws of the watching test source.
const (
	wrongField   = "wrong-field"   // the service echoes the secret in another field than the spec says
	unwatchFails = "unwatch-fails" // ending a channel that has ended is an error
)

// watchService is a service that calls back subscribed channels when an
// entry changes, with the channel's secret in "token", or in "secret"
// when it is flawed so.
type watchService struct {
	flaw string

	mu       sync.Mutex
	channels map[string]contract.Channel
}

func (s *watchService) change(t *testing.T, stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	field := "token"
	if s.flaw == wrongField {
		field = "secret"
	}
	for _, ch := range s.channels {
		body, _ := json.Marshal(map[string]any{field: ch.Secret, "stream": stream, "ids": []string{"k001"}})
		resp, err := http.Post(ch.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Errorf("calling back %s: %v", ch.ID, err)
			continue
		}
		resp.Body.Close()
	}
}

// watchingSource is memSource that can watch its service.
type watchingSource struct {
	memSource
	svc *watchService
}

func (s *watchingSource) Spec(ctx context.Context) (contract.Spec, error) {
	spec, err := s.memSource.Spec(ctx)
	spec.ChangeSignals = &contract.ChangeSignals{SecretField: "token"}
	return spec, err
}

// Watch subscribes one channel for every stream, as Zoho does.
func (s *watchingSource) Watch(_ context.Context, req contract.WatchRequest) (contract.WatchResponse, error) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	ch := req.Channels[0]
	s.svc.channels[ch.ID] = ch
	return contract.WatchResponse{
		Channels: []contract.Watched{{ID: ch.ID, Streams: req.Streams, Expires: time.Now().Add(time.Hour)}},
	}, nil
}

func (s *watchingSource) Unwatch(_ context.Context, req contract.UnwatchRequest) (contract.UnwatchResponse, error) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	for _, ch := range req.Channels {
		if _, ok := s.svc.channels[ch.ID]; !ok && s.svc.flaw == unwatchFails {
			return contract.UnwatchResponse{}, fmt.Errorf("channel %s is not subscribed", ch.ID)
		}
		delete(s.svc.channels, ch.ID)
	}
	return contract.UnwatchResponse{}, nil
}

func watchingSuite(flaw string) plugintest.SourceSuite {
	s := sourceSuite("")
	ws := &watchService{flaw: flaw, channels: map[string]contract.Channel{}}
	svc := newService(50)
	s.New = func(hclog.Logger) contract.Source {
		return &watchingSource{memSource: memSource{svc: svc}, svc: ws}
	}
	s.Change = nil
	s.Signal = ws.change
	return s
}

func TestKitPassesASoundWatchingSource(t *testing.T) {
	watchingSuite("").Run(t)
}
