package wirev1

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// watchingSource keeps what Watch and Unwatch got and answers as told.
type watchingSource struct {
	bigSource
	spec     contract.Spec
	gotWatch contract.WatchRequest
	gotEnd   contract.UnwatchRequest
	answer   contract.WatchResponse
}

func (s *watchingSource) Spec(context.Context) (contract.Spec, error) { return s.spec, nil }

func (s *watchingSource) Watch(_ context.Context, req contract.WatchRequest) (contract.WatchResponse, error) {
	s.gotWatch = req
	return s.answer, nil
}

func (s *watchingSource) Unwatch(_ context.Context, req contract.UnwatchRequest) (contract.UnwatchResponse, error) {
	s.gotEnd = req
	return contract.UnwatchResponse{Credentials: json.RawMessage(`{"after":"unwatch"}`)}, nil
}

func serveSource(t *testing.T, src contract.Source) contract.Source {
	t.Helper()
	conn, server := goplugin.TestGRPCConn(t, func(s *grpc.Server) { RegisterSource(s, src) })
	t.Cleanup(func() { conn.Close(); server.Stop() })
	return NewSource(conn)
}

var (
	secretA = strings.Repeat("a", 43)
	secretB = strings.Repeat("B", 43)
)

// What the host and the source say about change signals crosses the wire
// whole: the spec's, the channels with their secrets, the answer with its
// expiry to the nanosecond, the credentials.
func TestWatchOverTheWire(t *testing.T) {
	expires := time.Date(2026, 3, 9, 10, 0, 0, 123456789, time.UTC)
	impl := &watchingSource{
		spec: contract.Spec{
			Name:          "w",
			ChangeSignals: &contract.ChangeSignals{SecretField: "token", MaxBodyBytes: 256 << 10},
		},
		answer: contract.WatchResponse{
			Channels: []contract.Watched{
				{ID: "ch-1", Streams: []string{"contacts", "accounts"}, Expires: expires},
				{ID: "ch-2", Streams: []string{"notes"}},
			},
			Credentials: json.RawMessage(`{"after":"watch"}`),
		},
	}
	src := serveSource(t, impl)
	ctx := context.Background()
	spec, err := src.Spec(ctx)
	if err != nil || !reflect.DeepEqual(spec.ChangeSignals, impl.spec.ChangeSignals) {
		t.Fatalf("spec's change signals %+v, %v", spec.ChangeSignals, err)
	}
	req := contract.WatchRequest{
		Config: json.RawMessage(`{"notifications":true}`), Credentials: json.RawMessage(`{"refresh_token":"r"}`),
		Streams: []string{"contacts", "accounts", "notes"},
		Channels: []contract.Channel{
			{ID: "ch-1", URL: "https://replicator.example/hooks/v1/k1?x=1", Secret: secretA},
			{ID: "ch-2", URL: "http://127.0.0.1:8080/hooks/v1/k2", Secret: secretB},
			{ID: "ch-3", URL: "https://replicator.example/hooks/v1/k3", Secret: secretA},
		},
	}
	resp, err := src.(contract.Watcher).Watch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(impl.gotWatch, req) {
		t.Errorf("the source got %+v\nthe host sent %+v", impl.gotWatch, req)
	}
	if len(resp.Channels) != 2 || !resp.Channels[0].Expires.Equal(expires) || !resp.Channels[1].Expires.IsZero() ||
		!reflect.DeepEqual(
			resp.Channels[0].Streams,
			[]string{"contacts", "accounts"},
		) || string(resp.Credentials) != `{"after":"watch"}` {
		t.Errorf("answer %+v", resp)
	}
	end, err := src.(contract.Watcher).Unwatch(
		ctx,
		contract.UnwatchRequest{Config: req.Config, Credentials: req.Credentials, Channels: req.Channels[:1]},
	)
	if err != nil || string(end.Credentials) != `{"after":"unwatch"}` ||
		!reflect.DeepEqual(impl.gotEnd.Channels, req.Channels[:1]) {
		t.Errorf("unwatch: %+v, %v; the source got %+v", end, err, impl.gotEnd)
	}
}

