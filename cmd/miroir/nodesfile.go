package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/miroirsearch/miroir"
)

// parseNodesFile reads change-topology's target: a JSON array of
// {"id","url","group"} when the file starts with [, else one ID=URL or
// ID=URL@GROUP per line (commas may separate several on a line; blank
// lines and lines starting with # are ignored). Every node must be named:
// IDs are identities on the fleet, and a positional name would rename
// every node after a removed line.
func parseNodesFile(data []byte) ([]miroir.Node, error) {
	var out []miroir.Node
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		var err error
		if out, err = parseNodesJSON(trimmed); err != nil {
			return nil, err
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			for part := range strings.SplitSeq(text, ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				n, err := parseNode(part, "")
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
				out = append(out, n)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no nodes in the file")
	}
	// The library refuses these too; saying so here names the lines.
	ids, urls := map[string]bool{}, map[string]string{}
	for _, n := range out {
		if ids[n.ID] {
			return nil, fmt.Errorf("node ID %q appears twice", n.ID)
		}
		ids[n.ID] = true
		u := strings.TrimRight(n.URL, "/")
		if other, dup := urls[u]; dup {
			return nil, fmt.Errorf("nodes %q and %q have the same URL %s", other, n.ID, n.URL)
		}
		urls[u] = n.ID
	}
	return out, nil
}

// fileNode is one node of the JSON form of a nodes file.
type fileNode struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	Group int    `json:"group"`
}

func parseNodesJSON(data []byte) ([]miroir.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var list []fileNode
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("JSON: text after the array")
	}
	out := make([]miroir.Node, 0, len(list))
	for i, f := range list {
		switch {
		case strings.TrimSpace(f.ID) == "":
			return nil, fmt.Errorf("node %d: no \"id\"", i+1)
		case !strings.HasPrefix(f.URL, "http://") && !strings.HasPrefix(f.URL, "https://"):
			return nil, fmt.Errorf("node %q: the url must start with http:// or https://", f.ID)
		case f.Group < 0:
			return nil, fmt.Errorf("node %q: the group must be >= 0", f.ID)
		}
		out = append(out, miroir.Node{ID: f.ID, URL: f.URL, Group: f.Group})
	}
	return out, nil
}

// formatNodes writes nodes in the line form parseNodesFile reads.
func formatNodes(w io.Writer, nodes []miroir.NodeStatus) {
	for _, n := range nodes {
		fmt.Fprintf(w, "%s=%s@%d\n", n.ID, n.URL, n.Group)
	}
}
