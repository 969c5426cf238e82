// Package kubernetes_test holds the Kubernetes manifests to what a cluster
// accepts and what bestbefore relies on: every document decodes strictly
// into the k8s.io/api types (a typo or a misplaced field fails), every pod
// passes Pod Security "restricted" as the admission controller's own
// checks evaluate it, and the containers' arguments, expanded as the
// kubelet expands them, are a valid sharded run and merge. It is a module
// of its own so that the Kubernetes libraries stay out of bestbefore's.
package kubernetes_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/shard"
)

// manifests holds the objects of each file, decoded strictly by kind.
type manifests struct {
	jobs map[string]*batchv1.Job
	pods map[string]*corev1.Pod
	pvcs map[string]*corev1.PersistentVolumeClaim
	cms  map[string]*corev1.ConfigMap
}

var files = []string{"indexed-job.yaml", "merge-job.yaml", "report-pod.yaml"}

func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{jobs: map[string]*batchv1.Job{}, pods: map[string]*corev1.Pod{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}, cms: map[string]*corev1.ConfigMap{}}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", name, i+1, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			case "v1 Pod":
				obj = &corev1.Pod{}
			case "v1 PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			default:
				t.Fatalf("%s document %d: unexpected %s %s", name, i+1, tm.APIVersion, tm.Kind)
			}
			// Strict: an unknown or misplaced field is an error, as
			// kubectl apply --validate=strict makes it.
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", name, i+1, tm.Kind, err)
			}
			switch o := obj.(type) {
			case *batchv1.Job:
				m.jobs[o.Name] = o
			case *corev1.Pod:
				m.pods[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				m.pvcs[o.Name] = o
			case *corev1.ConfigMap:
				m.cms[o.Name] = o
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// podSpecs are every pod the manifests create, by a name for messages.
func (m *manifests) podSpecs() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for n, j := range m.jobs {
		out["Job/"+n] = &j.Spec.Template
	}
	for n, p := range m.pods {
		out["Pod/"+n] = &corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
	}
	return out
}

// Every pod passes Pod Security "restricted", evaluated by the admission
// controller's own checks, and runs the image's binary without a shell.
func TestPodSecurityRestricted(t *testing.T) {
	m := load(t)
	if len(m.jobs) != 2 || len(m.pods) != 1 {
		t.Fatalf("%d jobs and %d pods, want the shards' and the merge's Jobs and the report Pod", len(m.jobs), len(m.pods))
	}
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	for name, tmpl := range m.podSpecs() {
		res := policy.AggregateCheckResults(ev.EvaluatePod(lv, &tmpl.ObjectMeta, &tmpl.Spec))
		if !res.Allowed {
			t.Errorf("%s is refused by Pod Security restricted: %s", name, res.ForbiddenDetail())
		}
		for _, c := range tmpl.Spec.Containers {
			if len(c.Command) > 0 {
				t.Errorf("%s: container %s sets command %q: the image's entrypoint (/bestbefore) runs, and the image has no shell", name, c.Name, c.Command)
			}
			if strings.Contains(strings.Join(c.Args, " "), "/bin/sh") {
				t.Errorf("%s: args need a shell: %q", name, c.Args)
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: container %s: root filesystem not read-only", name, c.Name)
			}
			if !strings.HasPrefix(c.Image, "ghcr.io/bestbefore/bestbefore:v") || strings.HasSuffix(c.Image, ":latest") {
				t.Errorf("%s: image %q is not a pinned release", name, c.Image)
			}
			if c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("%s: imagePullPolicy %q: a pinned tag needs no pull on every start", name, c.ImagePullPolicy)
			}
		}
	}
}

