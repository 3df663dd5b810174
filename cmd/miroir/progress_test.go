package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miroirsearch/miroir"
)

func TestParseNodesFile(t *testing.T) {
	lines := "# the fleet, grown by one\n\nnode-1=http://a:7700\n node-2=http://b:7700@0 \nnode-3=http://c:7700@1, node-4=https://d/x@1\n"
	got, err := parseNodesFile([]byte(lines))
	if err != nil {
		t.Fatal(err)
	}
	want := []miroir.Node{
		{ID: "node-1", URL: "http://a:7700"}, {ID: "node-2", URL: "http://b:7700"},
		{ID: "node-3", URL: "http://c:7700", Group: 1}, {ID: "node-4", URL: "https://d/x", Group: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines: got %+v, want %+v", got, want)
	}
	js := `[{"id":"node-1","url":"http://a:7700"},{"id":"node-2","url":"http://b:7700","group":0},
	        {"id":"node-3","url":"http://c:7700","group":1},{"id":"node-4","url":"https://d/x","group":1}]`
	got, err = parseNodesFile([]byte("\n " + js + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("JSON: got %+v, want %+v", got, want)
	}

	// What formatNodes writes, parseNodesFile reads back.
	var status []miroir.NodeStatus
	for _, n := range want {
		status = append(status, miroir.NodeStatus{ID: n.ID, URL: n.URL, Group: n.Group})
	}
	var b bytes.Buffer
	formatNodes(&b, status)
	if got, err = parseNodesFile(b.Bytes()); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("round trip of\n%s: %+v, %v", b.String(), got, err)
	}

	for _, bad := range []struct{ text, says string }{
		{"", "no nodes"},
		{"# only a comment\n\n", "no nodes"},
		{"node-1=http://a:7700\nhttp://b:7700\n", "line 2"},           // unnamed: identity by position is refused
		{"node-1=http://a:7700\n=http://b:7700\n", "empty ID"},        // empty ID
		{"node-1=a:7700\n", "http://"},                                // no scheme
		{"node-1=http://a:7700@x\n", "group"},                         // group not a number
		{"node-1=http://a:7700\nnode-1=http://b:7700\n", "twice"},     // duplicate ID
		{"node-1=http://a:7700\nnode-2=http://a:7700/\n", "same URL"}, // duplicate URL
		{`[{"id":"a","url":"http://a","grp":1}]`, "unknown field"},    // misspelt field
		{`[{"url":"http://a"}]`, `no "id"`},                           // no id
		{`[{"id":"a","url":"a:7700"}]`, "http://"},                    // no scheme
		{`[{"id":"a","url":"http://a","group":-1}]`, "group"},         // negative group
		{`[{"id":"a","url":"http://a"}] x`, "after the array"},        // trailing text
		{`[{"id":"a","url":"http://a"},{"id":"a","url":"http://b"}]`, "twice"},
	} {
		_, err := parseNodesFile([]byte(bad.text))
		if err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%q: error %v, want one saying %q", bad.text, err, bad.says)
		}
	}
}

