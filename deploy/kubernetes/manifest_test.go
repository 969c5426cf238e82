// Package kubernetes_test checks the Kubernetes manifests against what
// bestbefore relies on, so they cannot drift from the command line.
package kubernetes_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/shard"
)

type envVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type mount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
}

type container struct {
	Name         string   `yaml:"name"`
	Command      []string `yaml:"command"`
	Args         []string `yaml:"args"`
	Env          []envVar `yaml:"env"`
	VolumeMounts []mount  `yaml:"volumeMounts"`
}

type volume struct {
	Name                  string `yaml:"name"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
}

type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		// Job
		CompletionMode string `yaml:"completionMode"`
		Completions    *int   `yaml:"completions"`
		Parallelism    *int   `yaml:"parallelism"`
		BackoffLimit   *int   `yaml:"backoffLimit"`
		Template       struct {
			Spec struct {
				RestartPolicy string      `yaml:"restartPolicy"`
				Containers    []container `yaml:"containers"`
				Volumes       []volume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// PersistentVolumeClaim
		AccessModes []string `yaml:"accessModes"`
	} `yaml:"spec"`
}

func load(t *testing.T, name string) map[string]*object {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	objs := map[string]*object{}
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		objs[o.Kind+"/"+o.Metadata.Name] = &o
	}
	return objs
}

func env(c container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func TestIndexedJob(t *testing.T) {
	objs := load(t, "indexed-job.yaml")
	job := objs["Job/bestbefore-shards"]
	if job == nil {
		t.Fatalf("no Job bestbefore-shards in indexed-job.yaml (have %v)", keys(objs))
	}
	if job.APIVersion != "batch/v1" || job.Spec.CompletionMode != "Indexed" {
		t.Errorf("job: apiVersion %q completionMode %q, want batch/v1 Indexed", job.APIVersion, job.Spec.CompletionMode)
	}
	if job.Spec.Completions == nil || job.Spec.Parallelism == nil {
		t.Fatal("completions and parallelism must both be set to the shard count")
	}
	if c, p := *job.Spec.Completions, *job.Spec.Parallelism; c != p || c < 1 {
		t.Fatalf("completions %d and parallelism %d must be equal: every shard runs at once", c, p)
	}
	n := *job.Spec.Completions
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 || job.Spec.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("a retried shard starts late: want backoffLimit 0 and restartPolicy Never")
	}
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if v, _ := env(c, "SHARDS"); v != strconv.Itoa(n) {
		t.Errorf("SHARDS = %q, want the completions, %d", v, n)
	}
	if v, _ := env(c, "START_AT"); v != "${START_AT}" {
		t.Errorf("START_AT = %q, want the ${START_AT} placeholder envsubst fills in", v)
	}
	script := strings.Join(c.Args, " ")
	for _, w := range []string{"bestbefore run", "--shard", "--start-at", "--out", "JOB_COMPLETION_INDEX"} {
		if !strings.Contains(script, w) {
			t.Errorf("container args %q do not contain %q", script, w)
		}
	}
	// --out is on a mounted, shared volume.
	out := flagValue(t, script, "--out")
	var resultsMount *mount
	for i, m := range c.VolumeMounts {
		if strings.HasPrefix(out, strings.TrimSuffix(m.MountPath, "/")+"/") {
			resultsMount = &c.VolumeMounts[i]
		}
	}
	if resultsMount == nil {
		t.Fatalf("--out %s is not under any volume mount %v: the results would be lost with the pod", out, c.VolumeMounts)
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.Name == resultsMount.Name && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	pvc := objs["PersistentVolumeClaim/"+claim]
	if claim == "" || pvc == nil {
		t.Fatalf("the results volume %q is not a claim defined in the file", resultsMount.Name)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != "ReadWriteMany" {
		t.Errorf("claim %s access modes %v, want ReadWriteMany: shards on several nodes write to it", claim, pvc.Spec.AccessModes)
	}
	// The scenario in the ConfigMap is valid.
	cm := objs["ConfigMap/bestbefore-scenario"]
	if cm == nil || cm.Data["scenario.yaml"] == "" || cm.Data["traffic.ndjson"] == "" {
		t.Fatal("no scenario and traffic in ConfigMap bestbefore-scenario")
	}
	if _, err := scenario.Parse([]byte(cm.Data["scenario.yaml"]), "indexed-job.yaml#scenario.yaml", t.TempDir(), nil); err != nil {
		t.Errorf("the shipped scenario is invalid: %v", err)
	}
	if lines := strings.Count(strings.TrimSpace(cm.Data["traffic.ndjson"]), "\n") + 1; lines < n {
		t.Errorf("%d traffic lines for %d shards: some shard would get none", lines, n)
	}

	// Run the container's shell command with a stand-in for bestbefore, as
	// each pod would: shard flags 1/n..n/n, outputs distinct.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the container command")
	}
	cmdline := strings.TrimSpace(strings.Join(c.Args, " "))
	cmdline = strings.TrimPrefix(cmdline, "exec ")
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		cmd := exec.Command(sh, "-c", `bestbefore() { printf '%s\n' "$@"; }; `+cmdline)
		cmd.Env = []string{"JOB_COMPLETION_INDEX=" + strconv.Itoa(i), "SHARDS=" + strconv.Itoa(n), "START_AT=2026-11-25T14:00:00Z", "PATH=" + os.Getenv("PATH")}
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("index %d: %v", i, err)
		}
		args := strings.Split(strings.TrimSpace(string(b)), "\n")
		got := map[string]string{}
		for j := 0; j+1 < len(args); j++ {
			if strings.HasPrefix(args[j], "--") {
				got[args[j]] = args[j+1]
			}
		}
		spec, err := shard.ParseSpec(got["--shard"])
		if err != nil || spec.Index != i+1 || spec.Count != n {
			t.Errorf("index %d runs --shard %q (%v), want %d/%d", i, got["--shard"], err, i+1, n)
		}
		if got["--start-at"] != "2026-11-25T14:00:00Z" {
			t.Errorf("index %d: --start-at %q", i, got["--start-at"])
		}
		if seen[got["--out"]] {
			t.Errorf("index %d writes to %s like another shard", i, got["--out"])
		}
		seen[got["--out"]] = true
		if m, _ := filepath.Match("/results/shard-*", got["--out"]); !m {
			t.Errorf("index %d writes to %s, not where merge-job.yaml reads", i, got["--out"])
		}
	}
}

func TestMergeJobReadsTheShards(t *testing.T) {
	objs := load(t, "merge-job.yaml")
	job := objs["Job/bestbefore-merge"]
	if job == nil {
		t.Fatalf("no Job bestbefore-merge (have %v)", keys(objs))
	}
	c := job.Spec.Template.Spec.Containers[0]
	script := strings.Join(c.Args, " ")
	if !strings.Contains(script, "bestbefore merge /results/shard-*/result.json") || !strings.Contains(script, "--out /results/") {
		t.Errorf("merge args %q do not merge the shards' results into /results", script)
	}
	if len(c.VolumeMounts) == 0 || c.VolumeMounts[0].MountPath != "/results" {
		t.Errorf("merge does not mount /results: %v", c.VolumeMounts)
	}
	v := job.Spec.Template.Spec.Volumes
	if len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != "bestbefore-results" {
		t.Errorf("merge does not read the shards' claim: %+v", v)
	}
}

func flagValue(t *testing.T, script, flag string) string {
	t.Helper()
	f := strings.Fields(script)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == flag {
			return strings.Trim(f[i+1], `"'`)
		}
	}
	t.Fatalf("no %s in %q", flag, script)
	return ""
}

func keys(m map[string]*object) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