// expand does what the kubelet does to a container's args: $(NAME) is the
// value of env NAME when the container defines it, $$ is $.
func expand(s string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			if s[i+1] == '$' {
				b.WriteByte('$')
				i++
				continue
			}
			if s[i+1] == '(' {
				if j := strings.IndexByte(s[i:], ')'); j > 0 {
					if v, ok := env[s[i+2:i+j]]; ok {
						b.WriteString(v)
						i += j
						continue
					}
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func flags(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "--") {
			out[args[i]] = args[i+1]
		}
	}
	return out
}

// containerEnv is the env a pod of index i sees: the values set, START_AT
// as envsubst fills it in, the completion index from the annotation the
// Job controller sets (and JOB_COMPLETION_INDEX, which it also sets).
func containerEnv(t *testing.T, c corev1.Container, index int) map[string]string {
	env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(index)}
	for _, e := range c.Env {
		switch {
		case e.Value == "${START_AT}":
			env[e.Name] = "2026-11-25T14:00:00Z"
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			if e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
				t.Errorf("env %s from %s: want the completion index annotation", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env[e.Name] = strconv.Itoa(index)
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

func TestIndexedJob(t *testing.T) {
	m := load(t)
	job := m.jobs["bestbefore-shards"]
	if job == nil {
		t.Fatal("no Job bestbefore-shards in indexed-job.yaml")
	}
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode %v, want Indexed", job.Spec.CompletionMode)
	}
	if job.Spec.Completions == nil || job.Spec.Parallelism == nil || *job.Spec.Completions != *job.Spec.Parallelism || *job.Spec.Completions < 1 {
		t.Fatal("completions and parallelism must both be set to the shard count: every shard runs at once")
	}
	n := int(*job.Spec.Completions)
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 || job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("a retried shard starts late: want backoffLimit 0 and restartPolicy Never")
	}
	if job.Spec.TTLSecondsAfterFinished == nil {
		t.Errorf("no ttlSecondsAfterFinished: finished Jobs would pile up")
	}
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	if mounts["/tmp"] == "" {
		t.Errorf("no writable /tmp under a read-only root filesystem")
	}
	claim := ""
	for _, v := range pod.Volumes {
		if v.Name == mounts["/results"] && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	pvc := m.pvcs[claim]
	if pvc == nil {
		t.Fatalf("/results is not a claim defined in the files")
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("claim %s access modes %v, want ReadWriteMany: shards on several nodes write to it", claim, pvc.Spec.AccessModes)
	}
	cm := m.cms["bestbefore-scenario"]
	if cm == nil || cm.Data["scenario.yaml"] == "" || cm.Data["traffic.ndjson"] == "" {
		t.Fatal("no scenario and traffic in ConfigMap bestbefore-scenario")
	}
	if _, err := scenario.Parse([]byte(cm.Data["scenario.yaml"]), "indexed-job.yaml#scenario.yaml", t.TempDir(), nil); err != nil {
		t.Errorf("the shipped scenario is invalid: %v", err)
	}
	if lines := strings.Count(strings.TrimSpace(cm.Data["traffic.ndjson"]), "\n") + 1; lines < n {
		t.Errorf("%d traffic lines for %d shards: some shard would get none", lines, n)
	}
	// Each pod, its args expanded: shard i+1 of n, the same start, its own
	// output under the run's directory on the claim.
	merge := m.jobs["bestbefore-merge"].Spec.Template.Spec.Containers[0]
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		env := containerEnv(t, c, i)
		var args []string
		for _, a := range c.Args {
			args = append(args, expand(a, env))
		}
		if args[0] != "run" {
			t.Fatalf("index %d runs %q, want run", i, args)
		}
		got := flags(args)
		spec, err := shard.ParseSpec(got["--shard"], func(k string) string { return env[k] })
		if err != nil || spec.Index != i+1 || spec.Count != n {
			t.Errorf("index %d runs --shard %q (%v, %v), want %d/%d", i, got["--shard"], spec, err, i+1, n)
		}
		if got["--start-at"] != "2026-11-25T14:00:00Z" {
			t.Errorf("index %d: --start-at %q", i, got["--start-at"])
		}
		out := got["--out"]
		if seen[out] || !strings.HasPrefix(out, "/results/2026-11-25T14:00:00Z/") {
			t.Errorf("index %d writes to %s: want its own directory under the run's", i, out)
		}
		seen[out] = true
		// The merge's pattern, as it expands it, reads this shard.
		menv := containerEnv(t, merge, 0)
		pattern := expand(merge.Args[1], menv)
		if ok, _ := filepath.Match(pattern, out+"/result.json"); !ok {
			t.Errorf("merge reads %s, which does not match shard %d's %s/result.json", pattern, i+1, out)
		}
	}
	if v := containerEnv(t, c, 0)["SHARDS"]; v != strconv.Itoa(n) {
		t.Errorf("SHARDS = %q, want the completions, %d", v, n)
	}
}

func TestMergeAndReport(t *testing.T) {
	m := load(t)
	mc := m.jobs["bestbefore-merge"].Spec.Template.Spec.Containers[0]
	env := containerEnv(t, mc, 0)
	var args []string
	for _, a := range mc.Args {
		args = append(args, expand(a, env))
	}
	if args[0] != "merge" || flags(args)["--out"] != "/results/2026-11-25T14:00:00Z/merged" {
		t.Errorf("merge args %q", args)
	}
	rp := m.pods["bestbefore-report"].Spec.Containers[0]
	env = containerEnv(t, rp, 0)
	if got := expand(rp.Args[1], env); rp.Args[0] != "report" || got != "/results/2026-11-25T14:00:00Z/merged/result.json" {
		t.Errorf("report reads %q, not the merged result", got)
	}
}

// wait-job.sh ends as soon as the Job is Complete (0) or Failed (1), and
// at its timeout otherwise (2), with a stand-in kubectl.
func TestWaitJob(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	for state, want := range map[string]int{"Complete": 0, "Failed": 1, "": 2} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "kubectl"), []byte("#!/bin/sh\nprintf '%s' '"+state+"'\n"), 0o755)
		cmd := exec.Command("sh", "wait-job.sh", "bestbefore-shards", "1s")
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Errorf("state %q: exit %d (%s), want %d", state, code, stderr.String(), want)
		}
	}
}
