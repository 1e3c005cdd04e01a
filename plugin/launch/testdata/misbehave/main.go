// Command misbehave is a source plugin for tests that does what a broken or
// hostile connector might. MISBEHAVE picks what, or else the binary's name
// does (replicator-source-hang behaves as MISBEHAVE=hang), for tests that
// launch it through the host, which passes no environment:
//
//	hang           Spec, Check, Discover, Authorize, AuthorizeURL, Revoke,
//	               Watch and Unwatch never answer
//	silent         Read sends nothing and never returns
//	stderr         writes lines go-plugin's own log parser would panic on,
//	               a long line without a line break and a long error line
//	               of hclog's, then serves
//	flood          Read logs FLOOD_LINES lines as fast as it can
//	child          starts a process that keeps the plugin's stdout and
//	               stderr open, in the plugin's process group
//	escaped-child  the same, in a session of its own
//	fork           starts three processes that hold none of its files
//	               (as a connector's helpers might), then serves
//	fork-exit      the same, and exits with status 0 in Read
//	fork-crash     the same, and panics in Read
//
// The children's process ids are written to the file CHILD_PID_FILE
// names, one a line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func main() {
	if os.Getenv("MISBEHAVE_CHILD") != "" {
		time.Sleep(10 * time.Minute)
		return
	}
	how := os.Getenv("MISBEHAVE")
	if how == "" {
		how = strings.TrimPrefix(filepath.Base(os.Args[0]), "replicator-source-")
	}
	switch how {
	case "stderr":
		fmt.Fprintln(os.Stderr, `{"@message":1,"@level":"info"}`)
		fmt.Fprintln(os.Stderr, `{"@message":"level is a number","@level":7}`)
		fmt.Fprintln(os.Stderr, `{"@message":"bad time","@level":"info","@timestamp":42}`)
		fmt.Fprint(os.Stderr, strings.Repeat("x", 1<<20))
		fmt.Fprintln(os.Stderr)
		fmt.Fprintf(os.Stderr, `{"@level":"error","@message":"long error: %s"}`+"\n", strings.Repeat("y", 1<<20))
	case "child", "escaped-child":
		startChild(how == "escaped-child")
	case "fork", "fork-exit", "fork-crash":
		forkThree()
	}
	plugin.ServeSource(func(log hclog.Logger) contract.Source { return &source{how: how, log: log} })
}

func startChild(escape bool) {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"MISBEHAVE_CHILD=1"}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: escape}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Getenv("CHILD_PID_FILE"), []byte(fmt.Sprint(cmd.Process.Pid)), 0o600); err != nil {
		panic(err)
	}
}

// forkThree starts three sleeping children with no output, so that
// nothing but their process group ties them to the plugin.
func forkThree() {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	var pids []string
	for range 3 {
		cmd := exec.Command(self)
		cmd.Env = []string{"MISBEHAVE_CHILD=1"}
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		pids = append(pids, fmt.Sprint(cmd.Process.Pid))
	}
	if err := os.WriteFile(os.Getenv("CHILD_PID_FILE"), []byte(strings.Join(pids, "\n")), 0o600); err != nil {
		panic(err)
	}
}

type source struct {
	contract.UnimplementedSource
	how string
	log hclog.Logger
}

// block never returns, whatever ctx says: a plugin stuck in a call.
func (s *source) block() { select {} }

func (s *source) Spec(context.Context) (contract.Spec, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.Spec{Name: "misbehave", Version: "0.0.1"}, nil
}

func (s *source) Authorize(context.Context, contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.AuthorizeResponse{Credentials: json.RawMessage(`{}`)}, nil
}

func (s *source) AuthorizeURL(context.Context, contract.AuthorizeURLRequest) (contract.AuthorizeURLResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.AuthorizeURLResponse{}, contract.ErrUnsupported
}

func (s *source) Revoke(context.Context, contract.RevokeRequest) (contract.RevokeResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.RevokeResponse{}, contract.ErrUnsupported
}

func (s *source) Check(context.Context, contract.CheckRequest) (contract.CheckResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.CheckResponse{Message: "ok"}, nil
}

func (s *source) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{{
		Name: "items", Schema: json.RawMessage(`{"type":"object"}`), PrimaryKey: []string{"id"},
		Modes: []contract.SyncMode{contract.FullRefresh},
	}}}}, nil
}

func (s *source) Watch(context.Context, contract.WatchRequest) (contract.WatchResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.WatchResponse{}, nil
}

func (s *source) Unwatch(context.Context, contract.UnwatchRequest) (contract.UnwatchResponse, error) {
	if s.how == "hang" {
		s.block()
	}
	return contract.UnwatchResponse{}, nil
}

func (s *source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	switch s.how {
	case "silent":
		s.block()
	case "fork-exit":
		os.Exit(0)
	case "fork-crash":
		panic("crashing as asked")
	case "flood":
		n, err := strconv.Atoi(os.Getenv("FLOOD_LINES"))
		if err != nil {
			return fmt.Errorf("FLOOD_LINES: %w", err)
		}
		for i := range n {
			s.log.Info("flood", "line", i)
		}
		return nil
	}
	for _, st := range req.Streams {
		// A duration, for the test that the host gets it as text.
		s.log.Info("reading", "stream", st.Name, "generation", st.Generation, "waited", 1500*time.Millisecond)
		if err := out.Emit(ctx, contract.Record{Stream: st.Name, Key: "1", Data: json.RawMessage(`{"id":1}`)}); err != nil {
			return err
		}
		if err := out.Checkpoint(ctx, st.Name, json.RawMessage(`{"done":true}`)); err != nil {
			return err
		}
	}
	return nil
}
