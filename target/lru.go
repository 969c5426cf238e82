package target

import (
	"container/list"
	"sync"
)

// lru is a fixed-size, mutex-guarded least-recently-used cache of query
// rankings.
type lru struct {
	mu    sync.Mutex
	size  int
	ll    *list.List
	items map[string]*list.Element
}

type lruEntry struct {
	key   string
	value []Candidate
}

func newLRU(size int) *lru {
	if size <= 0 {
		return nil
	}
	return &lru{size: size, ll: list.New(), items: make(map[string]*list.Element, size)}
}

// get returns the cached ranking; a nil cache never hits.
func (c *lru) get(key string) ([]Candidate, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry).value, true
	}
	return nil, false
}

func (c *lru) add(key string, v []Candidate) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		e.Value.(*lruEntry).value = v
		return
	}
	c.items[key] = c.ll.PushFront(&lruEntry{key, v})
	if c.ll.Len() > c.size {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*lruEntry).key)
	}
}

func (c *lru) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
