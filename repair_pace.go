package miroir

import (
	"context"
	"time"
)

// listCost is how many listed (id, version) pairs cost as much as one
// document copied or deleted: the throttle counts a listing page of
// repairPageSize ids as repairPageSize/listCost documents.
const listCost = 10

// pacer throttles a repair to rate documents per second (DESIGN §12: the
// background repair takes a bounded share of the nodes). A nil pacer, or
// a rate <= 0, does not wait.
type pacer struct {
	rate  float64
	start time.Time
	spent float64
}

func newPacer(rate int) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{rate: float64(rate), start: time.Now()}
}

// wait accounts n documents and waits until the rate allows them.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p == nil {
		return ctx.Err()
	}
	p.spent += float64(n)
	due := p.start.Add(time.Duration(p.spent / p.rate * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
