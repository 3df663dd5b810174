package miroir

// What the repository promises around the code: the README's
// compatibility table covers every interface method, its first command is
// the quickstart and runs, and every dependency has a written reason.

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func TestAuditCoreReadmeCompatibilityTable(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, iface := range []reflect.Type{
		reflect.TypeOf((*meilisearch.ServiceManager)(nil)).Elem(),
		reflect.TypeOf((*meilisearch.IndexManager)(nil)).Elem(),
	} {
		settings := reflect.TypeOf((*meilisearch.SettingsManager)(nil)).Elem()
		for i := 0; i < iface.NumMethod(); i++ {
			name := iface.Method(i).Name
			if strings.Contains(readme, "`"+name+"`") || strings.Contains(readme, "`"+name+"(") {
				continue
			}
			// Rows may name a family: "every `Update…`/`Reset…` setting",
			// "`…NdjsonInBatches`".
			covered := false
			for j := 1; j < len(name); j++ {
				if strings.Contains(readme, "`…"+name[j:]+"`") {
					covered = true
				}
			}
			if _, ok := settings.MethodByName(name); ok {
				for _, p := range []string{"Get", "Update", "Reset"} {
					if strings.HasPrefix(name, p) && strings.Contains(readme, "every `"+p+"…`") || strings.Contains(readme, "`"+p+"…` setting") && strings.HasPrefix(name, p) {
						covered = true
					}
				}
			}
			if !covered {
				t.Errorf("README compatibility table lacks %s.%s", iface.Name(), name)
			}
		}
	}
	// The quickstart is the README's first command.
	i := strings.Index(readme, "```sh")
	if i < 0 {
		i = strings.Index(readme, "```bash")
	}
	if i < 0 {
		t.Fatal("no shell block in README")
	}
	block := readme[i:]
	block = block[strings.Index(block, "\n")+1:]
	first := strings.TrimSpace(strings.SplitN(block, "\n", 2)[0])
	if !strings.HasPrefix(first, "go run ./examples/quickstart") {
		t.Errorf("README's first command is %q, want go run ./examples/quickstart", first)
	}
}

func TestAuditCoreDependencies(t *testing.T) {
	raw, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile("README.md")
	allowed := []string{"github.com/meilisearch/meilisearch-go", "github.com/cespare/xxhash/v2", "golang.org/x/sync", "github.com/hashicorp/go-retryablehttp"}
	inRequire := false
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "require ("):
			inRequire = true
			continue
		case line == ")":
			inRequire = false
			continue
		}
		var mod string
		if strings.HasPrefix(line, "require ") && !strings.HasSuffix(line, "(") {
			mod = strings.Fields(line)[1]
		} else if inRequire && line != "" {
			mod = strings.Fields(line)[0]
		}
		if mod == "" || strings.Contains(line, "// indirect") || slices.Contains(allowed, mod) {
			continue
		}
		if !strings.Contains(string(readme), mod) {
			t.Errorf("go.mod requires %s without a written reason in the README", mod)
		}
	}
	if !strings.Contains(string(raw), "github.com/meilisearch/meilisearch-go v0.37.") {
		t.Errorf("meilisearch-go is not v0.37.x")
	}
}

func TestAuditCoreQuickstartRuns(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go tool not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./examples/quickstart")
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "MEILI_URLS=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "succeeded") || strings.Count(s, "shards=") < 3 {
		t.Errorf("quickstart output lacks the task outcome or the per-node shard distribution:\n%s", s)
	}
}
