// Package warm keeps pipelines' plugin processes running for a short idle
// time between their runs, so that a run soon after the last one (such as
// one woken by a callback) neither starts two processes nor discovers its
// streams again.
//
// A kept pipeline holds no claim: it is two idle processes and the streams
// its last run discovered. The run that takes it claims the pipeline
// first, as any run does, and a run whose claim was lost kills its
// plugins and never gives them back. Processes are kept for one engine
// (one configuration load) only, up to a bound per host, and closed when
// idle for longer than the idle time, at a reload and at the stop.
package warm

import (
	"container/list"
	"sync"
	"time"

	"github.com/replicatorhq/replicator/host/engine"
)

// Pool keeps pipelines' plugins warm. The zero value keeps none until
// Configure says how many and for how long.
type Pool struct {
	mu sync.Mutex
	// max bounds the pipelines kept, two processes each; 0 keeps none.
	max int
	// idle is how long a pipeline's plugins are kept after its run.
	idle    time.Duration
	current *engine.Engine
	byName  map[string]*list.Element
	lru     list.List // of *entry, least recently put first
}

type entry struct {
	name  string
	eng   *engine.Engine
	p     *engine.Pipeline
	timer *time.Timer
}

// Configure keeps up to max pipelines' plugins for idle after their
// runs, of eng's pipelines only: those kept for another engine are
// closed, as a reloaded configuration may start them differently, and so
// are those beyond max.
func (w *Pool) Configure(max int, idle time.Duration, eng *engine.Engine) {
	w.mu.Lock()
	w.max, w.idle, w.current = max, idle, eng
	var stale []*engine.Pipeline
	for e := w.lru.Front(); e != nil; {
		next := e.Next()
		if en := e.Value.(*entry); en.eng != eng {
			stale = append(stale, w.removeLocked(e))
		}
		e = next
	}
	for w.lru.Len() > max {
		stale = append(stale, w.removeLocked(w.lru.Front()))
	}
	w.mu.Unlock()
	closeAll(stale)
}

// Put keeps p, the plugins of pipeline name's run that ended well under
// eng, for the idle time. It closes p instead when the pool keeps none,
// eng is not the current engine, or the name has plugins kept already; a
// pipeline beyond the bound makes the least recently kept one close.
func (w *Pool) Put(name string, eng *engine.Engine, p *engine.Pipeline) {
	w.mu.Lock()
	if w.max <= 0 || w.idle <= 0 || eng != w.current || w.byName[name] != nil {
		w.mu.Unlock()
		p.Close()
		return
	}
	if w.byName == nil {
		w.byName = map[string]*list.Element{}
	}
	en := &entry{name: name, eng: eng, p: p}
	el := w.lru.PushBack(en)
	w.byName[name] = el
	en.timer = time.AfterFunc(w.idle, func() { w.expire(el) })
	var evicted []*engine.Pipeline
	for w.lru.Len() > w.max {
		evicted = append(evicted, w.removeLocked(w.lru.Front()))
	}
	w.mu.Unlock()
	closeAll(evicted)
}

// Take returns pipeline name's kept plugins if they were kept under eng,
// and no longer keeps them: the caller closes them, or puts them back.
func (w *Pool) Take(name string, eng *engine.Engine) (*engine.Pipeline, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	el := w.byName[name]
	if el == nil {
		return nil, false
	}
	en := el.Value.(*entry)
	if en.eng != eng {
		return nil, false
	}
	return w.removeLocked(el), true
}

// Len returns the pipelines kept.
func (w *Pool) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lru.Len()
}

// Close closes every kept pipeline's plugins.
func (w *Pool) Close() {
	w.mu.Lock()
	var all []*engine.Pipeline
	for w.lru.Len() > 0 {
		all = append(all, w.removeLocked(w.lru.Front()))
	}
	w.mu.Unlock()
	closeAll(all)
}

// expire closes el's plugins once they were idle for the idle time,
// unless taken.
func (w *Pool) expire(el *list.Element) {
	w.mu.Lock()
	en := el.Value.(*entry)
	if w.byName[en.name] != el {
		w.mu.Unlock()
		return
	}
	p := w.removeLocked(el)
	w.mu.Unlock()
	p.Close()
}

// removeLocked takes el out of the pool and returns its pipeline. w.mu
// is held.
func (w *Pool) removeLocked(el *list.Element) *engine.Pipeline {
	en := el.Value.(*entry)
	en.timer.Stop()
	w.lru.Remove(el)
	delete(w.byName, en.name)
	return en.p
}

// closeAll closes ps side by side: each Close may wait seconds for a
// process that does not end.
func closeAll(ps []*engine.Pipeline) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.Close)
	}
	wg.Wait()
}