// The plugin's side refuses channels a source could not hand to its
// service safely, before the source sees them.
func TestWatchRefusesBadChannels(t *testing.T) {
	impl := &watchingSource{}
	src := serveSource(t, impl).(contract.Watcher)
	good := contract.Channel{ID: "ch", URL: "https://replicator.example/hooks/v1/k", Secret: secretA}
	for name, ch := range map[string]contract.Channel{
		"empty id":               {ID: "", URL: good.URL, Secret: good.Secret},
		"id with a slash":        {ID: "a/b", URL: good.URL, Secret: good.Secret},
		"short secret":           {ID: "ch", URL: good.URL, Secret: "abc"},
		"secret of 51":           {ID: "ch", URL: good.URL, Secret: strings.Repeat("a", 51)},
		"secret with a space":    {ID: "ch", URL: good.URL, Secret: strings.Repeat("a", 30) + " b"},
		"plain http to the net":  {ID: "ch", URL: "http://replicator.example/hooks", Secret: good.Secret},
		"not a URL":              {ID: "ch", URL: "hooks", Secret: good.Secret},
		"credentials in the URL": {ID: "ch", URL: "https://u:p@replicator.example/hooks", Secret: good.Secret},
	} {
		t.Run(name, func(t *testing.T) {
			impl.gotWatch = contract.WatchRequest{}
			_, err := src.Watch(
				context.Background(),
				contract.WatchRequest{Streams: []string{"s"}, Channels: []contract.Channel{good, ch}},
			)
			if err == nil || !strings.Contains(err.Error(), "the host offered") {
				t.Errorf("Watch = %v", err)
			}
			if impl.gotWatch.Channels != nil {
				t.Error("the source saw the channels")
			}
			unwatch := contract.UnwatchRequest{Channels: []contract.Channel{ch}}
			if _, err := src.Unwatch(context.Background(), unwatch); err == nil {
				t.Error("Unwatch took the channel")
			}
		})
	}
}

// The host keeps only channels it offered, for streams it asked for.
func TestWatchRefusesAnswersAboutOtherChannels(t *testing.T) {
	req := contract.WatchRequest{
		Streams:  []string{"a", "b"},
		Channels: []contract.Channel{{ID: "c1", URL: "https://h.example/k1", Secret: secretA}},
	}
	for name, tc := range map[string]struct {
		answer []contract.Watched
		want   string
	}{
		"unknown channel": {[]contract.Watched{{ID: "c9", Streams: []string{"a"}}}, `channel "c9" was not offered`},
		"twice": {
			[]contract.Watched{{ID: "c1", Streams: []string{"a"}}, {ID: "c1", Streams: []string{"b"}}},
			`channel "c1" is named twice`,
		},
		"other stream": {
			[]contract.Watched{{ID: "c1", Streams: []string{"a", "z"}}},
			`stream "z", which was not asked for`,
		},
		"no stream": {[]contract.Watched{{ID: "c1"}}, `channel "c1" signals no stream`},
	} {
		t.Run(name, func(t *testing.T) {
			answer := contract.WatchResponse{Channels: tc.answer, Credentials: json.RawMessage(`{"k":1}`)}
			src := serveSource(t, &watchingSource{answer: answer}).(contract.Watcher)
			resp, err := src.Watch(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Watch = %v, want %q", err, tc.want)
			}
			if len(resp.Channels) != 0 || string(resp.Credentials) != `{"k":1}` {
				t.Errorf("answer kept %+v", resp)
			}
		})
	}
}

// A source without Watcher, and one that embeds UnimplementedSource,
// answer ErrUnsupported across the wire.
func TestWatchUnsupported(t *testing.T) {
	for name, impl := range map[string]contract.Source{
		"embeds UnimplementedSource": bigSource{},
		"implements Source only":     plainSource{},
	} {
		t.Run(name, func(t *testing.T) {
			src := serveSource(t, impl).(contract.Watcher)
			if _, err := src.Watch(context.Background(), contract.WatchRequest{}); !errors.Is(
				err,
				contract.ErrUnsupported,
			) {
				t.Errorf("Watch = %v", err)
			}
			if _, err := src.Unwatch(context.Background(), contract.UnwatchRequest{}); !errors.Is(
				err,
				contract.ErrUnsupported,
			) {
				t.Errorf("Unwatch = %v", err)
			}
		})
	}
}

// plainSource implements Source's methods and nothing else.
type plainSource struct{}

func (plainSource) Spec(context.Context) (contract.Spec, error) { return contract.Spec{}, nil }
func (plainSource) Authorize(context.Context, contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	return contract.AuthorizeResponse{}, contract.ErrUnsupported
}
func (plainSource) Check(context.Context, contract.CheckRequest) (contract.CheckResponse, error) {
	return contract.CheckResponse{}, nil
}
func (plainSource) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	return contract.DiscoverResponse{}, nil
}
func (plainSource) Read(context.Context, contract.ReadRequest, contract.Output) error { return nil }
