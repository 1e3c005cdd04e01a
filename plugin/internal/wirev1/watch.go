package wirev1

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func changeSignalsToWire(c *contract.ChangeSignals) *ChangeSignals {
	if c == nil {
		return nil
	}
	return &ChangeSignals{SecretField: c.SecretField, MaxBodyBytes: int64(c.MaxBodyBytes)}
}

func changeSignalsFromWire(c *ChangeSignals) *contract.ChangeSignals {
	if c == nil {
		return nil
	}
	return &contract.ChangeSignals{SecretField: c.GetSecretField(), MaxBodyBytes: int(c.GetMaxBodyBytes())}
}

func channelsToWire(cs []contract.Channel) []*Channel {
	out := make([]*Channel, 0, len(cs))
	for _, c := range cs {
		out = append(out, &Channel{Id: c.ID, Url: c.URL, Secret: c.Secret})
	}
	return out
}

// channelsFromWire reads the host's channels and checks them, so that a
// source can hand them to its service as they are.
func channelsFromWire(cs []*Channel) ([]contract.Channel, error) {
	out := make([]contract.Channel, 0, len(cs))
	for _, c := range cs {
		ch := contract.Channel{ID: c.GetId(), URL: c.GetUrl(), Secret: c.GetSecret()}
		if !contract.ValidChannelID(ch.ID) {
			return nil, fmt.Errorf(
				"the host offered a channel with the id %q, which is not 1 to %d characters of A-Z, a-z, 0-9, '_', '-', '.'",
				ch.ID,
				contract.MaxChannelID,
			)
		}
		if !contract.ValidChannelSecret(ch.Secret) {
			return nil, fmt.Errorf(
				"the host offered channel %s a secret that is not %d to %d base64url characters",
				ch.ID,
				contract.MinChannelSecret,
				contract.MaxChannelSecret,
			)
		}
		if u, err := url.Parse(ch.URL); err != nil || u.Host == "" || u.User != nil ||
			(u.Scheme != "https" && (u.Scheme != "http" || !config.IsLoopbackHost(u.Hostname()))) {
			return nil, fmt.Errorf(
				"the host offered channel %s a callback URL that is not https (or http to a loopback address)",
				ch.ID,
			)
		}
		out = append(out, ch)
	}
	return out, nil
}

func watchedToWire(ws []contract.Watched) []*WatchedChannel {
	out := make([]*WatchedChannel, 0, len(ws))
	for _, w := range ws {
		wc := &WatchedChannel{Id: w.ID, Streams: w.Streams}
		if !w.Expires.IsZero() {
			wc.ExpiresUnixNano = w.Expires.UnixNano()
		}
		out = append(out, wc)
	}
	return out
}

func watchedFromWire(ws []*WatchedChannel) []contract.Watched {
	out := make([]contract.Watched, 0, len(ws))
	for _, w := range ws {
		cw := contract.Watched{ID: w.GetId(), Streams: w.GetStreams()}
		if n := w.GetExpiresUnixNano(); n != 0 {
			cw.Expires = time.Unix(0, n)
		}
		out = append(out, cw)
	}
	return out
}

// watcher returns the source's Watcher, or an UNIMPLEMENTED status for a
// source that has none.
func (s *sourceServer) watcher(call string) (contract.Watcher, error) {
	w, ok := s.impl.(contract.Watcher)
	if !ok {
		return nil, toStatus(fmt.Errorf("%s: %w", call, contract.ErrUnsupported))
	}
	return w, nil
}

func (s *sourceServer) Watch(ctx context.Context, req *WatchRequest) (*WatchResponse, error) {
	w, err := s.watcher("watch")
	if err != nil {
		return nil, err
	}
	channels, err := channelsFromWire(req.GetChannels())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := w.Watch(ctx, contract.WatchRequest{
		Config: nilIfEmpty(req.GetConfigJson()), Credentials: nilIfEmpty(req.GetCredentials()),
		Streams: req.GetStreams(), Channels: channels, Client: clientFromWire(req.GetClient()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &WatchResponse{Channels: watchedToWire(resp.Channels), Credentials: resp.Credentials}, nil
}

func (s *sourceServer) Unwatch(ctx context.Context, req *UnwatchRequest) (*UnwatchResponse, error) {
	w, err := s.watcher("unwatch")
	if err != nil {
		return nil, err
	}
	channels, err := channelsFromWire(req.GetChannels())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := w.Unwatch(ctx, contract.UnwatchRequest{
		Config: nilIfEmpty(req.GetConfigJson()), Credentials: nilIfEmpty(req.GetCredentials()), Channels: channels,
		Client: clientFromWire(req.GetClient()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &UnwatchResponse{Credentials: resp.Credentials}, nil
}

// Watch asks the plugin to subscribe channels; a plugin built before SDK
// 1.2 answers contract.ErrUnsupported. The answer is checked with
// contract.CheckWatchResponse.
func (c *remoteSource) Watch(ctx context.Context, req contract.WatchRequest) (contract.WatchResponse, error) {
	resp, err := c.c.Watch(ctx, &WatchRequest{
		ConfigJson: req.Config, Credentials: req.Credentials,
		Streams: req.Streams, Channels: channelsToWire(req.Channels), Client: clientToWire(req.Client),
	})
	if err != nil {
		return contract.WatchResponse{}, fromStatus(ctx, err)
	}
	out := contract.WatchResponse{
		Channels:    watchedFromWire(resp.GetChannels()),
		Credentials: nilIfEmpty(resp.GetCredentials()),
	}
	if err := contract.CheckWatchResponse(req, out); err != nil {
		// The credentials are the plugin's all the same.
		return contract.WatchResponse{Credentials: out.Credentials}, err
	}
	return out, nil
}

// Unwatch asks the plugin to end channels.
func (c *remoteSource) Unwatch(ctx context.Context, req contract.UnwatchRequest) (contract.UnwatchResponse, error) {
	resp, err := c.c.Unwatch(ctx, &UnwatchRequest{
		ConfigJson: req.Config, Credentials: req.Credentials, Channels: channelsToWire(req.Channels),
		Client: clientToWire(req.Client),
	})
	if err != nil {
		return contract.UnwatchResponse{}, fromStatus(ctx, err)
	}
	return contract.UnwatchResponse{Credentials: nilIfEmpty(resp.GetCredentials())}, nil
}

var _ contract.Watcher = (*remoteSource)(nil)
