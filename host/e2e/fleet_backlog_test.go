package e2e

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
)

// TestFleetPostgresTakeoverWithABacklog runs three hosts of two run slots
// each on 240 pipelines of about a second, so that more runs come due
// than the hosts can start and a backlog waits on every host. It SIGKILLs
// one host amid its runs, then SIGSTOPs another amid its runs for longer
// than the takeover bound and SIGCONTs it. The pipelines each held go on
// elsewhere while the backlog still waits: pipelines due before the kill
// or the pause start after them, as a takeover goes before the queue. The
// paused host writes nothing to its destinations once it comes back: no
// record of its (told apart by their size) lands after the first record
// its successor wrote.
func TestFleetPostgresTakeoverWithABacklog(t *testing.T) {
	const (
		n        = 240
		takeover = 4 * time.Second
		// backlog is how many pipelines due and not yet run the test
		// waits for before it kills or pauses a host; after is how many
		// of those must still wait when the host's pipelines go on.
		backlog = 20
		after   = 5
		// The paused host's records are larger than the others'.
		size, pausedSize = 100, 120
	)
	s := fleetSettings{pipelines: n, takeover: takeover, delay: 100 * time.Millisecond, recordSize: size, maxRuns: 2}
	f := newFleet(t, s)
	s.recordSize = pausedSize
	f.w.write("paused.hcl", fleetConfig(s))
	hosts := []*fleetHost{f.start(), f.start("-config", "paused.hcl"), f.start()}
	ctx := context.Background()

	// due is when a pipeline's first run is due on every host, give or
	// take their starts.
	due := map[string]time.Time{}
	for i := range n {
		due[f.name(i)] = hosts[0].started.Add(schedule.FirstRunOffset(f.name(i), time.Hour, schedule.FirstRunSpread(n)))
	}
	// waiting is the backlog now: pipelines due that no host has run.
	waiting := func() int {
		ran, err := f.db.Pipelines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		now, count := time.Now(), 0
		for name, at := range due {
			if _, found := slices.BinarySearch(ran, name); !found && at.Before(now) {
				count++
			}
		}
		return count
	}

	var victims []state.Fence
	f.waitFor("host 1 was never amid a run with a backlog waiting", 2*time.Minute, func() bool {
		if waiting() < backlog {
			return false
		}
		victims = f.midRun(hosts[0])
		return len(victims) > 0
	})
	killed := time.Now()
	if err := hosts[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = hosts[0].cmd.Wait()
	afterKill := f.takenOver("host 1's pipelines did not go on elsewhere", victims, 2*time.Minute)

	frozen := f.pause(hosts[1], func() bool { return waiting() >= backlog })
	paused := time.Now()
	afterPause := f.takenOver("host 2's pipelines did not go on while it was paused", frozen, 2*time.Minute)
	if err := hosts[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the paused host did not stop its runs as it came back", time.Minute, func() bool {
		return strings.Contains(hosts[1].log.String(), "its claim was lost")
	})
	f.waitFor("not every pipeline's output is complete", 5*time.Minute, func() bool { return f.complete() == n && f.finished() })
	f.stopAll()

	all := f.history()
	f.checkHistory(all)
	// Takeovers first: when a lost host's pipeline went on, pipelines due
	// before the host was lost were still waiting for their first run.
	for what, took := range map[string]struct {
		at   time.Time
		runs map[string]state.Run
	}{"killed": {killed, afterKill}, "paused": {paused, afterPause}} {
		for name, r := range took.runs {
			still := 0
			for other, at := range due {
				if runs := all[other]; at.Before(took.at) && len(runs) > 0 && runs[0].Started.After(r.Started) {
					still++
				}
			}
			t.Logf("%s host's pipeline %s went on %s after it was lost (takeover_after %s), with %d pipelines due before still waiting",
				what, name, r.Started.Sub(took.at).Round(time.Millisecond), takeover, still)
			if still < after {
				t.Errorf("the %s host's pipeline %s went on only once the backlog was run: %d pipelines due before it was lost were left waiting, want at least %d",
					what, name, still, after)
			}
		}
	}
	// No stale write: in each pipeline the paused host was running, none
	// of its records comes after the first its successor wrote.
	for _, fence := range frozen {
		sizes := recordSizes(t, f.output(fence.Pipeline))
		first := slices.Index(sizes, pausedSize)
		successor := -1
		if first >= 0 {
			successor = slices.Index(sizes[first:], size)
		}
		if first < 0 || successor < 0 {
			t.Errorf("pipeline %s: no record of the paused host followed by one of its successor's: sizes %v", fence.Pipeline, sizes)
			continue
		}
		if late := slices.Index(sizes[first+successor:], pausedSize); late >= 0 {
			t.Errorf("pipeline %s: the paused host wrote record line %d after its successor's first, line %d",
				fence.Pipeline, first+successor+late+1, first+successor+1)
		}
	}
}

// recordSizes returns the size of each record's data in a jsonl output,
// in the order of its lines; lines without data count as 0.
func recordSizes(t *testing.T, path string) []int {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var sizes []int
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		_, data, ok := strings.Cut(line, `"data":`)
		if !ok {
			sizes = append(sizes, 0)
			continue
		}
		sizes = append(sizes, len(data)-1) // the line's closing brace
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sizes
}
