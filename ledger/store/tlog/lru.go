package tlog

import (
	"container/list"
	"sync"
)

// lru is a small cache of full tiles and bundles read from disk (they never
// change once written).
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[any]*list.Element
}

type lruItem struct {
	key any
	val any
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[any]*list.Element{}}
}

func (c *lru) get(key any) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruItem).val, true
	}
	return nil, false
}

func (c *lru) put(key any, val any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*lruItem).val = val
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&lruItem{key, val})
	for c.order.Len() > c.max {
		e := c.order.Back()
		c.order.Remove(e)
		delete(c.items, e.Value.(*lruItem).key)
	}
}
