package history_test

import (
	"testing"

	"github.com/bestbefore/bestbefore/pkg/history"
)

// The commit and branch come from the flags, else the CI's environment
// (a pull request's head branch before the ref name), else git.
func TestDetect(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		name                 string
		commit, branch       string
		vars                 map[string]string
		wantCommit, wantBrch string
	}{
		{"flags win", "abc", "feature", map[string]string{"GITHUB_SHA": "zzz", "GITHUB_REF_NAME": "main"}, "abc", "feature"},
		{"GitHub push", "", "", map[string]string{"GITHUB_SHA": "1234", "GITHUB_REF_NAME": "main"}, "1234", "main"},
		{"GitHub pull request", "", "", map[string]string{"GITHUB_SHA": "1234", "GITHUB_HEAD_REF": "fix-cache", "GITHUB_REF_NAME": "42/merge"}, "1234", "fix-cache"},
		{"GitLab", "", "", map[string]string{"CI_COMMIT_SHA": "feed", "CI_COMMIT_REF_NAME": "main"}, "feed", "main"},
		{"Jenkins", "", "", map[string]string{"GIT_COMMIT": "beef", "GIT_BRANCH": "origin/main"}, "beef", "main"},
	} {
		m := history.Detect(c.commit, c.branch, env(c.vars))
		if m.Commit != c.wantCommit || m.Branch != c.wantBrch {
			t.Errorf("%s: %+v, want %s on %s", c.name, m, c.wantCommit, c.wantBrch)
		}
	}
}
