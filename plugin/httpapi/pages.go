package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/url"
)

// Page is one page of a list an API hands out in pages. Next is the cursor
// that asks for the page after it, empty on the last page.
type Page interface {
	Next() string
}

// Pages reads a cursor-paged list: it GETs path with query, then again
// with the query parameter param set to each page's Next, and hands each
// page to fn, until a page has no Next or fn returns false or an error.
// A service that hands back the cursor it was given fails the read rather
// than looping on one page.
func Pages[P Page](ctx context.Context, c *Client, path string, query url.Values, param string,
	fn func(P) (bool, error)) error {
	q := maps.Clone(query)
	if q == nil {
		q = url.Values{}
	}
	for {
		var page P
		if err := c.Get(ctx, path, q, &page); err != nil {
			return err
		}
		more, err := fn(page)
		if err != nil || !more {
			return err
		}
		next := page.Next()
		if next == "" {
			return nil
		}
		if next == q.Get(param) {
			return fmt.Errorf("GET %s: %s returned the %s %q it was given, which would read one page forever",
				path, c.o.Service, param, next)
		}
		q.Set(param, next)
	}
}
