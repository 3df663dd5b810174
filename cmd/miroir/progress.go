package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/miroirsearch/miroir"
)

// Progress of a topology change as the command shows it: pure functions
// of a TopologyChange snapshot and the time, so tests pin the text.

// copyFraction is the share of the copy done, in [0, 1], and whether it
// is known: documents copied over copied plus remaining (the copy is the
// long part of a change); done is all.
func copyFraction(p miroir.TopologyChange) (float64, bool) {
	switch {
	case p.Phase == miroir.PhaseDone:
		return 1, true
	case p.Phase == miroir.PhasePrepare:
		return 0, true
	case p.DocumentsRemaining < 0:
		return 0, false
	case p.DocumentsCopied+p.DocumentsRemaining == 0:
		// Nothing to copy (empty shards), or it is all copied.
		if p.Phase == miroir.PhaseCopy {
			return 0, false
		}
		return 1, true
	}
	return float64(p.DocumentsCopied) / float64(p.DocumentsCopied+p.DocumentsRemaining), true
}

// estimator derives the remaining time of the copy from the documents
// copied since its first sample in the copy phase.
type estimator struct {
	at     time.Time
	copied int64
	set    bool
}

// observe records a sample and returns the estimated time left, ok false
// when there is no estimate (not copying, nothing copied yet, remaining
// unknown).
func (e *estimator) observe(p miroir.TopologyChange, now time.Time) (time.Duration, bool) {
	if p.Phase != miroir.PhaseCopy || p.DocumentsRemaining < 0 {
		return 0, false
	}
	if !e.set || p.DocumentsCopied < e.copied {
		// First sample, or the counter restarted (another run resumed).
		e.at, e.copied, e.set = now, p.DocumentsCopied, true
		return 0, false
	}
	dt, dn := now.Sub(e.at), p.DocumentsCopied-e.copied
	if dt <= 0 || dn <= 0 {
		return 0, false
	}
	return time.Duration(float64(p.DocumentsRemaining) * float64(dt) / float64(dn)), true
}

// progressBar is the one terminal line: phase, a bar of the copy, shards
// done, documents and MB copied, the time left; at most width columns.
func progressBar(p miroir.TopologyChange, left time.Duration, leftKnown bool, width int) string {
	const barWidth = 24
	frac, known := copyFraction(p)
	bar := strings.Repeat("?", barWidth)
	pct := "  ?%"
	if known {
		full := int(frac*barWidth + 0.5)
		bar = strings.Repeat("#", full) + strings.Repeat(".", barWidth-full)
		pct = fmt.Sprintf("%3d%%", int(frac*100))
	}
	line := fmt.Sprintf("%-7s [%s] %s  %d/%d shards  %s docs  %s",
		p.Phase, bar, pct, p.ShardsDone, p.ShardsMoving, shortCount(p.DocumentsCopied), megabytes(p.BytesCopied))
	if leftKnown {
		line += "  ~" + roundDuration(left) + " left"
	}
	if width > 1 && len(line) > width-1 {
		// One column spare: a line filling the terminal wraps on some.
		line = line[:width-1]
	}
	return line
}

// progressLine is the plain form of a progress report, for logs.
func progressLine(p miroir.TopologyChange, since time.Duration, left time.Duration, leftKnown bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] epoch %d -> %d, phase %s: %d of %d moving shards done, %d documents (%s) copied",
		roundDuration(since), p.FromEpoch, p.Epoch, p.Phase, p.ShardsDone, p.ShardsMoving, p.DocumentsCopied, megabytes(p.BytesCopied))
	if p.DocumentsRemaining >= 0 && p.Phase != miroir.PhaseDone {
		fmt.Fprintf(&b, ", %d remaining", p.DocumentsRemaining)
	}
	if leftKnown {
		fmt.Fprintf(&b, " (~%s left)", roundDuration(left))
	}
	return b.String()
}

// reporter writes progress as it comes: on a terminal one line redrawn in
// place, else a plain line at each phase change and every `every`.
type reporter struct {
	w      io.Writer
	tty    bool
	width  int
	every  time.Duration
	start  time.Time
	est    estimator
	phase  string
	epoch  int64
	last   time.Time
	drawn  bool   // a bar is on the current line
	bar    string // the bar drawn
	latest *miroir.TopologyChange
}

// update shows p, observed at now.
func (r *reporter) update(p miroir.TopologyChange, now time.Time) {
	r.latest = &p
	left, ok := r.est.observe(p, now)
	if r.tty {
		// The same line again is not redrawn: no flicker, no bytes.
		if line := progressBar(p, left, ok, r.width); !r.drawn || line != r.bar {
			fmt.Fprintf(r.w, "\r%s\x1b[K", line)
			r.bar, r.drawn = line, true
		}
		return
	}
	if p.Phase == r.phase && p.Epoch == r.epoch && now.Sub(r.last) < r.every {
		return
	}
	r.phase, r.epoch, r.last = p.Phase, p.Epoch, now
	fmt.Fprintln(r.w, progressLine(p, now.Sub(r.start), left, ok))
}

// endLine ends the bar's line, if one is drawn, so that what follows
// starts on a line of its own.
func (r *reporter) endLine() {
	if r.drawn {
		fmt.Fprintln(r.w)
		r.drawn = false
	}
}

// println prints a message on a line of its own.
func (r *reporter) println(format string, args ...any) {
	r.endLine()
	fmt.Fprintf(r.w, format+"\n", args...)
}

// shortCount prints 1234567 as 1.2M: the bar has no room for digits.
func shortCount(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	case n >= 1000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func megabytes(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// roundDuration keeps an estimate's digits meaningful.
func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
