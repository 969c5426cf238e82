package history

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// Detect fills in the commit and branch a run is stored with, when not
// given: from the CI's environment (GitHub Actions, GitLab, Buildkite,
// Jenkins), then from git in the working directory.
func Detect(commit, branch string, getenv func(string) string) Meta {
	first := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	m := Meta{Commit: commit, Branch: branch}
	if m.Commit == "" {
		m.Commit = first("GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "GIT_COMMIT")
	}
	if m.Branch == "" {
		m.Branch = first("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH", "GIT_BRANCH")
		m.Branch = strings.TrimPrefix(m.Branch, "origin/")
	}
	git := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if m.Commit == "" {
		m.Commit = git("rev-parse", "HEAD")
	}
	if m.Branch == "" {
		if b := git("rev-parse", "--abbrev-ref", "HEAD"); b != "HEAD" {
			m.Branch = b
		}
	}
	return m
}