func TestProgressRendering(t *testing.T) {
	p := miroir.TopologyChange{
		FromEpoch: 1, Epoch: 2, Phase: miroir.PhaseCopy, ShardsMoving: 12, ShardsDone: 3,
		DocumentsCopied: 12_345, BytesCopied: 4_100_000, DocumentsRemaining: 37_035,
	}
	bar := progressBar(p, 80*time.Second, true, 100)
	if want := "copy    [######..................]  25%  3/12 shards  12k docs  4.1 MB  ~1m20s left"; bar != want {
		t.Errorf("bar:\n got %q\nwant %q", bar, want)
	}
	// The bar never fills the terminal's last column (it would wrap).
	if narrow := progressBar(p, 80*time.Second, true, 40); len(narrow) != 39 || !strings.HasPrefix(bar, narrow) {
		t.Errorf("narrow bar %q", narrow)
	}
	unknown := p
	unknown.DocumentsRemaining = -1
	if bar := progressBar(unknown, 0, false, 100); !strings.Contains(bar, "[????????????????????????]   ?%") || strings.Contains(bar, "left") {
		t.Errorf("bar with nothing known: %q", bar)
	}
	done := p
	done.Phase, done.ShardsDone, done.DocumentsRemaining = miroir.PhaseDone, 12, 0
	if bar := progressBar(done, 0, false, 100); !strings.HasPrefix(bar, "done    [########################] 100%  12/12 shards") {
		t.Errorf("done bar: %q", bar)
	}

	line := progressLine(p, 42*time.Second, 80*time.Second, true)
	if want := "[42s] epoch 1 -> 2, phase copy: 3 of 12 moving shards done, 12345 documents (4.1 MB) copied, 37035 remaining (~1m20s left)"; line != want {
		t.Errorf("line:\n got %q\nwant %q", line, want)
	}
	if line := progressLine(unknown, 1500*time.Millisecond, 0, false); line != "[1.5s] epoch 1 -> 2, phase copy: 3 of 12 moving shards done, 12345 documents (4.1 MB) copied" {
		t.Errorf("line with nothing known: %q", line)
	}

	for n, want := range map[int64]string{999: "999", 1234: "1.2k", 12_345: "12k", 1_234_567: "1.2M", 12_345_678: "12M"} {
		if got := shortCount(n); got != want {
			t.Errorf("shortCount(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestEstimator: the time left is the remaining documents at the rate
// observed since the first sample of the copy.
func TestEstimator(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := miroir.TopologyChange{Phase: miroir.PhasePrepare, DocumentsRemaining: 1000}
	var e estimator
	if _, ok := e.observe(p, t0); ok {
		t.Fatal("an estimate before the copy")
	}
	p.Phase = miroir.PhaseCopy
	p.DocumentsCopied, p.DocumentsRemaining = 100, 900
	if _, ok := e.observe(p, t0); ok {
		t.Fatal("an estimate from one sample")
	}
	p.DocumentsCopied, p.DocumentsRemaining = 200, 800
	if left, ok := e.observe(p, t0.Add(time.Second)); !ok || left != 8*time.Second {
		t.Fatalf("100 documents a second, 800 remaining: %v %v, want 8s", left, ok)
	}
	p.DocumentsCopied, p.DocumentsRemaining = 400, 600
	if left, ok := e.observe(p, t0.Add(2*time.Second)); !ok || left != 4*time.Second {
		t.Fatalf("150 documents a second, 600 remaining: %v %v, want 4s", left, ok)
	}
	p.DocumentsRemaining = -1
	if _, ok := e.observe(p, t0.Add(3*time.Second)); ok {
		t.Fatal("an estimate with the remaining documents unknown")
	}
}

// TestReporterPlain: plain output is one line per phase change and one
// every `every` within a phase, never a carriage return.
func TestReporterPlain(t *testing.T) {
	var b bytes.Buffer
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &reporter{w: &b, every: 10 * time.Second, start: t0}
	p := miroir.TopologyChange{FromEpoch: 1, Epoch: 2, ShardsMoving: 4, DocumentsRemaining: -1, Phase: miroir.PhasePrepare}
	r.update(p, t0)
	r.update(p, t0.Add(time.Second)) // same phase, too soon
	p.Phase = miroir.PhaseCopy
	r.update(p, t0.Add(2*time.Second))
	p.DocumentsCopied = 50
	r.update(p, t0.Add(5*time.Second))  // too soon
	r.update(p, t0.Add(12*time.Second)) // 10 s after the last line
	p.Phase = miroir.PhaseRetire
	r.update(p, t0.Add(13*time.Second))
	r.println("done")
	want := "[0s] epoch 1 -> 2, phase prepare: 0 of 4 moving shards done, 0 documents (0.0 MB) copied\n" +
		"[2s] epoch 1 -> 2, phase copy: 0 of 4 moving shards done, 0 documents (0.0 MB) copied\n" +
		"[12s] epoch 1 -> 2, phase copy: 0 of 4 moving shards done, 50 documents (0.0 MB) copied\n" +
		"[13s] epoch 1 -> 2, phase retire: 0 of 4 moving shards done, 50 documents (0.0 MB) copied\n" +
		"done\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestReporterTerminal: on a terminal every update redraws one line in
// place; a message afterwards starts on a line of its own.
func TestReporterTerminal(t *testing.T) {
	var b bytes.Buffer
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &reporter{w: &b, tty: true, width: 80, every: 10 * time.Second, start: t0}
	p := miroir.TopologyChange{Epoch: 2, ShardsMoving: 4, Phase: miroir.PhaseCopy, DocumentsRemaining: 100}
	r.update(p, t0)
	r.update(p, t0.Add(100*time.Millisecond)) // the same line: not redrawn
	p.DocumentsCopied, p.DocumentsRemaining = 50, 50
	r.update(p, t0.Add(time.Second))
	out := b.String()
	if strings.Contains(out, "\n") || strings.Count(out, "\r") != 2 || strings.Count(out, "\x1b[K") != 2 {
		t.Fatalf("redraws: %q", out)
	}
	if !strings.HasSuffix(out, "\rcopy    [############............]  50%  0/4 shards  50 docs  0.0 MB  ~1s left\x1b[K") {
		t.Fatalf("last redraw: %q", out)
	}
	r.println("done")
	if !strings.HasSuffix(b.String(), "\x1b[K\ndone\n") {
		t.Fatalf("message after the bar: %q", b.String())
	}
	b.Reset()
	r.println("again")
	if b.String() != "again\n" {
		t.Fatalf("a second message: %q", b.String())
	}
}

func TestDiffNodes(t *testing.T) {
	cur := []miroir.NodeStatus{{ID: "a", URL: "http://a", Group: 0}, {ID: "b", URL: "http://b"}, {ID: "c", URL: "http://c"}}
	target := []miroir.NodeStatus{{ID: "a", URL: "http://a2"}, {ID: "b", URL: "http://b", Group: 1}, {ID: "d", URL: "http://d"}}
	got := strings.Join(diffNodes(cur, target), "\n")
	want := "~ a http://a -> http://a2\n~ b group 0 -> 1\n+ d (group 0) http://d\n- c (group 0) http://c"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if d := diffNodes(cur, cur); len(d) != 0 {
		t.Fatalf("no change: %v", d)
	}
}
