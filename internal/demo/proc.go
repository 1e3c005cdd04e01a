package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// service is a simulator the demo started and stops at the end.
type service struct {
	name   string
	cmd    *exec.Cmd
	stderr *tail
	done   chan struct{} // closed once the process has exited
	err    error         // Wait's result, set before done closes
}

// startService starts a simulator binary and returns it with the URL from
// its first stdout line, "<name> listening on http://127.0.0.1:PORT".
func startService(ctx context.Context, name, path string, args, env []string) (*service, string, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	ownProcessGroup(cmd)
	s := &service{name: name, cmd: cmd, stderr: &tail{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		// Keep reading so the simulator never blocks on a full pipe; Wait
		// may only run once every read is done.
		_, _ = io.Copy(io.Discard, stdout)
		s.err = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case line, ok := <-first:
		_, url, found := strings.Cut(line, " listening on ")
		if !ok || !found || !strings.HasPrefix(url, "http://") {
			s.stop()
			return nil, "", fmt.Errorf("%s did not say where it listens (first line %q)%s", name, line, s.stderr.explain())
		}
		return s, strings.TrimSpace(url), nil
	case <-timer.C:
		s.stop()
		return nil, "", fmt.Errorf("%s did not start within 20 seconds%s", name, s.stderr.explain())
	case <-ctx.Done():
		s.stop()
		return nil, "", ctx.Err()
	}
}

// exited reports whether the process has ended, and how.
func (s *service) exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// stop asks the simulator to shut down and kills it if it does not within
// five seconds.
func (s *service) stop() {
	if done, _ := s.exited(); done {
		return
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// tail keeps the last lines a process wrote, to explain a failure.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = t.buf[len(t.buf)-tailMax:]
	}
	return len(p), nil
}

// explain returns the kept output as a suffix for an error message.
func (t *tail) explain() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return "; it wrote:\n" + s
}

// indenter writes a command's output line by line under a prefix, so it
// stands apart from the demo's own words. A prompt the command writes
// without a newline is shown with the answer the demo typed.
type indenter struct {
	mu             sync.Mutex
	out            io.Writer
	prefix         string
	buf            []byte
	prompt, answer string
}

func (w *indenter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		nl := bytes.IndexByte(w.buf, '\n')
		pr := -1
		if w.prompt != "" {
			pr = bytes.Index(w.buf, []byte(w.prompt))
		}
		switch {
		case pr >= 0 && (nl < 0 || pr < nl):
			end := pr + len(w.prompt)
			fmt.Fprintf(w.out, "%s%s%s\n", w.prefix, w.buf[:end], w.answer)
			w.buf = w.buf[end:]
			w.prompt = ""
		case nl >= 0:
			fmt.Fprintf(w.out, "%s%s\n", w.prefix, bytes.TrimRight(w.buf[:nl], "\r"))
			w.buf = w.buf[nl+1:]
		default:
			return len(p), nil
		}
	}
}

// flush writes what is left of an unfinished last line.
func (w *indenter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		fmt.Fprintf(w.out, "%s%s\n", w.prefix, w.buf)
		w.buf = nil
	}
}

// runCommand runs a command to completion with its output indented on out.
// When ctx ends, the command is interrupted once, so it can stop cleanly,
// and killed if it has not stopped fifteen seconds later.
func runCommand(ctx context.Context, out io.Writer, cmd *exec.Cmd, stdin, prompt, answer string) error {
	w := &indenter{out: out, prefix: "    │ ", prompt: prompt, answer: answer}
	cmd.Stdout, cmd.Stderr = w, w
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		if serr := cmd.Process.Signal(os.Interrupt); serr != nil {
			_ = cmd.Process.Kill()
		}
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		err = errors.Join(ctx.Err(), err)
	}
	w.flush()
	return err
}
